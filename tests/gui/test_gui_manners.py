"""Desktop manners: readable errors and a crash dialog that keeps the app up, settings, About, window state,
export and sessions."""

from __future__ import annotations

import csv
import json

import pytest
from gui_helpers import TIMEOUT_MS, drop, wait_idle
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from ran_desktop.app import launch
from ran_desktop.engine.records.storage import StorageError
from ran_desktop.gui.about_dialog import AboutDialog
from ran_desktop.gui.crash import CrashReporter
from ran_desktop.gui.main_window import MainWindow
from ran_desktop.gui.messages import ErrorDialog
from ran_desktop.gui.settings import AppSettings
from ran_desktop.gui.settings_dialog import SettingsDialog


class _Emitter(QObject):
    fired = Signal()


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_shows_a_dialog_and_the_app_stays_up(open_window, qtbot, sample_path):
    window = open_window()
    reporter = CrashReporter()
    reporter.window = window
    reporter.install()
    try:
        emitter = _Emitter()

        def broken_slot():
            raise RuntimeError("something nobody foresaw")

        emitter.fired.connect(broken_slot)
        emitter.fired.emit()
        dialog = reporter.dialog
        assert isinstance(dialog, ErrorDialog) and dialog.isVisible()
        assert dialog.summary.text() == "RuntimeError: something nobody foresaw"
        assert "Traceback" in dialog.details.toPlainText() and "broken_slot" in dialog.details.toPlainText()
        dialog.copy_details()
        assert "something nobody foresaw" in QApplication.clipboard().text()
    finally:
        reporter.uninstall()
    # Still working: a photograph can be screened after the error.
    drop(window, [sample_path])
    wait_idle(qtbot, window, 1)
    assert window.isVisible()


def test_exceptions_in_worker_threads_reach_the_gui_thread(qtbot):
    import threading

    reporter = CrashReporter()
    reporter.install()
    try:
        thread = threading.Thread(target=lambda: 1 / 0)
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible(), timeout=TIMEOUT_MS)
        assert "ZeroDivisionError" in reporter.dialog.summary.text()
    finally:
        reporter.uninstall()
        if reporter.dialog is not None:
            reporter.dialog.close()


def test_an_unusable_data_folder_is_a_readable_error(qapp, tmp_path, models_folder):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be", encoding="utf-8")
    windows = len([w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)])
    with pytest.raises(StorageError, match="cannot be opened"):
        launch([], blocker, models_folder)
    # The half-built window is gone at once: left to the garbage collector, its widgets would be destroyed at some
    # later, arbitrary moment, which has deadlocked Qt inside another window's construction.
    assert len([w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]) == windows


def test_a_broken_model_bundle_is_reported_readably(qtbot, bundle_copy, data_dir):
    weights = bundle_copy / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    window = launch([], data_dir, bundle_copy.parent)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.controller.model_state == "failed", timeout=TIMEOUT_MS)
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert "truncated or replaced" in box.text() and "Traceback" not in box.text()


def test_settings_are_saved_and_used(open_window, data_dir):
    window = open_window()
    dialog = SettingsDialog(window.settings, window)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.grader.setText("Dr New Name")
    dialog.clinic.setText("Eye Clinic North")
    dialog.logo.setText("/srv/logo.png")
    dialog.export.setText(str(data_dir / "exports"))
    dialog.accept()
    fresh = AppSettings(data_dir)  # read back from disk
    assert (fresh.device, fresh.grader_name, fresh.clinic_name, fresh.clinic_logo) == (
        "cpu", "Dr New Name", "Eye Clinic North", "/srv/logo.png")
    assert fresh.export_folder == str(data_dir / "exports") and fresh.device_request == "cpu"


