"""Starting the app: the window comes before the model, shows the model's state and warning, offers the sample."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gui_helpers import TIMEOUT_MS, drop, names, wait_idle
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QMessageBox

from ran_desktop.app import launch
from ran_desktop.engine.records.storage import DATABASE_NAME, Storage

ROOT = Path(__file__).resolve().parents[2]


def _window_imports(data: Path, models: Path, quit_after_ms: int, heavy: list[str], report: str = "") -> list[str]:
    """In a fresh interpreter (what other tests imported must not count): build and show the main window without
    start(), run the event loop a moment, print `report` lines, then which of `heavy` were imported."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([sys.argv[0]])\n"
        "from ran_desktop.app import launch\n"
        "from ran_desktop.gui.main_window import MainWindow\n"
        "window = MainWindow(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "window.show()\n"
        "window.open_database()\n"
        f"QTimer.singleShot({quit_after_ms}, app.quit)\n"
        "app.exec()\n"
        f"{report}"
        "window.close()\n"
        f"print('imported:', [name for name in {heavy!r} if name in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(data), str(models)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_gui_modules_imported_at_start_do_not_import_torch():
    """Everything the window needs at start must import without torch, so it can appear before torch loads."""
    code = (
        "import sys\n"
        "import ran_desktop.app, ran_desktop.gui.main_window\n"
        "import ran_desktop.gui.detail_controller, ran_desktop.gui.screening_controller\n"
        "assert 'torch' not in sys.modules, 'torch was imported at start'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_window_is_built_and_shown_without_the_heavy_libraries(tmp_path):
    """Launch time (issue #7): the decoders (OpenCV, Pillow, pydicom), numpy, the report writer (reportlab) and the
    model's manifest checker load when first needed, in workers, not while the window is built. A fresh
    interpreter, so that what other tests imported does not count; start() is not called, as its model loader
    imports these on purpose."""
    # importlib.metadata is no longer on the list: SQLAlchemy, which opens the session database the window lists,
    # imports it (bench/launch_ab.py measured what that costs). Alembic is, on a start after the first: it loads
    # only to create or upgrade a database.
    Storage(tmp_path / "data" / DATABASE_NAME).close()  # the first start's database
    heavy = ["torch", "numpy", "cv2", "PIL", "pydicom", "reportlab", "jsonschema", "alembic",
             "ran_desktop.reports.export", "ran_desktop.engine.imaging.preprocess",
             "ran_desktop.engine.imaging.quality",
             "ran_desktop.engine.imaging.loading.raster", "ran_desktop.engine.imaging.loading.dicom"]
    assert _window_imports(tmp_path / "data", tmp_path / "models", 100, heavy)[-1] == "imported: []"


def test_the_window_is_shown_before_the_model_has_loaded(qtbot, models_folder, data_dir):
    events: list[str] = []
    window = launch([], data_dir, models_folder)
    qtbot.addWidget(window)
    window.controller.modelReady.connect(lambda loaded: events.append("model ready"))
    # No event has been processed yet: the loader's report cannot have arrived, the window is already up.
    assert window.isVisible()
    assert window.controller.model_state == "loading"
    assert window.status.model_label.text() == "Loading the model…"
    assert "Loading the model" in window.empty.status.text()
    qtbot.waitUntil(lambda: events == ["model ready"], timeout=TIMEOUT_MS)
    assert window.controller.loaded is not None


def test_status_bar_shows_model_and_device_and_the_untrained_banner_is_visible(open_window):
    window = open_window()
    manifest = window.controller.loaded.manifest
    assert window.status.model_label.text() == f"Model: {manifest.title}"
    assert window.status.device_label.text() == "Device: " + window.controller.loaded.device.description
    assert window.status.device_label.text().startswith("Device: CPU")
    assert window.banner.isVisible() and not window.banner.icon.pixmap().isNull()  # the warning sign is drawn
    assert window.banner.text.text() == manifest.clinical_warning
    assert "UNTRAINED" in window.banner.text.text()
    assert "#b00020" in window.banner.styleSheet()  # red for untrained weights


def test_a_newcomer_can_screen_the_sample_from_the_empty_window(open_window, qtbot):
    window = open_window()
    assert window.stack.currentWidget() is window.empty
    qtbot.mouseClick(window.empty.sample_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window, 1)
    assert names(window) == ["normal_fundus_OS.jpg"]
    assert window.stack.currentWidget() is window.workspace
    # The first result is opened at once, heat map included.
    qtbot.waitUntil(lambda: window.workspace.detail.view.showing_overlay, timeout=TIMEOUT_MS)
    assert window.workspace.detail.record.result.path.name == "normal_fundus_OS.jpg"


def test_the_empty_window_is_painted_before_its_workspace_is_built_and_the_model_loads(qtbot, models_folder,
                                                                                      data_dir):
    """Launch time (issue #7): the first frame shows the empty window; the list, picture and review panels (and
    their modules) and the model's loader come after it, so neither delays it nor competes with it. launch() draws
    that frame before it opens the session database, and returns with it drawn."""
    events: list[str] = []
    window = launch([], data_dir, models_folder)
    qtbot.addWidget(window)
    assert window.painted  # the first frame, before the workspace and the model
    window.controller.modelLoading.connect(lambda: events.append(f"loader started, workspace {window.workspace_built}"))
    assert not window.workspace_built and window.stack.currentWidget() is window.empty
    assert window.status.model_label.text() == "Loading the model…"  # what the grader is told at once
    assert not window.commands.report_batch.isEnabled()  # the exporter comes with the workspace
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=TIMEOUT_MS)
    assert events == ["loader started, workspace True"]
    assert window.stack.currentWidget() is window.empty  # built, not shown: there is no image yet
    assert not window.commands.open_files.icon().isNull()  # the menus' icons came after the paint too
    window.try_sample()
    wait_idle(qtbot, window, 1)
    assert window.stack.currentWidget() is window.workspace and window.workspace.detail.record is not None


