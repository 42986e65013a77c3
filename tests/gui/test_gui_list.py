"""The worklist: filters, sorting, and the patient view where the worse eye decides."""

from __future__ import annotations

import cv2
import pytest
from dicom_factory import write_dicom
from gui_helpers import TIMEOUT_MS, drop, wait_idle
from PySide6.QtCore import Qt

from ran_desktop.engine.grading import Outcome
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.gui.results_model import RECORD_ROLE, Column


@pytest.fixture
def worklist(open_window, qtbot, sample_path, black_photo, bad_file, tmp_path):
    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    person = dict(patient_id="P-0042", patient_name="Doe^Jane")
    left = write_dicom(tmp_path / "left.dcm", rgb, image_laterality="L", **person)
    right = write_dicom(tmp_path / "right.dcm", rgb[:, ::-1].copy(), image_laterality="R", **person)
    window = open_window()
    drop(window, [sample_path, black_photo, bad_file, left, right])
    wait_idle(qtbot, window, 5)
    return window


def shown(window) -> list[str]:
    return [window.proxy.index(i, 0).data(RECORD_ROLE).result.path.name for i in range(window.proxy.rowCount())]


def decide(window, name: str, dr: int | None, dme: int | None) -> None:
    record = next(r for r in window.results.records() if r.result.path.name == name)
    stored = window.storage.save_decision(record.image_id, GraderDecision(dr, dme, kind="overridden", grader="Dr Test"))
    window.results.update_record(record.with_decision(stored))


def test_filters(worklist, qtbot):
    window = worklist
    everything = ["normal_fundus_OS.jpg", "black_OD.png", "scan_notes.jpg", "left.dcm", "right.dcm"]
    assert sorted(shown(window)) == sorted(everything)
    referable = sorted(r.result.path.name for r in window.results.records() if r.referable)
    assert referable and "black_OD.png" not in referable

    window.workspace.list_panel.filter_referable.click()
    assert sorted(shown(window)) == referable
    decide(window, referable[0], 0, 0)  # the grader says otherwise: it leaves the filtered list at once
    assert sorted(shown(window)) == referable[1:]
    assert window.workspace.list_panel.count_label.text() == f"{len(referable) - 1} of 5"

    window.workspace.list_panel.filter_referable.click()
    window.workspace.list_panel.filter_ungradable.click()
    assert sorted(shown(window)) == ["black_OD.png", "scan_notes.jpg"]
    window.workspace.list_panel.filter_referable.click()  # both: everything that needs action
    assert sorted(shown(window)) == sorted(["black_OD.png", "scan_notes.jpg", *referable[1:]])

    window.workspace.list_panel.filter_referable.click()
    window.workspace.list_panel.filter_ungradable.click()
    window.workspace.list_panel.filter_unreviewed.click()
    assert referable[0] not in shown(window) and "scan_notes.jpg" not in shown(window)
    assert len(shown(window)) == 3

    window.workspace.list_panel.filter_unreviewed.click()
    qtbot.keyClicks(window.workspace.list_panel.search, "p-0042")
    assert sorted(shown(window)) == ["left.dcm", "right.dcm"]
    window.workspace.list_panel.search.clear()
    assert len(shown(window)) == 5


def test_sorting_by_column_follows_new_decisions(worklist):
    window = worklist
    decide(window, "left.dcm", 4, 2)
    window.workspace.table.sortByColumn(Column.DR, Qt.SortOrder.DescendingOrder)
    order = shown(window)
    assert order[0] == "left.dcm" and order[-1] == "scan_notes.jpg"  # unreadable files sort last
    decide(window, "left.dcm", 0, 0)
    decide(window, "right.dcm", 3, 0)
    order = shown(window)
    assert order[0] == "right.dcm" and order.index("left.dcm") > order.index("normal_fundus_OS.jpg")
    window.workspace.table.sortByColumn(Column.FILE, Qt.SortOrder.AscendingOrder)
    assert shown(window) == sorted(shown(window), key=str.casefold)


