"""Reports menu: PDF reports for the current patient, the selected patients or the whole batch.

The session's records are read from the database when the export starts, so every decision saved until then (from
this window or another workstation on the same data) is in the reports. The reports package writes them in a
TaskRunner worker: it never overwrites a file, leaves nothing half-written and takes the model's lock itself for
each heat map. The worker only sees plain data and reports progress through
the runner's queued signals; every widget is touched in the GUI thread.

While the model is still loading the commands are disabled (the heat maps need it, and it is seconds away). When
it could not be loaded at all, reports are still made, without heat maps, and the summary says so.

Long because choosing what to report (current patient, selection, batch), the progress dialog and the outcome
(files written, kept, refused) are one flow a grader goes through, kept together here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QItemSelectionModel, QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

# The reports (reportlab) load through their package's lazy names, in the export worker.
import ran_desktop.reports as pdf_reports
from ran_desktop.engine.imaging.views import HEAT_OPACITY
from ran_desktop.engine.records.patient_groups import Groupable, PatientGroup, group_by_patient, patient_key
from ran_desktop.engine.records.patient_names import DEFAULT_PATTERNS
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.gui.display import group_title
from ran_desktop.gui.messages import show_message
from ran_desktop.gui.report_dialog import ReportProgressDialog, show_report_outcome
from ran_desktop.gui.results_model import RECORD_ROLE
from ran_desktop.gui.tasks import Report, TaskFailure, TaskRunner
from ran_desktop.logsafe import Public

if TYPE_CHECKING:
    from ran_desktop.engine.model.bundle import LoadedModel
    from ran_desktop.gui.actions import WindowActions
    from ran_desktop.gui.crash import CrashReporter
    from ran_desktop.gui.results_model import ResultsTableModel
    from ran_desktop.gui.screening_controller import ScreeningController
    from ran_desktop.gui.settings import AppSettings
    from ran_desktop.gui.status_bar import AppStatusBar
    from ran_desktop.gui.worklist import Worklist
    from ran_desktop.gui.workspace import Workspace
    from ran_desktop.reports import WrittenReport

log = logging.getLogger("ran_desktop")

CURRENT, SELECTED, BATCH = "current", "selected", "batch"

FolderChooser = Callable[[QWidget, str, str], str]  # (parent, caption, start folder) -> folder, '' if none


@dataclass(frozen=True)
class ExportJob:
    """Everything the worker needs, as plain data taken in the GUI thread."""

    groups: tuple[PatientGroup, ...]
    folder: Path
    with_summary: bool  # the whole batch: the batch summary PDF too
    dicom: bool
    loaded: LoadedModel | None  # draws the heat maps; None makes reports without them
    clinic_name: str = ""
    clinic_logo: Path | None = None
    grader: str = ""
    heat_opacity: float = HEAT_OPACITY


@dataclass(frozen=True)
class ExportOutcome:
    folder: Path
    patients: int  # patient reports asked for
    with_summary: bool
    reports: tuple[WrittenReport, ...] = ()  # patient reports written, in order
    summary: WrittenReport | None = None
    cancelled: bool = False
    problem: str = ""  # why the export stopped early ('' when it did not fail)
    kept: int = 0  # patient reports complete before a failure (they stay in the folder)
    with_heat_maps: bool = True

    @property
    def notes(self) -> list[str]:
        found = [note for report in self.reports for note in report.notes]
        return found + (list(self.summary.notes) if self.summary is not None else [])

    @property
    def anything_written(self) -> bool:
        return bool(self.reports or self.summary is not None or self.kept)


def run_export(report: Report, job: ExportJob, cancelled: Callable[[], bool]) -> ExportOutcome:
    """The worker: patient reports, then the batch summary unless cancelled. A ReportError becomes the outcome's
    `problem` (with what was kept), so files written before it are still counted and shown."""
    done = 0

    def progress(finished: int, total: int) -> None:
        nonlocal done
        done = finished
        report(("patients", finished, total))

    outcome = partial(ExportOutcome, folder=job.folder, patients=len(job.groups), with_summary=job.with_summary,
                      with_heat_maps=job.loaded is not None)
    reports: list[WrittenReport] = []
    try:
        context = pdf_reports.ReportContext.for_model(job.loaded, clinic_name=job.clinic_name,
                                                      clinic_logo=job.clinic_logo, grader=job.grader,
                                                      heat_opacity=job.heat_opacity)
        reports = pdf_reports.export_patient_reports(job.groups, job.folder, context, dicom=job.dicom,
                                                     progress=progress, cancelled=cancelled)
        if len(reports) < len(job.groups) or cancelled():
            return outcome(reports=tuple(reports), cancelled=True)
        summary = None
        if job.with_summary:
            report(("summary",))
            summary = pdf_reports.export_batch_summary(job.groups, job.folder, context)
    except pdf_reports.ReportError as exc:
        return outcome(reports=tuple(reports), problem=str(exc), kept=max(done, len(reports)))
    return outcome(reports=tuple(reports), summary=summary)


G = TypeVar("G", bound=Groupable)
# Reports for more images than this read the whole session at once rather than these images by their ids.
WHOLE_SESSION_FROM = 5_000


def groups_for(records: Iterable[G], keys: Iterable[str],
               patterns: Sequence[str] = DEFAULT_PATTERNS) -> list[PatientGroup[G]]:
    """The whole patient (every image, not only those picked or shown) of each image key, in list order."""
    records = list(records)
    wanted = set(keys)
    patients = {patient_key(r, patterns) for r in records if r.key in wanted}
    return [g for g in group_by_patient(records, patterns) if g.key in patients]


def drafts_question(groups: list[PatientGroup]) -> str:
    """What to ask before writing reports some of whose images no grader has reviewed; "" when all are."""
    readable = [r for g in groups for r in g.records if r.status is not Status.ERROR]
    unreviewed = sum(1 for r in readable if not r.reviewed)
    if not unreviewed:
        return ""
    patients = sum(1 for g in groups if not g.reviewed)
    return (f"{unreviewed} of {len(readable)} image(s) have not been reviewed by a grader, so {patients} report(s) "
            f"will be drafts: marked DRAFT on every page, with the outcome shown as \"not reviewed\" and the model's "
            f"proposal beside it.\n\nWrite them anyway?")


def _ask_yes_no(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def _reports(count: int) -> str:
    return f"{count} patient report{'' if count == 1 else 's'}"


def outcome_text(outcome: ExportOutcome) -> tuple[str, str, QMessageBox.Icon]:
    """(title, text, icon) of the message that ends an export."""
    folder = outcome.folder
    written = len(outcome.reports)
    dicom = sum(r.dicom_path is not None for r in outcome.reports)
    extra = []
    if dicom:
        extra.append(f"{dicom} DICOM Encapsulated PDF cop{'y' if dicom == 1 else 'ies'} (.dcm) for PACS.")
    if written and not outcome.with_heat_maps:
        extra.append("No model is loaded, so the reports have no heat maps.")
    tail = "".join(f"\n\n{line}" for line in extra)

    if outcome.problem:
        if outcome.reports:  # only the batch summary failed
            text = (f"{outcome.problem}\n\nThe {_reports(written)} in {folder} are complete and were kept; "
                    f"only the batch summary is missing.")
        elif outcome.kept:
            text = f"{outcome.problem}\n\n{_reports(outcome.kept)} of {outcome.patients} had been written."
        else:
            text = outcome.problem
        title = "Not all reports were written" if outcome.anything_written else "Reports not written"
        return title, text + tail, QMessageBox.Icon.Warning
    if outcome.cancelled:
        text = f"Cancelled: {written} of {_reports(outcome.patients)} written to:\n{folder}"
        after = ["They are complete and were kept."] if written else []
        if outcome.with_summary:
            after.append("The batch summary was not written.")
        if after:
            text += "\n\n" + " ".join(after)
        return "Report export cancelled", text + tail, QMessageBox.Icon.Information
    what = _reports(written) + (" and the batch summary" if outcome.summary is not None else "")
    verb = "was" if written == 1 and outcome.summary is None else "were"
    return "Reports written", f"{what} {verb} written to:\n{folder}{tail}", QMessageBox.Icon.Information


def open_in_file_manager(folder: Path) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class ReportExporter(QObject):
    """Owns the Reports commands' state, the export worker and its windows. One export at a time."""

    finished = Signal(object)  # ExportOutcome, or TaskFailure when the worker failed outright

    def __init__(self, parent: QWidget, settings: AppSettings, results: ResultsTableModel,
                 records: Callable[[], list[ImageRecord]], records_of: Callable[[list[int]], dict[int, ImageRecord]],
                 controller: ScreeningController, worklist: Worklist, workspace: Callable[[], Workspace],
                 status: AppStatusBar, reporter: CrashReporter):
        super().__init__(parent)
        self.parent_widget = parent  # dialogs open over it
        self.settings = settings
        self.results = results  # the list: whether there is anything to report
        self.records = records  # the session's records as the database holds them: what the reports are made from
        self.records_of = records_of  # some of them, by image id, as the database holds them
        self.controller = controller  # the loaded model, which draws the heat maps
        self._worklist = worklist
        self._workspace = workspace
        self.status = status
        self.reporter = reporter
        # Replaceable, so tests (and scripted runs) never block on a native dialog or a file manager.
        self.choose_folder: FolderChooser = QFileDialog.getExistingDirectory
        self.confirm_drafts: Callable[[QWidget, str, str], bool] = _ask_yes_no
        self.open_folder: Callable[[Path], object] = open_in_file_manager
        self.actions: WindowActions | None = None
        self.progress: ReportProgressDialog | None = None
        self._runner = TaskRunner("ran-reports", 1, self)
        self._stop = threading.Event()
        self._job: ExportJob | None = None

    @property
    def running(self) -> bool:
        return self._job is not None

    def attach(self, actions: WindowActions, workspace: Workspace) -> None:
        """Keep the commands' enabled state in step with the list, the selection, the model and this export."""
        self.actions = actions
        actions.report_dicom.setChecked(self.settings.report_dicom)
        for signal in (self.results.modelReset, self.results.rowsInserted, self.results.rowsRemoved,
                       self.controller.modelLoading, self.controller.modelReady, self.controller.modelFailed,
                       workspace.list_tabs.currentChanged, workspace.patients.model.modelReset):
            signal.connect(self.update_actions)
        for selection in (workspace.table.selectionModel(), workspace.patients.tree.selectionModel()):
            selection.selectionChanged.connect(self.update_actions)
            selection.currentChanged.connect(self.update_actions)
        self.update_actions()

    def update_actions(self, *args: Any) -> None:
        a = self.actions
        if a is None:
            return
        ready = self._job is None and self.controller.model_state != "loading" and self.results.rowCount() > 0
        a.report_batch.setEnabled(ready)
        a.report_current.setEnabled(ready and self._has_current())
        a.report_selected.setEnabled(ready and self._selection().hasSelection())

    # --- what to export -----------------------------------------------------------------------------------

    def _patients_shown(self) -> bool:
        return self._workspace().patients_shown()

    def _selection(self) -> QItemSelectionModel:  # of the list the user is looking at
        ws = self._workspace()
        return ws.patients.tree.selectionModel() if self._patients_shown() else ws.table.selectionModel()

    def _has_current(self) -> bool:
        ws = self._workspace()
        if self._patients_shown() and ws.patients.tree.currentIndex().isValid():
            return True
        return ws.table.currentIndex().isValid()

    def current_keys(self) -> list[str]:
        """Image keys of the current patient: the one picked in the patient view, else the selected image's."""
        if self._patients_shown():
            group = self._workspace().patients.model.group_at(self._workspace().patients.tree.currentIndex())
            if group is not None:
                return [r.key for r in group.records]
        record = self._worklist.current_record()
        return [record.key] if record is not None else []

    def selected_keys(self) -> list[str]:
        ws = self._workspace()
        if self._patients_shown():
            model = ws.patients.model
            groups = (model.group_at(i) for i in ws.patients.tree.selectionModel().selectedRows())
            return [r.key for g in groups if g is not None for r in g.records]
        records = (i.data(RECORD_ROLE) for i in ws.table.selectionModel().selectedRows())
        return [r.key for r in records if r is not None]

    # --- commands -----------------------------------------------------------------------------------------

    def export_current(self) -> None:
        self._export(CURRENT)

    def export_selected(self) -> None:
        self._export(SELECTED)

    def export_batch(self) -> None:
        self._export(BATCH)

    def set_dicom(self) -> None:
        if self.actions is not None:
            self.settings.report_dicom = self.actions.report_dicom.isChecked()

    def _export(self, scope: str) -> None:
        if self._job is not None:
            self.status.showMessage("A report export is already running", 4000)
            return
        if self.controller.model_state == "loading":
            self.status.showMessage("Reports can be exported once the model has loaded (the heat maps need it)", 6000)
            return
        keys = self.current_keys() if scope == CURRENT else self.selected_keys() if scope == SELECTED else None
        groups = self._groups(scope, keys)
        if not groups:
            self.status.showMessage("There is no patient to export a report for", 4000)
            return
        parent = self.parent_widget
        if (question := drafts_question(groups)) and not self.confirm_drafts(parent, "Reports not reviewed", question):
            return
        folder = self.choose_folder(parent, self._caption(scope, groups), self._start_folder())
        if not folder:
            return
        # Read again after the chooser: decisions saved and images screened meanwhile belong in the reports.
        groups = self._groups(scope, keys)
        if groups:
            self.start(groups, Path(folder), with_summary=scope == BATCH)

    def _groups(self, scope: str, keys: list[str] | None) -> list[PatientGroup[ImageRecord]]:
        patterns = self.settings.file_name_patterns
        if keys is None:
            return group_by_patient(self.records(), patterns)
        # Which images are the chosen patients' is known from the list's entries: only their records are read (one
        # patient's report from a session of 100,000 images took seconds of reading every record).
        chosen = groups_for(self.results.entries(), keys, patterns)
        ids = [entry.image_id for group in chosen for entry in group.records]
        if len(ids) >= WHOLE_SESSION_FROM:
            return groups_for(self.records(), keys, patterns)
        found = self.records_of(ids)
        return group_by_patient([found[i] for i in ids if i in found], patterns)

    @staticmethod
    def _caption(scope: str, groups: list[PatientGroup[ImageRecord]]) -> str:
        if scope == CURRENT:
            return f"Folder for the report of {group_title(groups[0])}"
        if scope == SELECTED:
            return f"Folder for the reports of {len(groups)} selected patient(s)"
        return f"Folder for the reports of all {len(groups)} patient(s) and the batch summary"

    def _start_folder(self) -> str:
        settings = self.settings
        for folder in (settings.report_folder, settings.export_folder):
            if folder and Path(folder).is_dir():
                return folder
        return str(Path.home())

    # --- the export ---------------------------------------------------------------------------------------

    def start(self, groups: list[PatientGroup], folder: Path, *, with_summary: bool) -> None:
        s = self.settings
        logo = s.clinic_logo
        job = ExportJob(
            groups=tuple(groups), folder=folder, with_summary=with_summary, dicom=s.report_dicom,
            loaded=self.controller.loaded, clinic_name=s.clinic_name, clinic_logo=Path(logo) if logo else None,
            grader=s.grader_name, heat_opacity=s.heat_opacity / 100,
        )
        self._job = job
        self._stop.clear()
        self.progress = ReportProgressDialog(len(groups), with_summary, folder, self.parent_widget)
        self.progress.cancelRequested.connect(self.cancel)
        self.progress.show()
        self.update_actions()
        self._runner.submit(run_export, job, self._stop.is_set, on_done=self._on_done, on_failed=self._on_failed,
                            on_progress=self._on_progress)

    def cancel(self) -> None:
        if self._job is not None:
            self._stop.set()
            self.status.showMessage("Cancelling the report export… reports already written are kept", 6000)

    def _on_progress(self, payload: tuple) -> None:
        if self.progress is None:
            return
        if payload[0] == "summary":
            self.progress.show_summary()
        else:
            self.progress.show_patients(payload[1])

    def _on_done(self, outcome: ExportOutcome) -> None:
        self._finish()
        state = "failed" if outcome.problem else "cancelled" if outcome.cancelled else "done"
        log.info("report export %s: %d patient report(s) of %d written", Public(state), len(outcome.reports),
                 outcome.patients)
        if outcome.anything_written:
            self.settings.report_folder = str(outcome.folder)
        title, text, icon = outcome_text(outcome)
        show_report_outcome(self.parent_widget, title, text, outcome.notes,
                            outcome.folder if outcome.anything_written else None,
                            lambda folder: self.open_folder(folder), icon=icon)  # the opener as set at click time
        if not outcome.problem:
            self.status.showMessage(f"{_reports(len(outcome.reports))} written to {outcome.folder}", 10000)
        self.finished.emit(outcome)

    def _on_failed(self, failure: TaskFailure) -> None:
        job = self._job
        self._finish()
        log.error("report export stopped\n  %s", Public(failure.trace))  # the message may quote a patient
        folder = job.folder if job is not None else ""
        if failure.expected:
            show_message(self.parent_widget, "Reports not written",
                         f"Reports could not be written to {folder}:\n{failure.message}\n\nReports written before "
                         f"this are complete and were kept.")
        else:
            self.reporter.report(f"Report export stopped: {failure.message}", failure.details, failure.trace)
        self.finished.emit(failure)

    def _finish(self) -> None:
        self._job = None
        if self.progress is not None:
            self.progress.finish()
            self.progress = None
        self.update_actions()

    def shutdown(self) -> None:
        """Stop after the report being written and wait for it (the window is closing)."""
        self._stop.set()
        self._runner.shutdown()
        self._job = None
        if self.progress is not None:
            self.progress.finish()
            self.progress = None
