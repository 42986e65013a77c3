"""The main window: brings images in, shows the worklist and the selected image, and records the grader's review.

It only wires widgets to the controllers that own the threads (ScreeningController: model and batches;
DetailController: previews and Grad-CAM; ReportExporter: PDF reports) and to the session database (decisions are
saved from here, one commit each). Importing this module never imports torch. The workspace (list, picture, review
form, with the preview and report controllers) is built once the empty window has been painted, or when images
arrive: the empty window a grader first sees comes up sooner without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6 import QtWidgets
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent, QPaintEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ran_desktop import gui
from ran_desktop.engine import records
from ran_desktop.engine.errors import WriteError
from ran_desktop.engine.imaging.loading import SUPPORTED_SUFFIXES
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import GraderDecision, ImageRecord, blinded
from ran_desktop.engine.records.review_session import NoGraderError, ReviewSession
from ran_desktop.engine.records.storage import (
    DATABASE_NAME,
    StaleDecisionError,
    Storage,
    StorageError,
    default_data_dir,
    open_storage,
)
from ran_desktop.gui import display
from ran_desktop.gui.actions import build_actions, build_menus, load_icons, shortcut_table
from ran_desktop.gui.banner import ClinicalWarningBanner
from ran_desktop.gui.crash import CrashReporter
from ran_desktop.gui.drops import dropped_paths
from ran_desktop.gui.empty_state import EmptyState
from ran_desktop.gui.messages import show_message
from ran_desktop.gui.results_filter import ResultsFilterProxy
from ran_desktop.gui.results_model import KEY_ROLE, RECORD_ROLE, Column, ResultsTableModel
from ran_desktop.gui.screening_controller import ScreeningController
from ran_desktop.gui.settings import AppSettings
from ran_desktop.gui.status_bar import AppStatusBar
from ran_desktop.gui.tasks import TaskFailure, TaskRunner
from ran_desktop.gui.view_modes import GRADCAM
from ran_desktop.logsafe import Public
from ran_desktop.paths import models_dir, sample_images

if TYPE_CHECKING:
    from ran_desktop.engine.model.bundle import LoadedModel
    from ran_desktop.gui.detail_controller import DetailController
    from ran_desktop.gui.detail_panel import DetailPanel
    from ran_desktop.gui.patient_panel import PatientPanel
    from ran_desktop.gui.report_export import ReportExporter
    from ran_desktop.gui.results_panel import ResultsPanel
    from ran_desktop.gui.review_panel import ReviewPanel
    from ran_desktop.gui.workspace import Workspace

log = logging.getLogger("ran_desktop")
FORMATS = "JPEG, PNG, TIFF, BMP and DICOM"


def _audit_problems(report: object, database: Path) -> list[str]:
    """What is wrong with the audit trail (Storage.verify_audit), on a connection of the worker's own."""
    with Storage(database) as storage:
        return storage.verify_audit()


def _prepare_storage(data_dir: Path, preferred: int | None = None) -> tuple[Path | None, int]:
    """Open the session database as open_storage does (a damaged one is set aside), pick the session to continue
    (`preferred`, the grader's own last one, where it still exists: another window or workstation on this data
    folder may have started a newer one), and close it again: where a damaged database was kept, and the id."""
    storage = open_storage(data_dir)
    try:
        if preferred is not None and storage.has_session(preferred):
            return storage.set_aside, preferred
        return storage.set_aside, storage.current_session()
    finally:
        storage.close()


FIRST_START_SHARE = 90  # percent of the screen's width and height the window takes on its first start


