"""The grader's decisions from the window: saving what the review form asks for, undo, "not reviewed", and asking
for the grader's name the first time. The decision itself is built and stored by the engine's ReviewSession; this
only hands it the draft, moves on to the next image and tells the grader what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6 import QtWidgets
from PySide6.QtCore import Qt

from ran_desktop.engine.errors import StorageError
from ran_desktop.engine.records.conflicts import ClaimedError, StaleDecisionError
from ran_desktop.engine.records.review_session import NoGraderError
from ran_desktop.gui import display
from ran_desktop.gui.messages import show_message

if TYPE_CHECKING:
    from ran_desktop.engine.records.review import GraderDecision, ImageRecord
    from ran_desktop.engine.records.review_session import ReviewSession
    from ran_desktop.gui.results_model import ResultsTableModel
    from ran_desktop.gui.settings import AppSettings
    from ran_desktop.gui.status_bar import AppStatusBar
    from ran_desktop.gui.worklist import Worklist
    from ran_desktop.gui.workspace import Workspace


class ReviewFlow:
    def __init__(self, parent: QtWidgets.QWidget, session: ReviewSession, settings: AppSettings,
                 results: ResultsTableModel, worklist: Worklist, workspace: Callable[[], Workspace],
                 status: AppStatusBar):
        self._parent = parent  # messages and the name dialog open over it
        self._session = session
        self._settings = settings
        self._results = results
        self._worklist = worklist
        self._workspace = workspace
        self._status = status
        self._pending: tuple[ImageRecord, GraderDecision, str | None] | None = None  # waiting for a grader's name
        self.last_decided: str | None = None  # the image whose decision was saved last (what Ctrl+Z undoes)

    def decide(self, draft: GraderDecision) -> None:
        """The review form's draft for the image shown: saved, or held until the grader has given a name."""
        record = self._worklist.current_record()
        review = self._workspace().review
        if record is None or record.key != (review.record.key if review.record else None):
            return
        following = self._worklist.neighbour_key(record.key)
        if not self._settings.grader_name:
            self._pending = (record, draft, following)
            self._ask_grader_name()
            return
        self._save(record, draft, following)

    def _stored(self, change: Callable[[str], ImageRecord], refused: str) -> ImageRecord | None:
        """`change` made in the grader's name; None where it was refused, and the grader is told why."""
        try:
            return change(self._settings.grader_name)
        except NoGraderError as exc:
            show_message(self._parent, "Who is grading?", str(exc))
        except StaleDecisionError as exc:
            self._show_theirs(exc)
        except ClaimedError as exc:
            self._workspace().review.show_holder(exc.holder)
            show_message(self._parent, "Another grader has this image open", str(exc))
        except (StorageError, ValueError) as exc:
            show_message(self._parent, refused, str(exc))
        return None

    def _save(self, record: ImageRecord, draft: GraderDecision, following: str | None) -> None:
        updated = self._stored(lambda grader: self._session.record_decision(record, draft, grader),
                               "The decision was not saved")
        if updated is None:
            return
        stored = updated.decision
        assert stored is not None  # record_decision stores one
        ws = self._workspace()
        self.last_decided = updated.key
        ws.review.saved(updated)
        self._results.update_record(updated)
        self._status.showMessage(f"Saved: {stored.kind} by {stored.grader} ({record.result.path.name})", 5000)
        if following is None or not self._worklist.select_key(following):
            current = self._worklist.current_record()
            if current is not None and current.key == updated.key:
                ws.review.show_record(updated)
                ws.detail.show_record(updated)
            elif current is None and self._worklist.proxy.rowCount():
                self._worklist.move(0)
        # Back to the list: the next keys are grades and N/P, not more text in the field typed in last.
        (ws.patients.tree if ws.patients_shown() else ws.table).setFocus()

    def undo_last(self) -> None:
        """Ctrl+Z: the image saved last gets back the decision it had before (or none); audited."""
        key = self.last_decided
        row = self._results.row_of(key) if key else None
        if row is None:
            self._status.showMessage("There is no decision to undo in this session", 5000)
            return
        record = self._results.record(row)
        self._change(record, lambda grader: self._session.undo(record, grader), "Undone: {name} is back to {state}")
        self.last_decided = None

    def set_current_not_reviewed(self) -> None:
        record = self._worklist.current_record()
        if record is None or record.decision is None:
            self._status.showMessage("This image has no decision to remove", 5000)
            return
        self._change(record, lambda grader: self._session.set_not_reviewed(record, grader), "{name} is {state} again")

    def _change(self, record: ImageRecord, change: Callable[[str], ImageRecord], message: str) -> None:
        updated = self._stored(change, "The decision was not changed")
        if updated is None:
            return
        ws = self._workspace()
        ws.review.saved(updated)
        self._results.update_record(updated)
        state = "not reviewed" if updated.decision is None else display.review_text(updated)
        self._status.showMessage(message.format(name=record.result.path.name, state=state), 6000)
        self._worklist.select_key(updated.key)
        current = self._worklist.current_record()
        if current is not None and current.key == updated.key:
            ws.review.show_record(updated)
            ws.detail.show_record(updated)

    def _show_theirs(self, exc: StaleDecisionError) -> None:
        """Another window or workstation changed this decision since it was shown: nothing was saved. The row, the
        form and the detail now show what is stored, and the grader is told both values."""
        current = exc.current
        self._results.update_record(current)
        shown = self._worklist.current_record()
        if shown is not None and shown.image_id == current.image_id:
            ws = self._workspace()
            ws.review.show_record(current)
            ws.detail.show_record(current)
        show_message(self._parent, "Changed elsewhere: not saved", str(exc))

    def _ask_grader_name(self) -> None:
        dialog = QtWidgets.QInputDialog(self._parent)
        dialog.setObjectName("graderNameDialog")
        dialog.setWindowTitle("Who is grading?")
        dialog.setLabelText("Your name is stored with every decision you make (asked once; change it in Settings):")
        dialog.setInputMode(QtWidgets.QInputDialog.InputMode.TextInput)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(self._on_grader_name)
        dialog.open()

    def _on_grader_name(self, name: str) -> None:
        pending, self._pending = self._pending, None
        if not name.strip():
            self._workspace().review.problem.setText("The decision was not saved: a grader name is needed.")
            return
        self._settings.grader_name = name
        self._settings.remember_session(name, self._session.session_id)
        self._status.set_grader(self._settings.grader_name)
        if pending is not None:
            self._save(*pending)
