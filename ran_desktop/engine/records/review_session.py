"""A grader's review session, without Qt: which session is open, and every change of a decision, built in one place.

The window only wires widgets to it: the review form hands over a draft (the grades, eye, patient fields, comment and
how the grades got into the form); this service completes it (whether it confirms or overrides the model, who decided,
when) and stores it against the version of the record the grader saw, so a change made elsewhere meanwhile is refused
(`StaleDecisionError`), never overwritten.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from ran_desktop.engine.records.data_folder import utc_now
from ran_desktop.engine.records.review import GraderDecision, ImageRecord, decision_kind
from ran_desktop.engine.records.second_grading import QAPolicy

if TYPE_CHECKING:
    from ran_desktop.engine.records.storage import Storage


class NoGraderError(ValueError):
    """A decision was to be changed with no grader named: the audit trail records who decided."""

    def __init__(self) -> None:
        super().__init__("Set your name (File > Settings) before changing a decision: the audit trail records who did.")


class ReviewSession:
    """The open session of one session database. Storage errors (`StorageError`, `StaleDecisionError`, and
    `ClaimedError` where another window holds the image) pass through unchanged: the caller words them for the grader.

    `token` names this window's claims (claims.py): every change is made under it, so an image another window has
    claimed is refused, and this window's own claim never stands in its way."""

    def __init__(self, storage: Storage, session_id: int):
        self.storage = storage
        self.session_id = session_id
        self.token = uuid.uuid4().hex
        self.second_grading = QAPolicy()  # the clinic's; the window sets it from its settings

    # --- which session ------------------------------------------------------------------------------------------

    def start_new(self) -> int:
        self.session_id = self.storage.new_session()
        return self.session_id

    def open(self, session_id: int) -> None:
        if not self.storage.has_session(session_id):
            raise ValueError(f"there is no session {session_id} in {self.storage.where}")
        self.session_id = session_id

    def records(self) -> list[ImageRecord]:
        """The open session's images, in screening order (damaged rows set aside: `Storage.unreadable_rows`)."""
        return self.storage.load_session(self.session_id)

    # --- decisions ----------------------------------------------------------------------------------------------

    def record_decision(self, record: ImageRecord, draft: GraderDecision, grader: str) -> ImageRecord:
        """Store the grader's decision on `record`, completed here and only here: confirmed or overridden (against
        the model's grades), the grader, the time. Returns the record as it now stands."""
        decision = replace(draft, kind=decision_kind(record, (draft.dr_grade, draft.dme_grade)),
                           grader=_named(grader), decided_at=utc_now())
        stored = self.storage.save_decision(record.image_id, decision, record.decision_version, self.token,
                                            self.second_grading)
        return record.with_decision(stored)

    def undo(self, record: ImageRecord, grader: str) -> ImageRecord:
        """`record` gets back the decision it had before its last change (or none); audited."""
        self.storage.undo_decision(record.image_id, _named(grader), record.decision_version, self.token,
                                   self.second_grading)
        return self.storage.record(record.image_id)

    def set_not_reviewed(self, record: ImageRecord, grader: str) -> ImageRecord:
        """`record`'s decision is taken away (it is not reviewed again); audited."""
        self.storage.set_not_reviewed(record.image_id, _named(grader), record.decision_version, self.token)
        return self.storage.record(record.image_id)


def _named(grader: str) -> str:
    if not grader.strip():
        raise NoGraderError()
    return grader