def test_window_state_is_remembered(open_window, qtbot, models_folder, data_dir):
    window = open_window()
    window.resize(1200, 700)
    window.workspace.setSizes([500, 300, 200])
    window.workspace.detail.splitter.setSizes([450, 150])
    sizes, detail_sizes = window.workspace.sizes(), window.workspace.detail.splitter.sizes()
    window.workspace.list_panel.search.setText("kept")  # the grader's filters come back too (tested in test_gui_list)
    window.close()
    again = launch([], data_dir, models_folder)
    qtbot.addWidget(again)
    assert again.size().toTuple() == (1200, 700)
    assert again.workspace.sizes() == sizes and again.workspace.detail.splitter.sizes() == detail_sizes
    assert again.workspace.list_panel.search.text() == "kept"


def test_about_shows_versions_and_the_model_card(open_window, tiny_bundle):
    window = open_window()
    card = tiny_bundle / "MODEL_CARD.md"
    card.write_text("# Tiny RAN\n\nMade for tests: **not for screening**.", encoding="utf-8")
    try:
        dialog = AboutDialog(window.controller.loaded, parent=window)
        text = dialog.model_card.toPlainText()
        assert "Made for tests" in text
        assert window.controller.loaded.manifest.weights["sha256"] in text  # the manifest itself
        assert "UNTRAINED MODEL" in text
        versions = dialog.versions.toPlainText()
        assert "PySide6" in versions and "PyTorch" in versions and "RAN Screening" in versions
    finally:
        card.unlink()
    window.commands.about.trigger()
    assert any(isinstance(w, AboutDialog) and w.isVisible() for w in QApplication.topLevelWidgets())


def test_shortcuts_are_listed(open_window):
    window = open_window()
    window.commands.shortcuts.trigger()
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert "Save decision" in box.text() and "Ctrl+Return" in box.text() and "Alt+0" in box.text()


def test_no_two_commands_share_a_key_and_each_key_is_listed_once(open_window):
    window = open_window()
    owners: dict[str, str] = {}
    for action in window.actions():
        keys = [k.toString() for k in action.shortcuts()]
        assert "" not in keys and len(keys) == len(set(keys)), f"{action.text()!r} lists a key twice: {keys}"
        for key in keys:
            assert key not in owners, f"{key} is both {owners[key]!r} and {action.text()!r}"
            owners[key] = action.text()
    assert {"Ctrl+Q", "F1", "Ctrl+,"} <= set(owners)
    window.commands.shortcuts.trigger()
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    for listed in ("F1, F1", "Ctrl+Q, Ctrl+Q", "<b>, "):
        assert listed not in box.text()


def test_export_writes_results_with_decisions(open_window, qtbot, sample_path, bad_file, tmp_path):
    window = open_window()
    drop(window, [sample_path, bad_file])
    wait_idle(qtbot, window, 2)
    window.select_key(window.results.record(0).key)
    window.workspace.review.set_grades(2, 0)
    window.workspace.review.submit()
    assert exported(window, qtbot, tmp_path / "out.csv")
    rows = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert [r["final_dr_grade"] for r in rows] == ["2", ""] and rows[0]["grader"] == "Dr Test"
    assert rows[1]["status"] == "error"
    assert exported(window, qtbot, tmp_path / "out.json")
    assert len(json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["results"]) == 2
    assert not exported(window, qtbot, tmp_path / "missing" / "folder" / "out.csv")
    assert any(b.windowTitle() == "Export failed" for b in window.findChildren(QMessageBox))


def exported(window, qtbot, path) -> bool:
    """File > Export results to `path`, written by a worker: whether it was written."""
    with qtbot.waitSignal(window.sessions.exported, timeout=TIMEOUT_MS) as blocker:
        assert window.export_results(path)  # started
    return blocker.args[1]


def test_export_runs_in_a_worker_and_one_at_a_time(open_window, qtbot, sample_path, tmp_path):
    window = open_window()
    drop(window, [sample_path])
    wait_idle(qtbot, window, 1)
    with qtbot.waitSignal(window.sessions.exported, timeout=TIMEOUT_MS) as blocker:
        assert window.export_results(tmp_path / "first.csv")
        assert not window.export_results(tmp_path / "second.csv")  # the first is still being written
        assert window.status.currentMessage() == "An export is already running"
    assert blocker.args == [tmp_path / "first.csv", True] and (tmp_path / "first.csv").is_file()
    assert not (tmp_path / "second.csv").exists()
    assert window.status.currentMessage() == f"Exported 1 image(s) to {tmp_path / 'first.csv'}"


