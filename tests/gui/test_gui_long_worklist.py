"""A long worklist in the window: it lists every row at once but reads full records only for the rows shown, and
sorting, filtering and scrolling work from the rows' list entries (record_list.py)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from sqlalchemy import insert, select

from ran_desktop.engine.imaging.loading import Eye, ImageMetadata
from ran_desktop.engine.records.data_folder import utc_now
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.rows import result_row
from ran_desktop.engine.records.storage import open_storage
from ran_desktop.engine.records.tables import images
from ran_desktop.gui.results_model import Column

COUNT = 3000
_MODEL = ModelInfo("ran18-real", "0.5.0", "IDRiD", True, True, "not validated", "CPU", referable_threshold=0.5)


def _result(i: int) -> ScreeningResult:
    """Image i: DR grade i % 5 (certain), no DME, alternate eyes, two images per patient."""
    dr = [0.0] * 5
    dr[i % 5] = 1.0
    meta = ImageMetadata(source_format="JPEG", original_size=(640, 480), bit_depth=8, color_model="RGB",
                         eye=Eye.RIGHT if i % 2 else Eye.LEFT, patient_id=f"P{i // 2:05d}")
    return ScreeningResult(f"/archive/{i:05d}.jpg", Path(f"/archive/{i:05d}.jpg"), Status.SCREENED, _MODEL,
                           metadata=meta, dr_probs=tuple(dr), dme_probs=(1.0, 0.0, 0.0))


def _long_session(data_dir: Path) -> None:
    with open_storage(data_dir) as store:
        session = store.current_session()
        now = utc_now()
        with store._transaction() as db:  # one transaction: 3,000 commits would take the test's time
            db.execute(insert(images), [{**result_row(session, _result(i), now), "screen_order": i + 1}
                                        for i in range(COUNT)])
            assert len(db.execute(select(images.c.id)).all()) == COUNT


def test_a_long_worklist_reads_only_the_rows_shown(open_window, data_dir, qtbot):
    _long_session(data_dir)
    window = open_window(ready=False)
    results, proxy, table = window.results, window.proxy, window.workspace.table
    qtbot.waitUntil(lambda: results.rowCount() == COUNT)
    qtbot.wait(50)
    assert 0 < results.records_read() <= 400  # the page around the first rows, not 3,000 records

    table.sortByColumn(Column.DR, Qt.SortOrder.DescendingOrder)
    top = [proxy.mapToSource(proxy.index(row, 0)).row() for row in range(5)]
    assert [results.entry(row).grades[0] for row in top] == [4] * 5
    assert proxy.data(proxy.index(0, Column.DR)) == "4 PDR"  # drawn from the record read for the row shown
    proxy.set_filters(referable=True)
    assert proxy.rowCount() == COUNT * 3 // 5  # DR 2, 3 and 4
    assert results.records_read() < COUNT // 2

    proxy.set_filters(referable=False)
    table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
    table.scrollToBottom()
    last = proxy.index(COUNT - 1, Column.FILE)
    assert proxy.data(last) == f"{COUNT - 1:05d}.jpg" and results.record(COUNT - 1).image_id == COUNT
    assert results.records_read() < COUNT // 2


def test_the_patient_view_of_a_long_worklist_groups_from_entries_in_a_worker(open_window, data_dir, qtbot):
    """The Patients tab on a long session: grouped from the rows' entries in a worker thread (the window's event
    loop keeps running meanwhile), full records read only for the rows drawn and the selected patient, and, beyond
    `expand_all_up_to` patients, patients folded until one of their images is chosen."""
    _long_session(data_dir)
    window = open_window(ready=False)
    results, patients = window.results, window.workspace.patients
    qtbot.waitUntil(lambda: results.rowCount() == COUNT)
    patients.group_in_worker_from = 1000  # the thresholds a 100,000-image session crosses, at this test's size
    patients.expand_all_up_to = 1000
    read_before = results.records_read()
    with qtbot.waitSignal(patients.regrouped, timeout=20_000):
        window.workspace.list_tabs.setCurrentWidget(patients)
        assert patients.grouping and not patients.groups  # handed to the worker: the GUI thread went on at once
    assert len(patients.groups) == COUNT // 2 and all(len(g.records) == 2 for g in patients.groups)
    tree, model = patients.tree, patients.model
    assert not any(tree.isExpanded(model.index(row, 0)) for row in range(model.rowCount()))  # 1,500 > 1,000
    first = model.index(0, 0)
    assert first.data() == "P00000" and model.index(0, 1).data() == "Routine rescreening"  # DR 0 and DR 1
    assert results.records_read() - read_before <= 400

    # An image chosen in the list unfolds its patient, whose summary reads that patient's records
    window.select_key(results.entry(2001).key)
    qtbot.waitUntil(lambda: tree.currentIndex().isValid())
    patient = tree.currentIndex().parent()
    assert tree.isExpanded(patient) and patient.data() == "P01000"
    assert model.index(0, 2, patient).data() == "Not reviewed"  # the review column, from the full record
    assert "Follow-up" in patients.summary.text()
    assert "P01000" in patients.summary.text()

    # Searching narrows the grouping already made, without regrouping
    patients.search.setText("P0149")
    assert model.rowCount() == 10 and all(model.index(r, 0).data().startswith("P0149") for r in range(10))


def test_one_patients_report_from_a_long_worklist_reads_only_that_patients_records(open_window, data_dir, qtbot,
                                                                                  tmp_path):
    """Reports > current patient on a long session reads the chosen patient's records by id, not the whole session
    (every record with its thumbnail), and the report is written from them."""
    _long_session(data_dir)
    window = open_window()
    qtbot.waitUntil(lambda: window.results.rowCount() == COUNT)
    whole, by_id = [], []
    read_all, read_some = window.reports.records, window.reports.records_of
    window.reports.records = lambda: whole.append(1) or read_all()  # the real readers, counted
    window.reports.records_of = lambda ids: by_id.append(list(ids)) or read_some(ids)
    window.select_key(window.results.entry(2001).key)  # P01000's right eye; its left eye is image 2000
    folder = tmp_path / "reports"
    window.reports.choose_folder = lambda parent, caption, start: str(folder)
    window.reports.confirm_drafts = lambda parent, title, text: True
    with qtbot.waitSignal(window.reports.finished, timeout=60_000) as blocker:
        window.commands.report_current.trigger()
    outcome = blocker.args[0]
    assert [len(ids) for ids in by_id] == [2, 2] and not whole  # before and after the folder was chosen
    assert len(outcome.reports) == 1 and "P01000" in outcome.reports[0].path.name
    assert outcome.reports[0].path.is_file()