def test_patients_are_grouped_and_the_worse_eye_decides(worklist, qtbot):
    window = worklist
    window.workspace.list_tabs.setCurrentWidget(window.workspace.patients)
    qtbot.waitUntil(lambda: len(window.workspace.patients.groups) == 4, timeout=TIMEOUT_MS)
    jane = next(g for g in window.workspace.patients.groups if g.patient_id == "P-0042")
    assert sorted(r.file_path.name for r in jane.records) == ["left.dcm", "right.dcm"]
    assert jane.unconfirmed  # rests on the model's unconfirmed grades, from weights that say so:
    assert window.workspace.patients.model.full_group(jane).caveat == "untrained model"

    decide(window, "left.dcm", 4, 0)
    decide(window, "right.dcm", 0, 0)
    qtbot.waitUntil(lambda: next(g for g in window.workspace.patients.groups if g.patient_id == "P-0042").reviewed,
                    timeout=TIMEOUT_MS)
    jane = next(g for g in window.workspace.patients.groups if g.patient_id == "P-0042")
    assert jane.decision.recommendation.outcome is Outcome.URGENT_REFERRAL
    assert jane.decision.worst_dr_grade == 4 and not jane.unconfirmed
    assert window.workspace.patients.model.full_group(jane).caveat == ""
    model = window.workspace.patients.model
    row = next(i for i, g in enumerate(model.groups) if g.patient_id == "P-0042")
    top = model.index(row, 0)
    assert top.data() == "Doe, Jane (P-0042)"
    assert model.index(row, 1).data() == "Urgent referral" and model.rowCount(top) == 2

    # Choosing an image in the patient view opens it in the list and the detail view.
    child = next(model.index(i, 0, top) for i in range(2) if model.index(i, 0, top).data().startswith("right.dcm"))
    window.workspace.patients.tree.setCurrentIndex(child)
    assert window.current_record().result.path.name == "right.dcm"
    summary = window.workspace.patients.summary.text()
    assert "Urgent referral" in summary and "Refer urgently to an ophthalmologist" in summary

    black = next(g for g in window.workspace.patients.groups if g.records[0].file_path.name == "black_OD.png")
    assert black.decision.recommendation.outcome is Outcome.UNGRADABLE  # never "no DR"
    unreadable = next(g for g in window.workspace.patients.groups if g.records[0].file_path.name == "scan_notes.jpg")
    assert unreadable.decision is None