def test_a_new_session_starts_empty_and_keeps_the_old_one(open_window, qtbot, sample_path):
    window = open_window()
    drop(window, [sample_path])
    wait_idle(qtbot, window, 1)
    old = window.session_id
    window.start_new_session()
    assert window.session_id > old and window.results.rowCount() == 0
    assert window.stack.currentWidget() is window.empty
    assert window.storage.count_images(old) == 1
    drop(window, [sample_path])
    wait_idle(qtbot, window, 1)
    assert window.storage.count_images(window.session_id) == 1


def test_background_failures_are_readable_and_carry_details_only_when_unforeseen(qtbot):
    from ran_desktop.engine.errors import ImageLoadError
    from ran_desktop.gui.tasks import TaskRunner

    def bad_file(report):
        raise ImageLoadError("eye.jpg", "the file is empty (0 bytes)")

    def bug(report):
        return {}["no such key"]

    def fine(report, value):
        report("halfway")
        return value * 2

    runner = TaskRunner("test-tasks")
    failures, results, progress = [], [], []
    try:
        runner.submit(bad_file, on_failed=failures.append)
        runner.submit(bug, on_failed=failures.append)
        runner.submit(fine, 21, on_done=results.append, on_progress=progress.append)
        qtbot.waitUntil(lambda: len(failures) == 2 and results == [42], timeout=TIMEOUT_MS)
    finally:
        runner.shutdown()
    expected, unforeseen = failures
    assert expected.expected and expected.message == "eye.jpg: the file is empty (0 bytes)" and not expected.details
    assert not unforeseen.expected and unforeseen.message == "KeyError: 'no such key'"
    assert "Traceback" in unforeseen.details and "def bug" not in unforeseen.message
    assert progress == ["halfway"] and not runner.busy


def test_the_open_dialogs_start_where_photographs_came_from_last_time(open_window, qtbot, photos, data_dir):
    folder = photos(2, nested=False)
    window = open_window()
    starts: list[str] = []
    window.choose_folder = lambda parent, caption, start: starts.append(start) or str(folder)
    window.commands.open_folder.trigger()
    qtbot.waitUntil(lambda: window.results.rowCount() == 2, timeout=30_000)
    window.choose_files = lambda parent, caption, start, filters: (starts.append(start) or [], "")
    window.commands.open_files.trigger()
    assert starts == ["", str(folder.parent)]
    window.close()
    again = open_window(ready=False)
    again.choose_files = lambda parent, caption, start, filters: (starts.append(start) or [], "")
    again.commands.open_files.trigger()
    assert starts[-1] == str(folder.parent)  # remembered across runs


def test_an_earlier_session_can_be_found_and_reopened_with_its_decisions(open_window, qtbot, photos, sample_path):
    from ran_desktop.gui.sessions_dialog import SessionsDialog

    window = open_window()
    drop(window, [photos(2, nested=False)])
    wait_idle(qtbot, window, 2)
    first = window.session_id
    window.select_key(window.results.record(0).key)
    window.workspace.review.set_grades(2, 1)
    window.workspace.review.submit()
    window.start_new_session()
    drop(window, [sample_path])
    wait_idle(qtbot, window, 1)
    assert window.session_id != first

    window.commands.sessions.trigger()
    dialog = next(d for d in window.findChildren(SessionsDialog) if d.isVisible())
    assert dialog.table.rowCount() == 2 and dialog.table.item(0, 0).text().endswith("(open now)")
    dialog.search.setText("eye001")  # a file of the first session only
    assert dialog.table.rowCount() == 1 and dialog.table.item(0, 3).text() == "1 of 2"
    dialog.open_selected()
    assert window.session_id == first and window.results.rowCount() == 2
    reviewed = [r for r in window.results.records() if r.decision is not None]
    assert [(r.decision.dr_grade, r.decision.dme_grade) for r in reviewed] == [(2, 1)]