class MainWindow(QMainWindow):
    shown = Signal()

    def __init__(self, data_dir: Path | None = None, models_folder: Path | None = None,
                 reporter: CrashReporter | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("RAN Screening")
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        # The session database is prepared (created or migrated, checked for damage, the session chosen) in a
        # thread while the widgets are built: that is mostly waiting for the disk (a new database is synced to it
        # several times), which sqlite does without holding the interpreter lock.
        self.settings = AppSettings(self.data_dir)
        opener = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ran-open-database")
        prepared = opener.submit(_prepare_storage, self.data_dir, self.settings.last_session(self.settings.grader_name))
        opener.shutdown(wait=False)
        self.reporter = reporter or CrashReporter(self)
        self.reporter.window = self
        self.results = ResultsTableModel(self)
        self.results.review_mode = self.settings.review_mode
        self.proxy = ResultsFilterProxy(self)
        self.proxy.setSourceModel(self.results)
        self._pending_decision: tuple[ImageRecord, GraderDecision, str | None] | None = None
        self._last_decided: str | None = None  # the image whose decision was saved last (what Ctrl+Z undoes)
        self._closed = False
        self._workspace: Workspace | None = None
        self._painted = False
        self._load_after_paint = False
        self._settled = False  # what waits for the first paint has been done

        self._build_widgets()
        try:
            set_aside, session_id = prepared.result()
        except StorageError:
            # Delete the half-built window now. Left to the garbage collector, its widgets would be destroyed at
            # some arbitrary later moment, possibly while Qt holds a lock, which deadlocked a later window's start.
            shiboken6.delete(self)
            raise
        # The window's own connection (a connection belongs to the thread that opened it); checked a moment ago.
        self.storage = Storage(self.data_dir / DATABASE_NAME)
        self.storage.set_aside = set_aside
        self.review_session = ReviewSession(self.storage, session_id)
        self.settings.remember_session(self.settings.grader_name, self.session_id)
        self._changed_files: list[str] = []  # files replaced since screened, told when the batch ends
        self.controller = ScreeningController(self.storage.path, self.session_id, models_folder or models_dir(),
                                              self.settings.device_request, self)
        self.commands = build_actions(self, self._handlers())  # not `actions`: QWidget.actions() exists
        build_menus(self, self.commands)
        self._connect()
        for command in (self.commands.report_current, self.commands.report_selected, self.commands.report_batch):
            command.setEnabled(False)  # until the report exporter, built with the workspace, says otherwise
        self.results.set_records(self._load_session(self.session_id))
        self._after_rows_changed()
        self._restore_window_state()
        self.setAcceptDrops(True)
        if self.storage.set_aside is not None:
            QTimer.singleShot(0, self._tell_database_set_aside)  # once the window is up, so the message has a parent
        # The audit trail's chain is checked off the start path: it grows with every decision ever saved.
        self._audit_runner = TaskRunner("ran-audit-check", 1, self)
        self._audit_runner.submit(_audit_problems, self.storage.path, on_done=self._tell_audit_broken)

    def start(self) -> None:
        """Begin loading the model in the background (call after show(): the window comes first).

        A window on screen is painted first: the loader's imports (torch) would hold the interpreter while it draws.
        """
        if self.isVisible() and not self._painted:
            self._load_after_paint = True
            self._on_model_loading()
            QTimer.singleShot(1000, self._after_first_paint)  # in case no paint comes (a minimised window)
        else:
            self.controller.load_model()

    # --- building -----------------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        fm = self.fontMetrics()
        self.banner = ClinicalWarningBanner()
        self.empty = EmptyState(FORMATS)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        margin = fm.height() // 3
        inner_layout.setContentsMargins(margin, margin, margin, 0)
        inner_layout.addWidget(self.stack)
        layout.addWidget(inner, 1)
        self.setCentralWidget(central)
        self.status = AppStatusBar()
        self.setStatusBar(self.status)
        self.status.set_grader(self.settings.grader_name)

        self._patient_refresh = QTimer(self)
        self._patient_refresh.setSingleShot(True)
        self._patient_refresh.setInterval(300)  # regroup once per burst of new results, not per image
        self._patient_refresh.timeout.connect(self._refresh_patients)
        self._patients_stale = True

    # --- the workspace: list, picture and review form, built on first need ---------------------------------

    @property
    def session_id(self) -> int:
        """The open session (the review session service holds it)."""
        return self.review_session.session_id

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._build_workspace()
        assert self._workspace is not None  # _build_workspace sets it
        return self._workspace

    @property
    def workspace_built(self) -> bool:
        return self._workspace is not None

    # The workspace's parts, as the rest of the window and the tests know them.
    list_panel: ResultsPanel = property(lambda self: self.workspace.list_panel)  # type: ignore[assignment]
    table = property(lambda self: self.workspace.table)
    patients: PatientPanel = property(lambda self: self.workspace.patients)  # type: ignore[assignment]
    list_tabs = property(lambda self: self.workspace.list_tabs)
    detail: DetailPanel = property(lambda self: self.workspace.detail)  # type: ignore[assignment]
    review: ReviewPanel = property(lambda self: self.workspace.review)  # type: ignore[assignment]
    splitter = property(lambda self: self.workspace)
    filter_referable = property(lambda self: self.workspace.list_panel.filter_referable)
    filter_ungradable = property(lambda self: self.workspace.list_panel.filter_ungradable)
    filter_unreviewed = property(lambda self: self.workspace.list_panel.filter_unreviewed)
    search = property(lambda self: self.workspace.list_panel.search)
    count_label = property(lambda self: self.workspace.list_panel.count_label)

    @property
    def details(self) -> DetailController:
        """The previews and Grad-CAM of the image shown: built with the workspace."""
        self.workspace  # noqa: B018 (the property builds it)
        return self._details

    @property
    def reports(self) -> ReportExporter:
        """PDF reports of the images listed: built with the workspace."""
        self.workspace  # noqa: B018
        return self._reports

    def _build_workspace(self) -> None:
        # Its modules load with it, after the window is up.

        ws = gui.workspace.Workspace(self.proxy, self.settings.view_mode, self.settings.heat_opacity)
        self._workspace = ws
        self._details = gui.detail_controller.DetailController(self)
        self._reports = gui.report_export.ReportExporter(self, self)
        self.stack.addWidget(ws)
        for name, target in ws.remembered_layout():
            saved = self.settings.window_state(name)
            if saved is not None:
                target.restoreState(saved)

        self.details.unexpected.connect(self.reporter.report)
        if self.controller.loaded is not None:
            self.details.set_model(self.controller.loaded)
        self.details.previewReady.connect(ws.detail.show_preview)
        self.details.previewFailed.connect(ws.detail.show_preview_failed)
        self.details.heatReady.connect(ws.detail.show_heat)
        self.details.heatUnavailable.connect(ws.detail.show_heat_unavailable)
        ws.detail.modeChanged.connect(self._on_mode_changed)
        ws.detail.heatRequested.connect(lambda head, grade: self.details.request_heat(self._heat_request()))
        ws.detail.opacityChanged.connect(lambda value: setattr(self.settings, "heat_opacity", value))
        ws.review.decisionRequested.connect(self._on_decision_requested)
        ws.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        ws.patients.recordSelected.connect(self.select_key)
        ws.list_tabs.currentChanged.connect(self._on_list_tab_changed)
        ws.list_panel.update_count()
        self.reports.attach(self.commands, ws)
        self._hand_review_mode(ws, self.settings.review_mode)
        ws.list_panel.set_filter_state(self.settings.list_filters)  # as the grader left them
        current = self.settings.list_current
        if current and self.results.row_of(current) is not None:
            self.select_key(current)

    def _in_workspace(self, command: Callable[..., object]) -> Callable[..., None]:
        """A command on the list, the picture or the review form: with no image yet, there is nothing to act on."""
        def run(*args: object) -> None:
            if self._workspace is not None:
                command(self._workspace, *args)
        return run

    def _set_view_mode(self, mode: str) -> None:
        if self._workspace is not None:
            self._workspace.detail.set_mode(mode)
        else:
            self.settings.view_mode = mode  # the panel opens in it

    def _handlers(self) -> dict:
        ws = self._in_workspace
        return {
            "open_files": self.open_files, "open_folder": self.open_folder, "try_sample": self.try_sample,
            "export": self.export_dialog, "new_session": self.new_session_dialog, "settings": self.settings_dialog,
            "sessions": self.sessions_dialog,
            "quit": self.close, "cancel": self.cancel_screening, "next_image": lambda: self.move_selection(1),
            "previous_image": lambda: self.move_selection(-1), "confirm": ws(lambda w: w.review.submit()),
            "ungradable": ws(lambda w: w.review.toggle_ungradable()),
            "accept_model": ws(lambda w: w.review.accept_model()),
            "undo_decision": self.undo_last_decision, "not_reviewed": self.set_current_not_reviewed,
            "zoom_in": ws(lambda w: w.detail.view.zoom_in()),
            "zoom_out": ws(lambda w: w.detail.view.zoom_out()), "fit": ws(lambda w: w.detail.view.fit()),
            "shortcuts": self.show_shortcuts, "about": self.show_about, "performance": self.performance_dialog,
            "dr_grade": ws(lambda w, grade: w.review.set_dr_grade(grade)),
            "dme_grade": ws(lambda w, grade: w.review.set_dme_grade(grade)), "view_mode": self._set_view_mode,
            "report_current": lambda: self.reports.export_current(),
            "report_selected": lambda: self.reports.export_selected(),
            "report_batch": lambda: self.reports.export_batch(), "report_dicom": lambda: self.reports.set_dicom(),
        }

    def _connect(self) -> None:
        c = self.controller
        c.modelLoading.connect(self._on_model_loading)
        c.modelReady.connect(self._on_model_ready)
        c.modelFailed.connect(self._on_model_failed)
        c.waiting.connect(self.status.show_waiting)
        c.progressed.connect(self.status.show_progress)
        c.thumbnailsArrived.connect(self.results.add_thumbnails)
        c.recordsArrived.connect(self._on_records)
        c.batchFinished.connect(self._on_batch_finished)
        c.fileChanged.connect(self._on_file_changed)
        c.batchFailed.connect(self._on_batch_failed)
        c.unexpected.connect(self.reporter.report)
        self.status.cancel_button.clicked.connect(self.cancel_screening)
        for signal in (self.results.rowsInserted, self.results.modelReset, self.results.dataChanged):
            signal.connect(self._after_rows_changed)

        self.empty.sampleRequested.connect(self.try_sample)
        self.empty.openFilesRequested.connect(self.open_files)
        self.empty.openFolderRequested.connect(self.open_folder)

    # --- bringing images in -------------------------------------------------------------------------------

    def add_paths(self, paths: list[Path]) -> None:
        if not paths:
            return
        # Absolute: the session is reopened later, perhaps from another working folder.
        paths = [Path(p).absolute() for p in paths]
        if self.controller.model_state == "failed":
            show_message(self, "Cannot screen", f"No model is loaded, so nothing can be screened.\n\n"
                                                f"{self.controller.model_error}")
            return
        self.workspace  # noqa: B018 (built now, before the batch's threads compete with it for the interpreter)
        self.controller.enqueue(paths)
        what = paths[0].name if len(paths) == 1 else f"{len(paths)} items"
        self.status.showMessage(f"Added {what} to the screening queue", 4000)

    def try_sample(self) -> None:
        self.add_paths(sample_images())

    def open_files(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES))
        files, _ = self.choose_files(self, "Open fundus photographs", self._last_open_folder(),
                                     f"Fundus photographs ({patterns});;All files (*)")
        if files:
            self.settings.open_folder = str(Path(files[0]).parent)
        self.add_paths([Path(f) for f in files])

    def open_folder(self) -> None:
        folder = self.choose_folder(self, "Open a folder of fundus photographs", self._last_open_folder())
        if folder:
            self.settings.open_folder = str(Path(folder).parent)
            self.add_paths([Path(folder)])

    def _last_open_folder(self) -> str:
        """Where the open dialogs start: where photographs came from last time, if it is still there."""
        folder = self.settings.open_folder
        return folder if folder and Path(folder).is_dir() else ""

    @staticmethod
    def choose_files(parent: QWidget, caption: str, start: str, filters: str) -> tuple[list[str], str]:
        return QtWidgets.QFileDialog.getOpenFileNames(parent, caption, start, filters)

    @staticmethod
    def choose_folder(parent: QWidget, caption: str, start: str) -> str:
        return QtWidgets.QFileDialog.getExistingDirectory(parent, caption, start)

    def cancel_screening(self) -> None:
        if self.controller.running or self.controller.queued:
            self.controller.cancel()
            self.status.showMessage("Cancelling… images already screened stay in the list", 4000)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # --- model and batches --------------------------------------------------------------------------------

    def _on_model_loading(self) -> None:
        self.status.set_model_loading()
        self.empty.set_status("Loading the model in the background… you can already add photographs.")

    def _on_model_ready(self, loaded: LoadedModel) -> None:
        manifest = loaded.manifest
        log.info("model %s loaded from %s on %s", Public(manifest.title), Public(str(loaded.folder)),
                 Public(loaded.device.description))
        self.status.set_model(manifest.title, loaded.device.description, loaded.device.note)
        self.banner.set_warning(manifest.clinical_warning, severe=not manifest.trained)
        self.empty.set_status(f"Model {manifest.title} ready on {loaded.device.description}.")
        if loaded.device.note:
            self.status.showMessage(loaded.device.note, 10000)
        if loaded.trust_warning:
            log.warning("models folder writable by everyone")
            show_message(self, "The model's folder is not protected", loaded.trust_warning)
        if self._workspace is not None:  # else it is given the model when built
            self.details.set_model(loaded)

    def _on_model_failed(self, reason: str) -> None:
        log.error("no model: %s", Public(reason))  # about the bundle and the device, never about a patient's file
        self.status.set_model_failed(reason)
        self.status.hide_progress()
        self.empty.set_status(f"No model could be loaded: {reason}")
        show_message(self, "The model could not be loaded", f"{reason}\n\nImages cannot be screened until a "
                                                            f"working model bundle is installed.")

    def _on_records(self, records: list[ImageRecord]) -> None:
        # New rows may sort in above what the grader is looking at: keep the current (else the top) row where it
        # is on screen, so the list does not jump under the cursor while a batch runs.
        table = self.table
        anchor = table.currentIndex() if table.currentIndex().isValid() else table.indexAt(QPoint(1, 1))
        key = anchor.data(KEY_ROLE) if anchor.isValid() else None
        before = table.rowViewportPosition(anchor.row()) if anchor.isValid() else 0
        self.results.add_records(records)
        row = self.results.row_of(key) if key else None
        if row is not None:
            moved = self.proxy.mapFromSource(self.results.index(row, 0))
            shift = table.rowViewportPosition(moved.row()) - before if moved.isValid() else 0
            if shift:
                bar = table.verticalScrollBar()
                per_pixel = table.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerPixel
                bar.setValue(bar.value() + (shift if per_pixel else round(shift / max(table.rowHeight(0), 1))))
        if not table.currentIndex().isValid() and self.proxy.rowCount():
            table.setCurrentIndex(self.proxy.index(0, Column.FILE))  # a newcomer sees a result at once

    def _on_batch_finished(self, stored: int, total: int, cancelled: bool) -> None:
        if self.controller.running:
            return
        self.status.hide_progress()
        log.info("batch %s: %d image(s) stored of %d file(s)", Public("cancelled" if cancelled else "done"), stored,
                 total)
        errors = sum(r.status is Status.ERROR for r in self.results.records())
        if cancelled:
            text = f"Cancelled: {stored} image(s) screened before stopping; they stay in the list."
        else:
            text = f"Screened {stored} image(s)."
        if errors:
            text += f" {errors} file(s) in the list could not be read: see the Quality column."
        self.status.showMessage(text, 15000)
        self._tell_changed_files()

    def _on_file_changed(self, message: str) -> None:
        self._changed_files.append(message)

    def _tell_changed_files(self) -> None:
        """Files that held another photograph when screened before: said once, when the batch ends, in a dialog
        (a status-bar line could pass unseen, and a decision's photograph is what a grader must not mistake)."""
        changed, self._changed_files = self._changed_files, []
        if not changed:
            return
        shown_rows = {r.image_id: r for r in self.results.records()}
        for stored in self.storage.load_session(self.session_id):
            if stored.superseded and stored.image_id in shown_rows and not shown_rows[stored.image_id].superseded:
                self.results.update_record(stored)  # its Review cell now says the file was replaced
        shown = "\n\n".join(changed[:8]) + (f"\n\n... and {len(changed) - 8} more." if len(changed) > 8 else "")
        show_message(self, "Files replaced since they were screened", shown)

    def _on_batch_failed(self, failure: TaskFailure) -> None:
        self.status.hide_progress()
        self._tell_changed_files()
        log.error("screening stopped\n  %s", Public(failure.trace))  # the message may quote a file: not logged
        if failure.expected:
            show_message(self, "Screening stopped", f"{failure.message}\n\nImages screened before this stay "
                                                    f"in the list.")
        else:
            self.reporter.report(f"Screening stopped: {failure.message}", failure.details, failure.trace)

    # --- the list -----------------------------------------------------------------------------------------

    def _after_rows_changed(self, *args: object) -> None:
        if self.results.rowCount():
            self.stack.setCurrentWidget(self.workspace)
        else:
            self.stack.setCurrentWidget(self.empty)
        self._patient_refresh.start()
        if self._workspace is not None:
            self._workspace.list_panel.update_count()

    def _refresh_patients(self) -> None:
        # Regrouping thousands of images is only worth it when someone is looking at the patient view.
        if self._workspace is not None and self._workspace.patients_shown():
            self.patients.refresh(self.results.records(), self.settings.file_name_patterns)
            self._patients_stale = False
        else:
            self._patients_stale = True

    def _on_list_tab_changed(self) -> None:
        if self.workspace.patients_shown() and self._patients_stale:
            self._refresh_patients()

    def current_record(self) -> ImageRecord | None:
        if self._workspace is None:
            return None
        index = self.table.currentIndex()
        return index.data(RECORD_ROLE) if index.isValid() else None

    def select_key(self, key: str) -> bool:
        row = self.results.row_of(key)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.results.index(row, Column.FILE))
        if not index.isValid():
            self.status.showMessage("That image is hidden by the filters", 4000)
            return False
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.scrollTo(index)
        return True

    def move_selection(self, step: int) -> None:
        rows = self.proxy.rowCount()
        if not rows or self._workspace is None:
            return
        if self._workspace.patients_shown():  # N/P follow the images as the patient tree shows them
            keys = self.patients.image_keys()
            record = self.current_record()
            at = keys.index(record.key) if record is not None and record.key in keys else -1
            if keys:
                self.select_key(keys[0 if at < 0 else max(0, min(len(keys) - 1, at + step))])
            return
        current = self.table.currentIndex()
        row = 0 if not current.isValid() else max(0, min(rows - 1, current.row() + step))
        self.table.selectionModel().setCurrentIndex(
            self.proxy.index(row, Column.FILE),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(self.proxy.index(row, Column.FILE))

    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        record = current.data(RECORD_ROLE) if current.isValid() else None
        if record is None:
            self.detail.clear()
            self.review.show_record(None)
            self.details.open(None, None)
            return
        self.detail.show_record(record)
        self.review.show_record(record)
        self.details.open(record, self._heat_request())
        self.patients.select_key(record.key)

    def _heat_request(self) -> tuple[str, int | None] | None:
        record = self.current_record()
        if record is not None and blinded(record, self.settings.review_mode):
            return None  # blind-first review: no heat map before the grader's decision
        return (self.detail.head, self.detail.grade) if self.detail.mode == GRADCAM else None

    @staticmethod
    def _hand_review_mode(ws: Workspace, mode: str) -> None:
        """The views of the workspace that could show the model's grades, told the clinic's review mode."""
        ws.review.review_mode = ws.detail.review_mode = ws.patients.model.review_mode = mode

    def apply_review_mode(self) -> None:
        """The clinic's review mode, to every view that could show the model's grades."""
        mode = self.settings.review_mode
        self.results.set_review_mode(mode)
        if self._workspace is not None:
            self._hand_review_mode(self._workspace, mode)
            self.proxy.invalidate()
            self._refresh_patients()
            record = self.current_record()
            if record is not None:
                self._on_current_changed(self.table.currentIndex(), QModelIndex())

    def _on_mode_changed(self, mode: str) -> None:
        self.settings.view_mode = mode
        self.details.request_heat(self._heat_request())

    # --- review -------------------------------------------------------------------------------------------

    def _on_decision_requested(self, draft: GraderDecision) -> None:
        record = self.current_record()
        if record is None or record.key != (self.review.record.key if self.review.record else None):
            return
        following = self._neighbour_key(record.key)
        if not self.settings.grader_name:
            self._pending_decision = (record, draft, following)
            self._ask_grader_name()
            return
        self._save_decision(record, draft, following)

    def _save_decision(self, record: ImageRecord, draft: GraderDecision, following: str | None) -> None:
        try:
            updated = self.review_session.record_decision(record, draft, self.settings.grader_name)
        except StaleDecisionError as exc:
            self._show_theirs(exc)
            return
        except (StorageError, ValueError) as exc:
            show_message(self, "The decision was not saved", str(exc))
            return
        stored = updated.decision
        assert stored is not None  # record_decision stores one
        self._last_decided = updated.key
        self.review.saved(updated)
        self.results.update_record(updated)
        self.status.showMessage(f"Saved: {stored.kind} by {stored.grader} ({record.result.path.name})", 5000)
        if following is None or not self.select_key(following):
            current = self.current_record()
            if current is not None and current.key == updated.key:
                self.review.show_record(updated)
                self.detail.show_record(updated)
            elif current is None and self.proxy.rowCount():
                self.move_selection(0)
        # Back to the list: the next keys are grades and N/P, not more text in the field typed in last.
        (self.patients.tree if self.workspace.patients_shown() else self.table).setFocus()

    def undo_last_decision(self) -> None:
        """Ctrl+Z: the image saved last gets back the decision it had before (or none); audited."""
        key = self._last_decided
        row = self.results.row_of(key) if key else None
        if row is None:
            self.status.showMessage("There is no decision to undo in this session", 5000)
            return
        record = self.results.record(row)
        self._change_decision(
            record, lambda grader: self.review_session.undo(record, grader),
            "Undone: {name} is back to {state}")
        self._last_decided = None

    def set_current_not_reviewed(self) -> None:
        record = self.current_record()
        if record is None or record.decision is None:
            self.status.showMessage("This image has no decision to remove", 5000)
            return
        self._change_decision(
            record, lambda grader: self.review_session.set_not_reviewed(record, grader),
            "{name} is {state} again")

    def _change_decision(self, record: ImageRecord, change: Callable[[str], ImageRecord], message: str) -> None:
        try:
            updated = change(self.settings.grader_name)
        except NoGraderError as exc:
            show_message(self, "Who is grading?", str(exc))
            return
        except StaleDecisionError as exc:
            self._show_theirs(exc)
            return
        except (StorageError, ValueError) as exc:
            show_message(self, "The decision was not changed", str(exc))
            return
        self.review.saved(updated)
        self.results.update_record(updated)
        state = "not reviewed" if updated.decision is None else display.review_text(updated)
        self.status.showMessage(message.format(name=record.result.path.name, state=state), 6000)
        self.select_key(updated.key)
        current = self.current_record()
        if current is not None and current.key == updated.key:
            self.review.show_record(updated)
            self.detail.show_record(updated)

    def _show_theirs(self, exc: StaleDecisionError) -> None:
        """Another window or workstation changed this decision since it was shown: nothing was saved. The row, the
        form and the detail now show what is stored, and the grader is told both values."""
        current = exc.current
        self.results.update_record(current)
        shown = self.current_record()
        if shown is not None and shown.image_id == current.image_id:
            self.review.show_record(current)
            self.detail.show_record(current)
        show_message(self, "Changed elsewhere: not saved", str(exc))

    def _neighbour_key(self, key: str) -> str | None:
        """The image after `key` in the list as shown (or before it, at the end)."""
        if self._workspace is not None and self._workspace.patients_shown():
            keys = self.patients.image_keys()
            if key in keys:
                at = keys.index(key)
                for candidate in (at + 1, at - 1):
                    if 0 <= candidate < len(keys):
                        return keys[candidate]
                return None
        row = self.results.row_of(key)
        if row is None:
            return None
        index = self.proxy.mapFromSource(self.results.index(row, 0))
        for candidate in (index.row() + 1, index.row() - 1):
            if 0 <= candidate < self.proxy.rowCount():
                return self.proxy.index(candidate, 0).data(RECORD_ROLE).key
        return None

    def _ask_grader_name(self) -> None:
        dialog = QtWidgets.QInputDialog(self)
        dialog.setObjectName("graderNameDialog")
        dialog.setWindowTitle("Who is grading?")
        dialog.setLabelText("Your name is stored with every decision you make (asked once; change it in Settings):")
        dialog.setInputMode(QtWidgets.QInputDialog.InputMode.TextInput)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(self._on_grader_name)
        dialog.open()

    def _on_grader_name(self, name: str) -> None:
        pending, self._pending_decision = self._pending_decision, None
        if not name.strip():
            self.review.problem.setText("The decision was not saved: a grader name is needed.")
            return
        self.settings.grader_name = name
        self.settings.remember_session(name, self.session_id)
        self.status.set_grader(self.settings.grader_name)
        if pending is not None:
            self._save_decision(*pending)

    # --- session, export, dialogs -------------------------------------------------------------------------

    def export_dialog(self) -> None:
        folder = self.settings.export_folder or str(Path.home())
        suggested = str(Path(folder) / f"ran-screening-{date.today().isoformat()}.csv")

        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export results", suggested, "CSV (*.csv);;JSON (*.json)")
        if path:
            self.export_results(Path(path))

    def export_results(self, path: Path) -> bool:
        if path.suffix.lower() not in (".csv", ".json"):
            path = path.with_suffix(".csv")

        try:
            records.session_export.write_session(self.results.records(), path)
        except WriteError as exc:
            show_message(self, "Export failed", f"The results could not be written to {path}:\n{exc.reason}.")
            return False
        except ValueError as exc:
            show_message(self, "Export failed", f"The results could not be written to {path}:\n{exc}")
            return False
        self.status.showMessage(f"Exported {self.results.rowCount()} image(s) to {path}", 8000)
        return True

    def _tell_database_set_aside(self) -> None:
        kept = self.storage.set_aside
        if kept is None:
            return
        log.warning("damaged session database set aside as %s; a new one was started", Public(kept.name))
        show_message(self, "The session database was damaged",
                     f"The session database could not be read, so a new, empty one was started.\n\n"
                     f"The damaged file was kept, unchanged, as:\n{kept}\n\n"
                     f"Nothing was deleted: whoever supports this installation may be able to recover earlier "
                     f"results and decisions from it.")

    def _load_session(self, session_id: int) -> list[ImageRecord]:
        """The session's records; damaged rows are left out (untouched in the database) and the grader is told."""
        records = self.storage.load_session(session_id)
        if self.storage.unreadable_rows:
            rows = self.storage.unreadable_rows
            log.warning("%d damaged row(s) left out of session %d", len(rows), session_id)
            QTimer.singleShot(0, lambda: show_message(
                self, "Some results cannot be read",
                f"{len(rows)} image(s) of this session cannot be read from the session database (their stored "
                "result is damaged) and are left out of the list; everything else opened. The rows are kept, "
                "unchanged, for whoever supports this installation. Screen those files again to grade them.\n\n"
                + "\n".join(f"- {r}" for r in rows[:10])))
        return records

    def _tell_audit_broken(self, problems: list[str]) -> None:
        if not problems or self._closed:
            return
        log.warning("audit trail check failed: %d finding(s)", len(problems))
        show_message(self, "The audit trail has been altered",
                     "The session database's audit trail does not hold together: it was changed outside this app "
                     "(a decision or an audit entry edited, removed or inserted). Decisions shown may not be what "
                     "the graders saved. The app still works; tell whoever supports this installation, and keep a "
                     "copy of the database as it is.\n\n" + "\n".join(f"- {p}" for p in problems))

    def new_session_dialog(self) -> None:
        message_box = QtWidgets.QMessageBox
        if self.controller.running or self.controller.queued:
            show_message(self, "Screening is running", "Wait for the batch to finish, or cancel it, before "
                                                       "starting a new session.", icon=message_box.Icon.Information)
            return
        box = message_box(message_box.Icon.Question, "Start a new session?",
                          "The list will be emptied. Its images, results and decisions stay in the session "
                          "database: File > Sessions reopens it.",
                          message_box.StandardButton.Ok | message_box.StandardButton.Cancel, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(self.start_new_session)
        box.open()

    def performance_dialog(self) -> None:
        loaded = self.controller.loaded
        bundle = (loaded.manifest.title, str(loaded.manifest.weights["sha256"])) if loaded is not None else None
        dialog = gui.performance_dialog.PerformanceDialog(self.storage.path, parent=self, bundle=bundle,
                                                          grader=self.settings.grader_name)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def sessions_dialog(self) -> None:
        dialog = gui.sessions_dialog.SessionsDialog(self.storage.sessions, self.session_id, self.open_session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def open_session(self, session_id: int) -> None:
        """Show an earlier session (its images, decisions and audit trail) as the current one."""
        if self.controller.running or self.controller.queued:
            show_message(self, "A batch is being screened", "Wait for it to finish, or cancel it (Esc), before "
                                                            "opening another session.")
            return
        try:
            self.review_session.open(session_id)
        except (StorageError, ValueError) as exc:
            show_message(self, "The session was not opened", str(exc))
            return
        self.settings.remember_session(self.settings.grader_name, session_id)
        self.controller.set_session(session_id)
        self.results.set_records(self._load_session(session_id))
        self.status.showMessage(f"Session {session_id} opened: {self.results.rowCount()} image(s)", 5000)
        if self.results.rowCount():
            self.move_selection(0)

    def start_new_session(self) -> None:
        try:
            self.review_session.start_new()
        except StorageError as exc:
            show_message(self, "No new session", str(exc))
            return
        self.settings.remember_session(self.settings.grader_name, self.session_id)
        self.controller.set_session(self.session_id)
        self.results.set_records([])
        self.status.showMessage("New session started", 4000)

    def settings_dialog(self) -> None:
        dialog = gui.settings_dialog.SettingsDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.status.set_grader(self.settings.grader_name))
        dialog.accepted.connect(lambda: self.settings.remember_session(self.settings.grader_name, self.session_id))
        dialog.accepted.connect(self.apply_review_mode)
        dialog.open()

    def show_about(self) -> None:
        dialog = gui.about_dialog.AboutDialog(self.controller.loaded, self.controller.model_error, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def show_shortcuts(self) -> None:
        show_message(self, "Keyboard shortcuts", shortcut_table(self.commands),
                     icon=QtWidgets.QMessageBox.Icon.Information)

    # --- window life --------------------------------------------------------------------------------------

    def _restore_window_state(self) -> None:
        geometry = self.settings.window_state("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            # First start: most of the screen, centred (the list, the picture and the form all need room).
            screen = self.screen().availableGeometry()
            size = QSize(screen.width() * FIRST_START_SHARE // 100, screen.height() * FIRST_START_SHARE // 100)
            self.resize(size)
            self.move(screen.center() - QPoint(size.width() // 2, size.height() // 2))
        state = self.settings.window_state("state")
        if state is not None:
            self.restoreState(state)
        # The workspace's own layout is restored when it is built.

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.shown.emit()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self._painted:
            # The grader sees the window now. Next turn: the workspace is built (before any batch, whose threads
            # would make building it stall the window), then the model starts loading if start() asked for it.
            self._painted = True
            QTimer.singleShot(0, self._after_first_paint)

    def _after_first_paint(self) -> None:
        if self._closed or self._settled:
            return  # the fallback timer after start(), once the paint has done this
        self._settled = True
        load_icons(self.commands)
        self.workspace  # noqa: B018 (the property builds it)
        if self._load_after_paint:
            self._load_after_paint = False
            self.controller.load_model()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._closed:
            event.accept()
            return
        self._closed = True
        self.settings.set_window_state("geometry", self.saveGeometry())
        self.settings.set_window_state("state", self.saveState())
        if self._workspace is not None:  # else what was saved last time stays
            for name, target in self._workspace.remembered_layout():
                self.settings.set_window_state(name, target.saveState())
            self.settings.list_filters = self._workspace.list_panel.filter_state()
            record = self.current_record()
            self.settings.list_current = record.key if record is not None else ""
        self._patient_refresh.stop()
        self.controller.shutdown()
        self._audit_runner.shutdown()
        if self._workspace is not None:
            self.details.shutdown()
            self.reports.shutdown()
        self.storage.close()
        if self.reporter.window is self:
            self.reporter.window = None
        event.accept()