def test_ctrl_a_selects_every_patient_as_one_range(worklist, qtbot):
    # Qt's own select-all added a range per expanded patient; with thousands the window froze for seconds.
    window = worklist
    window.workspace.list_tabs.setCurrentWidget(window.workspace.patients)
    qtbot.waitUntil(lambda: len(window.workspace.patients.groups) == 4, timeout=TIMEOUT_MS)
    tree = window.workspace.patients.tree
    tree.setFocus()
    qtbot.keyClick(tree, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    selection = tree.selectionModel().selection()
    assert len(selection) == 1
    assert sorted(i.row() for i in tree.selectionModel().selectedRows()) == [0, 1, 2, 3]
    assert len(window.reports.selected_keys()) == 5  # every image of every patient, for Reports > selected


def _luminance(c) -> float:
    def channel(v: int) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_every_cell_is_readable_and_says_what_it_is(worklist, qtbot):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    window = worklist
    palette = QApplication.palette()
    backgrounds = [palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.AlternateBase)]
    decide(window, "left.dcm", 3, 0)  # urgent, overridden
    model = window.results
    for row in range(model.rowCount()):
        for column in Column:
            index = model.index(row, column)
            ink = index.data(Qt.ItemDataRole.ForegroundRole) or palette.color(QPalette.ColorRole.Text)
            for background in backgrounds:
                assert contrast(ink, background) >= 4.5, (row, column.name, ink.name(), background.name())
    left = model.row_of(next(r.key for r in model.records() if r.result.path.name == "left.dcm"))
    right = model.row_of(next(r.key for r in model.records() if r.result.path.name == "right.dcm"))
    # A grader's grade is upright; the model's, unconfirmed, italic (the caveat once, in the banner and tooltip).
    upright = model.index(left, Column.DR).data(Qt.ItemDataRole.FontRole)
    assert upright is None or not upright.italic()
    assert model.index(right, Column.DR).data(Qt.ItemDataRole.FontRole).italic()
    assert "(" not in model.index(right, Column.DR).data()
    # Urgent by colour, sign and word; overridden and confirmed rows look different.
    assert model.index(left, Column.REFERABLE).data() == "\u26a0 Yes, urgent"
    urgent_ink = model.index(left, Column.REFERABLE).data(Qt.ItemDataRole.ForegroundRole)
    assert urgent_ink.red() > 2 * urgent_ink.green()
    record = model.record(right)
    stored = window.storage.save_decision(record.image_id, GraderDecision(*record.model_grades, kind="confirmed",
                                                                     grader="Dr Test"))
    model.update_record(record.with_decision(stored))
    overridden = model.index(left, Column.REVIEW)
    confirmed = model.index(right, Column.REVIEW)
    assert overridden.data().startswith("\u270e") and confirmed.data().startswith("\u2713")
    assert overridden.data(Qt.ItemDataRole.ForegroundRole) != confirmed.data(Qt.ItemDataRole.ForegroundRole)
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in Column][1:] == [
        "File", "Patient", "Eye", "Quality", "DR grade", "DME grade", "Referable", "Review"]  # no Confidence


def test_n_and_p_in_the_patients_tab_follow_the_tree_on_screen(worklist, qtbot):
    window = worklist
    window.workspace.table.sortByColumn(Column.FILE, Qt.SortOrder.DescendingOrder)  # the hidden list in another order
    window.workspace.list_tabs.setCurrentWidget(window.workspace.patients)
    qtbot.waitUntil(lambda: len(window.workspace.patients.groups) == 4, timeout=TIMEOUT_MS)
    shown = window.workspace.patients.image_keys()
    assert shown != [window.proxy.index(r, 0).data(RECORD_ROLE).key for r in range(window.proxy.rowCount())]
    window.select_key(shown[0])
    visited = [window.current_record().key]
    for _ in range(len(shown) - 1):
        qtbot.keyClick(window.workspace.patients.tree, Qt.Key.Key_N)
        visited.append(window.current_record().key)
    assert visited == shown
    qtbot.keyClick(window.workspace.patients.tree, Qt.Key.Key_P)
    assert window.current_record().key == shown[-2]


def test_both_eyes_named_alike_are_one_patient_and_the_clinic_can_change_the_patterns(open_window, qtbot, sample_path,
                                                                                       tmp_path):
    import shutil

    from ran_desktop.gui.settings_dialog import SettingsDialog

    folder = tmp_path / "clinic"
    folder.mkdir()
    for name in ("123_left.jpg", "123_right.jpg", "456_L.jpg"):
        shutil.copy(sample_path, folder / name)
    window = open_window()
    drop(window, [folder])
    wait_idle(qtbot, window, 3)
    window.workspace.list_tabs.setCurrentWidget(window.workspace.patients)
    qtbot.waitUntil(lambda: len(window.workspace.patients.groups) == 2, timeout=TIMEOUT_MS)
    pair = next(g for g in window.workspace.patients.groups if len(g.records) == 2)
    assert pair.file_name_patient == "123"
    assert window.workspace.patients.model.index(window.workspace.patients.groups.index(pair), 0).data().startswith(
        "No patient ID: \u201c123\u201d by file name")

    dialog = SettingsDialog(window.settings, window)
    dialog.patterns.setPlainText(r"^(\d+)_")  # no patient group: refused, nothing saved
    dialog.accept()
    assert "(?P<patient>" in dialog.patterns_problem.text() and dialog.result() == 0  # not accepted
    assert window.settings.file_name_patterns != (r"^(\d+)_",)
    dialog.patterns.setPlainText("")  # the clinic turns grouping by name off
    dialog.accept()
    assert window.settings.file_name_patterns == ()
    window._refresh_patients()
    qtbot.waitUntil(lambda: len(window.workspace.patients.groups) == 3, timeout=TIMEOUT_MS)


