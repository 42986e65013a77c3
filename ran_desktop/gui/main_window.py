"""The main window: brings images in, shows the worklist and the selected image, and wires the grader's review.

It only connects widgets to the objects that do the work: ScreeningController (model and batches, in threads),
DetailController (previews and Grad-CAM), ReportExporter (PDF reports), Worklist (where the grader is in the list),
ReviewFlow (decisions, through the engine's ReviewSession), SessionFlow (sessions and export) and ScreeningFeedback
(what the grader is told about the model and batches). Importing this module never imports torch. The workspace
(list, picture, review form, with the preview and report controllers) is built once the empty window has been
painted, or when images arrive: the empty window a grader first sees comes up sooner without it.

Long because it is the one place where all of those are connected to each other and to the window's life (start,
first paint, drops, close); each of them lives in its own module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6 import QtWidgets
from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent, QPaintEvent, QShowEvent
from PySide6.QtWidgets import (
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ran_desktop import gui
from ran_desktop.engine import records
from ran_desktop.engine.errors import StorageError
from ran_desktop.engine.imaging.loading import SUPPORTED_SUFFIXES
from ran_desktop.engine.records.data_folder import default_data_dir
from ran_desktop.engine.records.database import Target, resolve
from ran_desktop.engine.records.review import ImageRecord, blinded
from ran_desktop.engine.records.review_session import ReviewSession
from ran_desktop.gui.actions import build_actions, build_menus, load_icons, shortcut_table
from ran_desktop.gui.banner import ClinicalWarningBanner
from ran_desktop.gui.crash import CrashReporter
from ran_desktop.gui.drops import dropped_paths
from ran_desktop.gui.empty_state import EmptyState
from ran_desktop.gui.messages import show_message
from ran_desktop.gui.results_filter import ResultsFilterProxy
from ran_desktop.gui.results_model import RECORD_ROLE, ResultsTableModel
from ran_desktop.gui.review_flow import ReviewFlow
from ran_desktop.gui.screening_controller import ScreeningController
from ran_desktop.gui.screening_feedback import ScreeningFeedback
from ran_desktop.gui.session_flow import SessionFlow
from ran_desktop.gui.settings import AppSettings
from ran_desktop.gui.shared_worklist import SharedWorklist
from ran_desktop.gui.status_bar import AppStatusBar
from ran_desktop.gui.tasks import TaskRunner
from ran_desktop.gui.view_modes import GRADCAM
from ran_desktop.gui.worklist import Worklist
from ran_desktop.paths import models_dir, sample_images

if TYPE_CHECKING:
    from ran_desktop.engine.model.bundle import LoadedModel
    from ran_desktop.engine.records.storage import Storage
    from ran_desktop.gui.detail_controller import DetailController
    from ran_desktop.gui.report_export import ReportExporter
    from ran_desktop.gui.workspace import Workspace

log = logging.getLogger("ran_desktop")
FORMATS = "JPEG, PNG, TIFF, BMP and DICOM"


def _audit_problems(report: object, database: Target) -> list[str]:
    """What is wrong with the audit trail (Storage.verify_audit), on a connection of the worker's own."""
    with records.storage.Storage(database) as storage:
        return storage.verify_audit()


def _prepare_storage(data_dir: Path, database: Target, preferred: int | None = None) -> tuple[Storage, int]:
    """Open the session database as open_storage does (a damaged one is set aside) and pick the session to continue
    (`preferred`, the grader's own last one, where it still exists: another window or workstation on this data
    folder may have started a newer one): the open database, and the session's id."""
    storage = records.storage.open_storage(data_dir, database)
    try:
        if preferred is not None and storage.has_session(preferred):
            return storage, preferred
        return storage, storage.current_session()
    except BaseException:
        storage.close()
        raise


FIRST_START_SHARE = 90  # percent of the screen's width and height the window takes on its first start


