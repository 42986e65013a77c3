"""Bringing images in: real drops of files and folders, bad files, a queue while busy, and cancelling."""

from __future__ import annotations

from dicom_factory import write_dicom
from gui_helpers import TIMEOUT_MS, drop, key_of_file, names, wait_idle
from PySide6.QtCore import Qt

from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.storage import Storage
from ran_desktop.gui.results_model import Column


def test_dropping_files_and_a_folder_fills_the_table(open_window, qtbot, photos, sample_path, tmp_path):
    import cv2

    folder = photos(4)  # nested: visit0/, visit1/
    dicom = write_dicom(tmp_path / "study.dcm", cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB),
                        image_laterality="R", patient_id="P-7", patient_name="Roe^Richard")
    window = open_window()
    event = drop(window, [folder, dicom])
    assert event.isAccepted()
    wait_idle(qtbot, window, 5)
    assert sorted(names(window)) == ["eye000_OS.jpg", "eye001_OS.jpg", "eye002_OS.jpg", "eye003_OS.jpg", "study.dcm"]
    assert all(r.status is Status.SCREENED for r in window.results.records())
    row = window.results.row_of(key_of_file(window, dicom))
    cell = lambda column: window.results.index(row, column).data()  # noqa: E731
    assert cell(Column.PATIENT) == "Roe, Richard (P-7)"
    assert cell(Column.EYE) == "OD"
    eye_tip = window.results.index(row, Column.EYE).data(Qt.ItemDataRole.ToolTipRole)
    assert eye_tip == "OD (right), from the DICOM header"
    assert cell(Column.QUALITY) == "Gradable"
    # Never shown as if it were a finding: italic and muted, with the caveat in its tooltip.
    assert window.results.index(row, Column.DR).data(Qt.ItemDataRole.FontRole).italic()
    assert "(untrained model)" in window.results.index(row, Column.DR).data(Qt.ItemDataRole.ToolTipRole)
    assert window.results.index(row, Column.THUMBNAIL).data(1) is not None  # a thumbnail
    with Storage(window.storage.path) as store:
        assert store.count_images(window.session_id) == 5


def test_a_drop_anywhere_on_the_window_is_taken(open_window, qtbot, sample_path):
    window = open_window()
    drop(window.empty.sample_button, [sample_path])
    wait_idle(qtbot, window, 1)
    drop(window.workspace.detail.view.viewport(), [sample_path.parent])  # the folder: the same photograph again
    wait_idle(qtbot, window)
    assert names(window) == ["normal_fundus_OS.jpg"]  # screened again: its row is replaced, not doubled


def test_a_bad_file_gets_an_error_row_and_the_rest_of_the_batch_goes_on(open_window, qtbot, photos, bad_file):
    folder = photos(2, nested=False)
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    window = open_window()
    drop(window, [bad_file, folder])
    wait_idle(qtbot, window, 4)
    by_name = {r.result.path.name: r for r in window.results.records()}
    assert by_name["eye000_OS.jpg"].status is Status.SCREENED and by_name["eye001_OS.jpg"].status is Status.SCREENED
    bad = by_name["scan_notes.jpg"]
    assert bad.status is Status.ERROR and "text" in bad.result.error
    row = window.results.row_of(bad.key)
    assert window.results.index(row, Column.QUALITY).data() == "Unreadable"
    assert window.results.index(row, Column.QUALITY).data(Qt.ItemDataRole.ToolTipRole) == \
        f"Not screened: {bad.result.error}"
    assert window.results.index(row, Column.DR).data() == "—"
    assert by_name["empty.jpg"].status is Status.ERROR and "empty" in by_name["empty.jpg"].result.error
    assert "could not be read" in window.status.currentMessage()


def test_drops_during_a_batch_are_queued_and_screened_next(open_window, qtbot, small_photos, sample_path):
    window = open_window()
    first = small_photos(40)
    drop(window, [first])
    qtbot.waitUntil(lambda: window.controller.running, timeout=TIMEOUT_MS)
    drop(window, [sample_path])
    assert window.controller.running  # still the first batch
    wait_idle(qtbot, window, 41)
    assert names(window)[-1] == "normal_fundus_OS.jpg"  # after everything of the first batch
    assert not window.status.progress.isVisible()


def test_cancel_stops_a_running_batch_and_keeps_finished_rows(open_window, qtbot, small_photos):
    window = open_window()
    folder = small_photos(300)
    seen: list[int] = []

    def cancel_after_three(done, total, left, queued):
        seen.append(done)
        if done == 3:
            window.status.cancel_button.click()  # the user's click, from the GUI thread

    window.controller.progressed.connect(cancel_after_three)
    with qtbot.waitSignal(window.controller.batchFinished, timeout=TIMEOUT_MS) as finished:
        drop(window, [folder])
    stored, total, cancelled = finished.args
    assert cancelled and total == 300 and 3 <= stored < 300
    qtbot.waitUntil(lambda: window.results.rowCount() == stored, timeout=TIMEOUT_MS)
    assert not window.status.progress.isVisible() and "Cancelled" in window.status.currentMessage()
    with Storage(window.storage.path) as store:
        kept = store.load_session(window.session_id)
    assert [r.key for r in kept] == [r.key for r in window.results.records()]
    assert all(r.status is Status.SCREENED for r in kept)


def test_progress_shows_count_and_time_left(open_window, qtbot, small_photos):
    window = open_window()
    texts: list[str] = []
    window.controller.progressed.connect(lambda *a: texts.append(window.status.progress_label.text()))
    drop(window, [small_photos(12)])
    wait_idle(qtbot, window, 12)
    assert texts[-1] == "Screening 12 of 12"
    assert any(", about " in t and " left" in t for t in texts[:-1])
    assert window.status.progress.maximum() == 12


def test_results_reach_the_table_in_groups_not_one_update_per_image(open_window, qtbot, small_photos):
    """While the GUI thread is busy, a whole batch can finish; its results then arrive as one table insertion."""
    import time

    window = open_window()
    arrivals: list[int] = []
    window.controller.recordsArrived.connect(lambda records: arrivals.append(len(records)))
    inserts: list[int] = []
    window.results.rowsInserted.connect(lambda parent, first, last: inserts.append(last - first + 1))
    window.add_paths([small_photos(20)])
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    with Storage(window.storage.path) as store:  # the worker commits while this thread handles no events
        while store.count_images(window.session_id) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    wait_idle(qtbot, window, 20)
    assert arrivals == [20] and inserts == [20]