def test_sort_filters_and_selection_come_back_on_reopen(worklist, qtbot, models_folder, data_dir):
    from ran_desktop.app import launch

    window = worklist
    window.workspace.table.sortByColumn(Column.FILE, Qt.SortOrder.DescendingOrder)
    window.workspace.list_panel.filter_unreviewed.setChecked(True)
    window.workspace.list_panel.search.setText(".dcm")
    chosen = next(r.key for r in window.results.records() if r.result.path.name == "left.dcm")
    window.select_key(chosen)
    window.close()

    again = launch([], data_dir, models_folder)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.results.rowCount() == 5, timeout=TIMEOUT_MS)
    header = again.workspace.table.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (Column.FILE, Qt.SortOrder.DescendingOrder)
    listed = again.workspace.list_panel
    assert listed.filter_unreviewed.isChecked() and listed.search.text() == ".dcm"
    assert shown(again) == ["right.dcm", "left.dcm"]
    assert again.current_record().key == chosen


def test_rows_arriving_during_a_batch_do_not_move_the_row_being_looked_at(open_window, qtbot, small_photos):
    window = open_window()
    drop(window, [small_photos(60, "first")])
    wait_idle(qtbot, window, 60)
    window.resize(1280, 800)
    window.workspace.table.sortByColumn(Column.FILE, Qt.SortOrder.DescendingOrder)  # later names sort in above
    target = window.proxy.index(30, Column.FILE)
    window.workspace.table.setCurrentIndex(target)
    window.workspace.table.scrollTo(target)
    key = target.data(RECORD_ROLE).key
    qtbot.wait(50)
    before = window.workspace.table.rowViewportPosition(window.workspace.table.currentIndex().row())
    records = [r for r in window.results.records()]
    import dataclasses
    from pathlib import Path as _Path

    more = [dataclasses.replace(r, image_id=10_000 + i, result=dataclasses.replace(
        r.result, key=f"zz{i}", path=_Path(f"/later/zz{i:03d}_OD.jpg"))) for i, r in enumerate(records[:20])]
    window.controller.recordsArrived.emit(more)  # as a batch delivers them
    assert window.current_record().key == key
    assert window.workspace.table.currentIndex().row() == 50  # twenty rows sorted in above it
    table = window.workspace.table
    assert table.rowViewportPosition(table.currentIndex().row()) == before  # still where it was


def test_the_patients_tab_sorts_by_outcome_and_filters_by_search(worklist, qtbot):
    window = worklist
    decide(window, "left.dcm", 4, 0)  # Jane: urgent
    decide(window, "normal_fundus_OS.jpg", 0, 0)  # routine
    window.workspace.list_tabs.setCurrentWidget(window.workspace.patients)
    qtbot.waitUntil(lambda: len(window.workspace.patients.groups) == 4, timeout=TIMEOUT_MS)
    panel = window.workspace.patients
    panel.tree.header().setSortIndicator(1, Qt.SortOrder.AscendingOrder)  # as a click on "Outcome / grades" does
    outcomes = [g.decision.recommendation.outcome if g.decision else None for g in panel.groups]
    assert outcomes[0] is Outcome.URGENT_REFERRAL and outcomes[-1] is None  # most urgent first, unreadable last
    panel.search.setText("p-0042")
    assert [g.patient_id for g in panel.groups] == ["P-0042"]
    assert panel.image_keys() == [r.key for r in panel.groups[0].records]  # N/P walk what is shown
    panel.search.clear()
    assert len(panel.groups) == 4
