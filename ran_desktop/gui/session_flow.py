"""Sessions from the window: opening an earlier one or a new one, loading one into the list, exporting it as CSV or
JSON, and telling the grader where the session database needs someone's attention (set aside, altered trail).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtWidgets
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from ran_desktop import gui
from ran_desktop.engine import records
from ran_desktop.engine.errors import StorageError, WriteError
from ran_desktop.engine.records.record_list import RecordList
from ran_desktop.gui.messages import show_message
from ran_desktop.gui.tasks import Report, TaskFailure, TaskRunner
from ran_desktop.logsafe import Public

if TYPE_CHECKING:
    from ran_desktop.engine.records.database import Target
    from ran_desktop.engine.records.review import ImageRecord
    from ran_desktop.engine.records.review_session import ReviewSession
    from ran_desktop.engine.records.storage import Storage
    from ran_desktop.gui.results_model import ResultsTableModel
    from ran_desktop.gui.screening_controller import ScreeningController
    from ran_desktop.gui.settings import AppSettings
    from ran_desktop.gui.status_bar import AppStatusBar
    from ran_desktop.gui.worklist import Worklist

log = logging.getLogger("ran_desktop")
EXPORT_PAGE = 500  # records read at a time by the export's worker


def _write_export(report: Report, database: Target, image_ids: list[int], path: Path) -> int | str:
    """The listed images' records read by the worker's own connection (a connection belongs to its thread), in list
    order, and written: how many, or why nothing was written."""
    with records.storage.Storage(database) as storage:
        found: list[ImageRecord] = []
        for start in range(0, len(image_ids), EXPORT_PAGE):
            page = image_ids[start:start + EXPORT_PAGE]
            by_id = storage.records_by_id(page)
            found.extend(by_id[i] for i in page if i in by_id)
    try:
        records.session_export.write_session(found, path)
    except WriteError as exc:
        return f"{exc.reason}."
    except ValueError as exc:
        return str(exc)
    return len(found)


class SessionFlow(QObject):
    exported = Signal(object, bool)  # the export's path, and whether it was written

    def __init__(self, parent: QtWidgets.QWidget, storage: Storage, database: Target, session: ReviewSession,
                 settings: AppSettings, controller: ScreeningController, worklist: Worklist, status: AppStatusBar):
        super().__init__(parent)
        self._parent = parent  # messages and dialogs open over it
        self._database = database
        self._exporting = False
        # A session of 100,000 images takes seconds to read and write: never on the GUI thread.
        self._runner = TaskRunner("ran-export", 1, self)
        self._storage = storage
        self._session = session
        self._settings = settings
        self._controller = controller
        self._worklist = worklist
        self._results: ResultsTableModel = worklist.results
        self._status = status
        self.closed = False  # the window has closed: late findings are not shown

    def _busy(self) -> bool:
        return self._controller.running or bool(self._controller.queued)

    # --- choosing a session -------------------------------------------------------------------------------

    def load(self, session_id: int) -> RecordList:
        """The session's worklist: every row listed at once, records read as rows are shown. A damaged row is listed
        as an error (untouched in the database) and the grader is told when it is first read."""
        listed = self._storage.list_session(session_id)
        return RecordList(listed.entries(), self._read_records)

    def _read_records(self, image_ids: Sequence[int]) -> dict[int, ImageRecord]:
        told = len(self._storage.unreadable_rows)
        found = self._storage.records_by_id(image_ids)
        fresh = self._storage.unreadable_rows[told:]
        if fresh:
            log.warning("%d damaged row(s) shown as errors", len(fresh))
            QTimer.singleShot(0, lambda: show_message(
                self._parent, "Some results cannot be read",
                f"{len(fresh)} image(s) of this session cannot be read from the session database (their stored "
                "result is damaged) and are listed as errors; everything else opened. The rows are kept, "
                "unchanged, for whoever supports this installation. Screen those files again to grade them.\n\n"
                + "\n".join(f"- {r}" for r in fresh[:10])))
        return found

    def open(self, session_id: int) -> None:
        """Show an earlier session (its images, decisions and audit trail) as the current one."""
        if self._busy():
            show_message(self._parent, "A batch is being screened", "Wait for it to finish, or cancel it (Esc), "
                                                                    "before opening another session.")
            return
        try:
            self._session.open(session_id)
        except (StorageError, ValueError) as exc:
            show_message(self._parent, "The session was not opened", str(exc))
            return
        self._settings.remember_session(self._settings.grader_name, session_id)
        self._controller.set_session(session_id)
        self._results.set_records(self.load(session_id))
        self._status.showMessage(f"Session {session_id} opened: {self._results.rowCount()} image(s)", 5000)
        if self._results.rowCount():
            self._worklist.move(0)

    def start_new(self) -> None:
        try:
            self._session.start_new()
        except StorageError as exc:
            show_message(self._parent, "No new session", str(exc))
            return
        self._settings.remember_session(self._settings.grader_name, self._session.session_id)
        self._controller.set_session(self._session.session_id)
        self._results.set_records([])
        self._status.showMessage("New session started", 4000)

    def ask_new(self) -> None:
        message_box = QtWidgets.QMessageBox
        if self._busy():
            show_message(self._parent, "Screening is running", "Wait for the batch to finish, or cancel it, before "
                         "starting a new session.", icon=message_box.Icon.Information)
            return
        box = message_box(message_box.Icon.Question, "Start a new session?",
                          "The list will be emptied. Its images, results and decisions stay in the session "
                          "database: File > Sessions reopens it.",
                          message_box.StandardButton.Ok | message_box.StandardButton.Cancel, self._parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(self.start_new)
        box.open()

    def choose(self) -> None:
        dialog = gui.sessions_dialog.SessionsDialog(self._storage.sessions, self._session.session_id, self.open,
                                                    self._parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    # --- export -------------------------------------------------------------------------------------------

    def ask_export(self) -> None:
        folder = self._settings.export_folder or str(Path.home())
        suggested = str(Path(folder) / f"ran-screening-{date.today().isoformat()}.csv")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self._parent, "Export results", suggested,
                                                        "CSV (*.csv);;JSON (*.json)")
        if path:
            self.export(Path(path))

    def export(self, path: Path) -> bool:
        """Start writing the list's results to `path` (.csv or .json) in a worker; `exported` says when it is done.
        False when an export is already running."""
        if self._exporting:
            self._status.showMessage("An export is already running", 4000)
            return False
        if path.suffix.lower() not in (".csv", ".json"):
            path = path.with_suffix(".csv")
        self._exporting = True
        self._status.showMessage(f"Exporting {self._results.rowCount()} image(s) to {path}…")
        ids = [entry.image_id for entry in self._results.entries()]
        self._runner.submit(_write_export, self._database, ids, path,
                            on_done=lambda written: self._exported(path, written),
                            on_failed=lambda failure: self._export_failed(path, failure))
        return True

    def _exported(self, path: Path, written: int | str) -> None:
        self._exporting = False
        if isinstance(written, str):
            show_message(self._parent, "Export failed", f"The results could not be written to {path}:\n{written}")
            self.exported.emit(path, False)
            return
        self._status.showMessage(f"Exported {written} image(s) to {path}", 8000)
        self.exported.emit(path, True)

    def _export_failed(self, path: Path, failure: TaskFailure) -> None:
        self._exporting = False
        show_message(self._parent, "Export failed", f"The results could not be written to {path}:\n{failure.message}")
        self.exported.emit(path, False)

    def shutdown(self) -> None:
        """Let an export that has started finish (its file is written whole or not at all), then stop."""
        self._runner.shutdown(drain=True)

    # --- the database's health ----------------------------------------------------------------------------

    def tell_database_set_aside(self) -> None:
        kept = self._storage.set_aside
        if kept is None:
            return
        log.warning("damaged session database set aside as %s; a new one was started", Public(kept.name))
        show_message(self._parent, "The session database was damaged",
                     f"The session database could not be read, so a new, empty one was started.\n\n"
                     f"The damaged file was kept, unchanged, as:\n{kept}\n\n"
                     f"Nothing was deleted: whoever supports this installation may be able to recover earlier "
                     f"results and decisions from it.")

    def tell_audit_broken(self, problems: list[str]) -> None:
        if not problems or self.closed:
            return
        log.warning("audit trail check failed: %d finding(s)", len(problems))
        show_message(self._parent, "The audit trail has been altered",
                     "The session database's audit trail does not hold together: it was changed outside this app "
                     "(a decision or an audit entry edited, removed or inserted). Decisions shown may not be what "
                     "the graders saved. The app still works; tell whoever supports this installation, and keep a "
                     "copy of the database as it is.\n\n" + "\n".join(f"- {p}" for p in problems))
