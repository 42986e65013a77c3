"""What the grader is told about the model and the batches: the model loading, ready or failed (with the clinical
warning on the banner), a batch finished, cancelled or stopped, and files that held another photograph.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ran_desktop.engine.records.results import Status
from ran_desktop.gui.messages import show_message
from ran_desktop.logsafe import Public

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from ran_desktop.engine.model.bundle import LoadedModel
    from ran_desktop.engine.records.review_session import ReviewSession
    from ran_desktop.engine.records.storage import Storage
    from ran_desktop.gui.banner import ClinicalWarningBanner
    from ran_desktop.gui.crash import CrashReporter
    from ran_desktop.gui.empty_state import EmptyState
    from ran_desktop.gui.results_model import ResultsTableModel
    from ran_desktop.gui.screening_controller import ScreeningController
    from ran_desktop.gui.status_bar import AppStatusBar
    from ran_desktop.gui.tasks import TaskFailure

log = logging.getLogger("ran_desktop")


class ScreeningFeedback:
    def __init__(self, parent: QWidget, status: AppStatusBar, banner: ClinicalWarningBanner, empty: EmptyState,
                 results: ResultsTableModel, storage: Storage, session: ReviewSession,
                 controller: ScreeningController, reporter: CrashReporter):
        self._parent = parent  # messages open over it
        self._status = status
        self._banner = banner
        self._empty = empty
        self._results = results
        self._storage = storage
        self._session = session
        self._controller = controller
        self._reporter = reporter
        self._changed_files: list[str] = []  # files replaced since screened, told when the batch ends

    def model_loading(self) -> None:
        self._status.set_model_loading()
        self._empty.set_status("Loading the model in the background… you can already add photographs.")

    def model_ready(self, loaded: LoadedModel) -> None:
        manifest = loaded.manifest
        log.info("model %s loaded from %s on %s", Public(manifest.title), Public(str(loaded.folder)),
                 Public(loaded.device_text))
        self._status.set_model(manifest.title, loaded.device_text, loaded.device.note)
        self._banner.set_warning(manifest.clinical_warning, severe=not manifest.trained)
        self._empty.set_status(f"Model {manifest.title} ready on {loaded.device_text}.")
        if loaded.device.note:
            self._status.showMessage(loaded.device.note, 10000)
        if loaded.trust_warning:
            log.warning("models folder writable by everyone")
            show_message(self._parent, "The model's folder is not protected", loaded.trust_warning)

    def model_failed(self, reason: str) -> None:
        log.error("no model: %s", Public(reason))  # about the bundle and the device, never about a patient's file
        self._status.set_model_failed(reason)
        self._status.hide_progress()
        self._empty.set_status(f"No model could be loaded: {reason}")
        show_message(self._parent, "The model could not be loaded", f"{reason}\n\nImages cannot be screened until a "
                                                            f"working model bundle is installed.")

    def batch_finished(self, stored: int, total: int, cancelled: bool) -> None:
        if self._controller.running:
            return
        self._status.hide_progress()
        log.info("batch %s: %d image(s) stored of %d file(s)", Public("cancelled" if cancelled else "done"), stored,
                 total)
        errors = sum(e.status_value == Status.ERROR.value for e in self._results.entries())
        if cancelled:
            text = f"Cancelled: {stored} image(s) screened before stopping; they stay in the list."
        else:
            text = f"Screened {stored} image(s)."
        if errors:
            text += f" {errors} file(s) in the list could not be read: see the Quality column."
        self._status.showMessage(text, 15000)
        self._tell_changed_files()

    def file_changed(self, message: str) -> None:
        self._changed_files.append(message)

    def _tell_changed_files(self) -> None:
        """Files that held another photograph when screened before: said once, when the batch ends, in a dialog
        (a status-bar line could pass unseen, and a decision's photograph is what a grader must not mistake)."""
        changed, self._changed_files = self._changed_files, []
        if not changed:
            return
        for stored in self._storage.load_session(self._session.session_id, thumbnails=False):
            row = self._results.row_of(stored.key) if stored.superseded else None
            if row is not None and not self._results.record(row).superseded:
                self._results.update_record(stored)  # its Review cell now says the file was replaced
        shown = "\n\n".join(changed[:8]) + (f"\n\n... and {len(changed) - 8} more." if len(changed) > 8 else "")
        show_message(self._parent, "Files replaced since they were screened", shown)

    def batch_failed(self, failure: TaskFailure) -> None:
        self._status.hide_progress()
        self._tell_changed_files()
        log.error("screening stopped\n  %s", Public(failure.trace))  # the message may quote a file: not logged
        if failure.expected:
            show_message(self._parent, "Screening stopped", f"{failure.message}\n\nImages screened before this stay "
                                                    f"in the list.")
        else:
            self._reporter.report(f"Screening stopped: {failure.message}", failure.details, failure.trace)
