"""The `ran-desktop` entry point (also `python -m ran_desktop` and `python main.py`): opens the main window.

Paths given on the command line are queued for screening. The window is shown first; the model (and torch) load
in the background while it is already on screen.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# Before anything imports torch (its OpenMP runtime reads this once): worker threads that wait for work sleep
# instead of spinning. The app runs torch in two workers (batches, Grad-CAM) beside the GUI thread; spinning
# OpenMP threads would take the CPU they all need, which on a 2-core clinic PC slows screening several times over.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The engine before PySide6: PySide6 reads the source of every module imported after it (looking for its
# feature switches), wasted time on the engine and the standard library, which hold no Qt.
from ran_desktop.engine.errors import StorageError  # noqa: I001 (before PySide6)
from ran_desktop.engine.records.data_folder import APP_NAME, default_data_dir

from PySide6 import QtWidgets
from PySide6.QtCore import QEventLoop, Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

import ran_desktop
from ran_desktop.gui.binding_check import binding_problem
from ran_desktop.gui.crash import CrashReporter
from ran_desktop.gui.main_window import MainWindow
from ran_desktop.logsafe import PrivacyFilter
from ran_desktop.offline import forbid_network_libraries
from ran_desktop.paths import resources_dir

FIRST_FRAME_WAIT_S = 0.25

USAGE = f"""usage: ran-desktop [PHOTOS_OR_FOLDERS...]

Opens {APP_NAME}, the diabetic retinopathy screening app, and screens the given photographs or folders.
Environment: RAN_MODELS_DIR (models folder), RAN_DATA_DIR (session database and settings), RAN_DEVICE.

  --self-test [--self-test-dir DIR]  check the installation without a window: load the model, screen the
                                     bundled sample, write a report to a temporary folder; exit 0 or 1
"""


def configure_logging(data_dir: Path) -> None:
    """Errors go to <data>/logs/ran-desktop.log (rotated), so a support call has something to look at.

    The log holds no patient data: PrivacyFilter withholds every value the code does not mark Public, and errors
    are logged as types and code locations only (docs/privacy.md).
    """
    import logging.handlers  # here, not at the top: with the socket module it pulls in, it slows the start

    try:
        folder = data_dir / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(folder / "ran-desktop.log", maxBytes=1 << 20, backupCount=3,
                                                       encoding="utf-8")
    except OSError:
        return  # an unwritable data folder is reported when the database opens
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
    handler.addFilter(PrivacyFilter())
    logger = logging.getLogger("ran_desktop")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def app_icon() -> QIcon:
    """The app's icon in every size it ships, so Qt picks a sharp one at any scale."""
    icon = QIcon()
    for png in sorted((resources_dir() / "icons").glob("ran-screening-*.png")):
        icon.addFile(str(png))
    return icon


def launch(paths: Sequence[str | Path] = (), data_dir: Path | None = None, models_folder: Path | None = None,
           reporter: CrashReporter | None = None) -> MainWindow:
    """Show the main window, then start loading the model and queue `paths`."""
    window = MainWindow(data_dir, models_folder, reporter)
    window.show()
    # The grader sees the window now: its first frame is drawn before the session database is opened (which loads
    # the database layer). A minimised window gets no paint: it waits a moment at most.
    deadline = time.monotonic() + FIRST_FRAME_WAIT_S
    while not window.painted and time.monotonic() < deadline:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    window.open_database()
    window.start()
    if paths:
        window.add_paths([Path(p) for p in paths])
    return window


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    forbid_network_libraries()
    if "--version" in args:
        print(f"{APP_NAME} {ran_desktop.__version__}")
        return 0
    if "--self-test" in args:  # checked before any QApplication exists: the self-test opens no window
        from ran_desktop.selftest import main as self_test

        return self_test(args)
    if "-h" in args or "--help" in args:
        print(USAGE)
        return 0
    # Fractional scale factors (125 %, 150 %) as the system sets them, not rounded: crisp on 4K screens.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(ran_desktop.__version__)
    QApplication.setWindowIcon(app_icon())
    QGuiApplication.setDesktopFileName("ran-screening")  # links the window to the installed menu entry (Wayland)
    if problem := binding_problem():
        print(problem, file=sys.stderr)
        QtWidgets.QMessageBox.critical(None, f"{APP_NAME} cannot start", problem)
        return 1
    paths = [a for a in app.arguments()[1:] if not a.startswith("-")]  # Qt has removed its own options
    data_dir = default_data_dir()
    configure_logging(data_dir)
    reporter = CrashReporter(app)
    reporter.install()
    try:
        window = launch(paths, data_dir, reporter=reporter)  # noqa: F841 (the reference keeps the window alive)
    except StorageError as exc:
        QtWidgets.QMessageBox.critical(None, f"{APP_NAME} cannot start", str(exc))
        return 1
    try:
        return app.exec()
    finally:
        reporter.uninstall()