def test_a_window_that_never_paints_still_loads_its_model(qtbot, models_folder, data_dir):
    """A window started minimised gets no paint; the model must load all the same."""

    class NoPaint(QObject):
        def eventFilter(self, obj, event):
            return obj is window and event.type() == QEvent.Type.Paint  # swallowed: the window never paints

    window = launch([], data_dir, models_folder)
    qtbot.addWidget(window)
    no_paint = NoPaint()
    window.installEventFilter(no_paint)
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=TIMEOUT_MS)
    assert window.workspace_built


def test_a_session_with_images_opens_on_its_workspace(open_window, qtbot, models_folder, data_dir):
    first = open_window()
    first.try_sample()
    wait_idle(qtbot, first, 1)
    first.close()
    again = launch([], data_dir, models_folder)
    qtbot.addWidget(again)
    # Built with the window, before any event is processed: the list is what this grader expects to see first.
    assert again.workspace_built and again.stack.currentWidget() is again.workspace
    assert names(again) == ["normal_fundus_OS.jpg"]


def test_paths_given_at_start_are_queued_until_the_model_is_ready(qtbot, models_folder, data_dir, sample_path):
    relative = Path(os.path.relpath(sample_path))  # as typed in a terminal
    window = launch([relative], data_dir, models_folder)
    qtbot.addWidget(window)
    assert window.controller.queued == 1 and window.status.progress.isVisible()
    assert "waiting for the model" in window.status.progress_label.text()
    assert window.workspace_built  # at once, not after the first paint: the batch's threads must not stall it
    wait_idle(qtbot, window, 1)
    assert window.results.record(0).result.status.value == "screened"
    assert window.results.record(0).result.path == sample_path.absolute()  # reopens from any working folder


def test_without_a_model_the_user_is_told_why_and_nothing_is_queued(qtbot, tmp_path, data_dir, sample_path):
    window = launch([sample_path], data_dir, tmp_path / "no-models-here")
    qtbot.addWidget(window)
    assert window.controller.queued == 1
    qtbot.waitUntil(lambda: window.controller.model_state == "failed", timeout=TIMEOUT_MS)
    assert window.controller.queued == 0 and not window.status.progress.isVisible()  # not waiting forever
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert [b.windowTitle() for b in boxes] == ["The model could not be loaded"]
    assert "no model bundle here" in boxes[0].text() and "Traceback" not in boxes[0].text()
    assert window.status.model_label.text() == "No model loaded"
    drop(window, [sample_path])
    assert window.controller.queued == 0
    assert any(b.windowTitle() == "Cannot screen" for b in window.findChildren(QMessageBox))


def test_command_line_entry_points_are_wired(tmp_path):
    for args in ([str(ROOT / "main.py"), "--version"], ["-m", "ran_desktop", "--version"]):
        done = subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env={"PYTHONPATH": str(ROOT), "PATH": ""})
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("RAN Screening ")
    done = subprocess.run([sys.executable, "-m", "ran_desktop", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert "usage: ran-desktop" in done.stdout


def test_reopening_a_session_with_results_does_not_load_the_decoders(tmp_path):
    """Most starts reopen the last session: its stored quality verdicts must not pull in the gate's OpenCV code."""
    from ran_desktop.engine.imaging.quality_report import QualityReport
    from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
    from ran_desktop.engine.records.storage import DATABASE_NAME, Storage

    data = tmp_path / "data"
    data.mkdir()
    info = ModelInfo(name="m", version="1", training_data="synthetic", synthetic=True, trained=True, warning="w",
                     device="cpu")
    with Storage(data / DATABASE_NAME) as store:
        session = store.new_session()
        for i in range(3):
            store.save_result(session, ScreeningResult(
                key=f"img{i}.jpg", path=tmp_path / f"img{i}.jpg", status=Status.SCREENED, model=info,
                quality=QualityReport(True, (), {"sharpness": 0.8}), dr_probs=(0.6, 0.1, 0.1, 0.1, 0.1),
                dme_probs=(0.8, 0.1, 0.1)))
    heavy = ["torch", "cv2", "PIL", "pydicom", "reportlab", "ran_desktop.engine.imaging.quality"]
    lines = _window_imports(data, tmp_path / "models", 300, heavy, "print('rows:', window.results.rowCount())\n")
    assert lines[-2:] == ["rows: 3", "imported: []"]


def test_the_first_start_takes_most_of_the_screen_centred(open_window):
    from ran_desktop.gui.main_window import FIRST_START_SHARE

    window = open_window(ready=False)
    screen = window.screen().availableGeometry()
    assert abs(window.width() - screen.width() * FIRST_START_SHARE // 100) <= 2
    assert abs(window.height() - screen.height() * FIRST_START_SHARE // 100) <= 40  # the frame, where there is one
    assert abs(window.geometry().center().x() - screen.center().x()) <= 20