class MainWindow(QMainWindow):
    shown = Signal()

    def __init__(self, data_dir: Path | None = None, models_folder: Path | None = None,
                 reporter: CrashReporter | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("RAN Screening")
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.settings = AppSettings(self.data_dir)
        # The session database: this computer's file, or the server RAN_DATABASE_URL or the settings name. It is
        # opened by open_database(), after the window's first paint (launch() does both): opening it loads the
        # database layer (SQLAlchemy), which the empty window does not need to appear.
        self.database = resolve(self.data_dir, self.settings.database_url)
        self._models_folder = models_folder
        self.reporter = reporter or CrashReporter(self)
        self.reporter.window = self
        self.results = ResultsTableModel(self)
        self.results.review_mode = self.settings.review_mode
        self.proxy = ResultsFilterProxy(self)
        self.proxy.setSourceModel(self.results)
        self._closed = False
        self._workspace: Workspace | None = None
        self._painted = False
        self._load_after_paint = False
        self._settled = False  # what waits for the first paint has been done
        self._database_open = False

        self._build_widgets()
        self.commands = build_actions(self, self._handlers())  # not `actions`: QWidget.actions() exists
        build_menus(self, self.commands)
        for command in (self.commands.report_current, self.commands.report_selected, self.commands.report_batch):
            command.setEnabled(False)  # until the report exporter, built with the workspace, says otherwise
        self._restore_window_state()

    @property
    def painted(self) -> bool:
        """Whether the window has been drawn once (launch() opens the database after that)."""
        return self._painted

    def open_database(self) -> None:
        """Open the session database (created or migrated, checked for damage, the session chosen) and everything
        that works on it, and list the session. StorageError where it cannot be used (the window is deleted)."""
        try:
            self.storage, session_id = _prepare_storage(self.data_dir, self.database,
                                                        self.settings.last_session(self.settings.grader_name))
        except StorageError:
            # Delete the half-built window now. Left to the garbage collector, its widgets would be destroyed at
            # some arbitrary later moment, possibly while Qt holds a lock, which deadlocked a later window's start.
            self._closed = True
            shiboken6.delete(self)
            raise
        self.review_session = ReviewSession(self.storage, session_id)
        self.review_session.second_grading = self.settings.second_grading
        self.settings.remember_session(self.settings.grader_name, self.session_id)
        self.controller = ScreeningController(self.database, self.session_id, self._models_folder or models_dir(),
                                              self.settings.device_request, self, data_dir=self.data_dir)
        self.controller.chosen_bundle = self.settings.model_bundle
        self.worklist = Worklist(self.results, self.proxy, lambda: self.workspace, lambda: self._workspace, self.status)
        self.decisions = ReviewFlow(self, self.review_session, self.settings, self.results, self.worklist,
                                    lambda: self.workspace, self.status)
        self.sessions = SessionFlow(self, self.storage, self.database, self.review_session, self.settings,
                                    self.controller, self.worklist, self.status)
        self.shared = SharedWorklist(self.database, self.review_session, self.settings, self.results, self.worklist,
                                     lambda: self._workspace, self.status, self)
        self.feedback = ScreeningFeedback(self, self.status, self.banner, self.empty, self.results, self.storage,
                                          self.review_session, self.controller, self.reporter)
        self._connect()
        self.results.set_records(self.sessions.load(self.session_id))
        self._after_rows_changed()
        self.setAcceptDrops(True)
        if self.storage.set_aside is not None:
            # Once the window is up, so the message has a parent.
            QTimer.singleShot(0, self.sessions.tell_database_set_aside)
        # The audit trail's chain is checked off the start path: it grows with every decision ever saved.
        self._audit_runner = TaskRunner("ran-audit-check", 1, self)
        self._audit_runner.submit(_audit_problems, self.database, on_done=self.sessions.tell_audit_broken)
        self._database_open = True
        if self._painted:
            QTimer.singleShot(0, self._after_first_paint)  # what waited for the paint and for the database

    def start(self) -> None:
        """Begin loading the model in the background (call after show(): the window comes first).

        A window on screen is painted first: the loader's imports (torch) would hold the interpreter while it draws.
        """
        if self.isVisible() and not self._settled:  # launch() has painted; the workspace comes before the loader
            self._load_after_paint = True
            self.feedback.model_loading()
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

    @property
    def details(self) -> DetailController:
        """The previews and Grad-CAM of the image shown: built with the workspace."""
        self.workspace  # noqa: B018 (the property builds it)
        return self._details

    @property
    def reports(self) -> ReportExporter:
        """PDF reports of the images listed: built with the workspace."""
        self.workspace  # noqa: B018 (the property builds it)
        return self._reports

    def _build_workspace(self) -> None:
        # Its modules load with it, after the window is up.
        ws = gui.workspace.Workspace(self.proxy, self.settings.view_mode, self.settings.heat_opacity)
        self._workspace = ws
        self._details = gui.detail_controller.DetailController(self)
        self._reports = gui.report_export.ReportExporter(
            self, self.settings, self.results, lambda: self.storage.load_session(self.session_id),
            lambda ids: self.storage.records_by_id(ids, thumbnails=True), self.controller, self.worklist,
            lambda: self.workspace, self.status, self.reporter)
        self.stack.addWidget(ws)
        for name, target in ws.remembered_layout():
            saved = self.settings.window_state(name)
            if saved is not None:
                target.restoreState(saved)

        self.details.unexpected.connect(self.reporter.report)
        self.details.lesionLayerOffered.connect(ws.detail.offer_lesion_layer)
        if self.controller.loaded is not None:
            self.details.set_model(self.controller.loaded)
        self.details.previewReady.connect(ws.detail.show_preview)
        self.details.previewFailed.connect(ws.detail.show_preview_failed)
        self.details.heatReady.connect(ws.detail.show_heat)
        self.details.heatUnavailable.connect(ws.detail.show_heat_unavailable)
        ws.detail.modeChanged.connect(self._on_mode_changed)
        ws.detail.heatRequested.connect(lambda head, grade: self.details.request_heat(self._heat_request()))
        ws.detail.opacityChanged.connect(lambda value: setattr(self.settings, "heat_opacity", value))
        ws.review.decisionRequested.connect(self.decisions.decide)
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
            # The flows exist once the database is open (after the first paint); the menus are there before.
            "export": lambda: self.sessions.ask_export(), "new_session": lambda: self.sessions.ask_new(),
            "settings": self.settings_dialog, "sessions": lambda: self.sessions.choose(),
            "quit": self.close, "cancel": self.cancel_screening, "next_image": lambda: self.move_selection(1),
            "previous_image": lambda: self.move_selection(-1), "confirm": ws(lambda w: w.review.submit()),
            "ungradable": ws(lambda w: w.review.toggle_ungradable()),
            "accept_model": ws(lambda w: w.review.accept_model()),
            "undo_decision": lambda: self.decisions.undo_last(),
            "not_reviewed": lambda: self.decisions.set_current_not_reviewed(),
            "zoom_in": ws(lambda w: w.detail.view.zoom_in()),
            "zoom_out": ws(lambda w: w.detail.view.zoom_out()), "fit": ws(lambda w: w.detail.view.fit()),
            "magnifier": ws(lambda w: w.detail.view.set_magnifier(self.commands.magnifier.isChecked())),
            "display": ws(lambda w: w.detail.display_button.open_over(w.detail.view)),
            "mark_kind": ws(lambda w, kind: w.detail.set_marking(kind)),
            "shortcuts": self.show_shortcuts, "about": self.show_about, "performance": self.performance_dialog,
            "finetune": self.finetune_dialog, "models": self.models_dialog,
            "second_grading": self.second_grading_dialog, "patients": self.patient_form,
            "dr_grade": ws(lambda w, grade: w.review.set_dr_grade(grade)),
            "dme_grade": ws(lambda w, grade: w.review.set_dme_grade(grade)), "view_mode": self._set_view_mode,
            "report_current": lambda: self.reports.export_current(),
            "report_selected": lambda: self.reports.export_selected(),
            "report_batch": lambda: self.reports.export_batch(), "report_dicom": lambda: self.reports.set_dicom(),
        }

    def _connect(self) -> None:
        c = self.controller
        c.modelLoading.connect(self.feedback.model_loading)
        c.modelReady.connect(self.feedback.model_ready)
        c.modelReady.connect(self._on_model_ready)
        c.modelFailed.connect(self.feedback.model_failed)
        c.waiting.connect(self.status.show_waiting)
        c.progressed.connect(self.status.show_progress)
        c.thumbnailsArrived.connect(self.results.add_thumbnails)
        c.recordsArrived.connect(self._on_records)
        c.batchFinished.connect(self.feedback.batch_finished)
        c.fileChanged.connect(self.feedback.file_changed)
        c.batchFailed.connect(self.feedback.batch_failed)
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

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # --- the model and batches ----------------------------------------------------------------------------

    def _on_model_ready(self, loaded: LoadedModel) -> None:
        if self._workspace is not None:  # else it is given the model when built
            self.details.set_model(loaded)

    def _on_records(self, records: list[ImageRecord]) -> None:
        self.worklist.add_records(records, self.workspace.table)

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
            self.workspace.patients.refresh(self.results.entries(), self.results.record_by_key,
                                            self.settings.file_name_patterns)
            self._patients_stale = False
        else:
            self._patients_stale = True

    def _on_list_tab_changed(self) -> None:
        if self.workspace.patients_shown() and self._patients_stale:
            self._refresh_patients()

    def current_record(self) -> ImageRecord | None:
        return self.worklist.current_record()

    def select_key(self, key: str) -> bool:
        return self.worklist.select_key(key)

    def move_selection(self, step: int) -> None:
        self.worklist.move(step)

    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        record = current.data(RECORD_ROLE) if current.isValid() else None
        if record is None:
            self.workspace.detail.clear()
            self.workspace.review.show_record(None)
            self.details.open(None, None)
            self.shared.show(None)
            return
        self.workspace.detail.show_record(record)
        self.workspace.review.show_record(record)
        self.shared.show(record)
        self.details.open(record, self._heat_request())
        self.workspace.patients.select_key(record.key)

    def _heat_request(self) -> tuple[str, int | None] | None:
        record = self.current_record()
        if record is not None and blinded(record, self.settings.review_mode):
            return None  # blind-first review: no heat map before the grader's decision
        detail = self.workspace.detail
        return (detail.head, detail.grade) if detail.mode == GRADCAM else None

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
                self._on_current_changed(self.workspace.table.currentIndex(), QModelIndex())

    def _on_mode_changed(self, mode: str) -> None:
        self.settings.view_mode = mode
        self.details.request_heat(self._heat_request())

    # --- session, export, dialogs -------------------------------------------------------------------------

    def export_results(self, path: Path) -> bool:
        """Start exporting the list to `path`; `sessions.exported` says when it is written (or why not)."""
        return self.sessions.export(path)

    def performance_dialog(self) -> None:
        loaded = self.controller.loaded
        bundle = (loaded.manifest.title, str(loaded.manifest.weights["sha256"])) if loaded is not None else None
        dialog = gui.performance_dialog.PerformanceDialog(self.database, parent=self, bundle=bundle,
                                                          grader=self.settings.grader_name,
                                                          clinic_name=self.settings.clinic_name,
                                                          data_dir=self.data_dir)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def finetune_dialog(self) -> None:
        loaded = self.controller.loaded
        dialog = gui.finetune_dialog.FinetuneDialog(self.data_dir, loaded.folder if loaded else None,
                                                    self.database, self)
        dialog.useRequested.connect(self.use_bundle)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def models_dialog(self) -> None:
        loaded = self.controller.loaded
        dialog = gui.models_dialog.ModelsDialog(models_dir(), self.data_dir, loaded.folder if loaded else None, self)
        dialog.useRequested.connect(self.use_bundle)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def use_bundle(self, folder: str) -> None:
        """Screen from now on with the bundle at `folder` ('' for the installation's default): a person's choice,
        remembered. Results made before keep the model they were made with."""
        if self.controller.running or self.controller.queued:
            show_message(self, "A batch is being screened", "Wait for it to finish, or cancel it (Esc), before "
                                                            "changing the model.")
            return
        self.settings.model_bundle = folder
        self.controller.chosen_bundle = folder
        self.controller.load_model()

    def open_session(self, session_id: int) -> None:
        self.sessions.open(session_id)

    def start_new_session(self) -> None:
        self.sessions.start_new()

    def settings_dialog(self) -> None:
        dialog = gui.settings_dialog.SettingsDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.status.set_grader(self.settings.grader_name))
        dialog.accepted.connect(lambda: self.settings.remember_session(self.settings.grader_name, self.session_id))
        dialog.accepted.connect(self.apply_review_mode)
        dialog.accepted.connect(lambda: setattr(self.review_session, "second_grading", self.settings.second_grading))
        dialog.open()

    def patient_form(self) -> None:
        dialog = gui.patient_form.PatientForm(
            self.results.entries, self.results.records_of, self.settings.file_name_patterns, self.review_session,
            lambda: self.settings.grader_name, self.settings.review_mode, self.results.update_record, self.database,
            self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def second_grading_dialog(self) -> None:
        dialog = gui.second_grading_dialog.SecondGradingDialog(self.database, self.settings.grader_name,
                                                               self.settings.second_grading, self)
        dialog.decided.connect(self._on_decided_elsewhere)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _on_decided_elsewhere(self, image_id: int) -> None:
        """A grading in the second-grading window may have changed an image's decision: its row shows it now."""
        self.shared.poll()

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

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.shown.emit()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            # The grader sees the window now. Next turn: the workspace is built (before any batch, whose threads
            # would make building it stall the window), then the model starts loading if start() asked for it.
            self._painted = True
            QTimer.singleShot(0, self._after_first_paint)

    def _after_first_paint(self) -> None:
        if self._closed or self._settled or not self._database_open:
            return  # the fallback timer after start(), once the paint has done this; or open_database calls again
        self._settled = True
        load_icons(self.commands)
        self.workspace  # noqa: B018 (the property builds it)
        if self._load_after_paint:
            self._load_after_paint = False
            self.controller.load_model()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:
            event.accept()
            return
        self._closed = True
        self.settings.set_window_state("geometry", self.saveGeometry())
        self.settings.set_window_state("state", self.saveState())
        if not self._database_open:  # closed before its database was opened: nothing else was started
            event.accept()
            return
        self.sessions.closed = True
        if self._workspace is not None:  # else what was saved last time stays
            for name, target in self._workspace.remembered_layout():
                self.settings.set_window_state(name, target.saveState())
            self.settings.list_filters = self._workspace.list_panel.filter_state()
            record = self.current_record()
            self.settings.list_current = record.key if record is not None else ""
        self._patient_refresh.stop()
        self.controller.shutdown()
        self._audit_runner.shutdown()
        self.sessions.shutdown()
        if self._workspace is not None:
            self._workspace.patients.shutdown()
        self.shared.shutdown()
        if self._workspace is not None:
            self.details.shutdown()
            self.reports.shutdown()
        self.storage.close()
        if self.reporter.window is self:
            self.reporter.window = None
        event.accept()
