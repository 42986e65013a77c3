"""What can stand in the way of changing a decision when several windows or workstations share a database: a change
made elsewhere since the grader looked (StaleDecisionError), or another grader holding the image (ClaimedError),
and how long such a hold lasts. Light (no database code): the window handles these before the database layer loads.
"""

from __future__ import annotations

from ran_desktop.engine.errors import StorageError
from ran_desktop.engine.records.review import GraderDecision, ImageRecord

CLAIM_SECONDS = 120.0  # a claim lasts this long by the database server's clock unless renewed
RENEW_SECONDS = 40.0  # how often an open image's claim is renewed: well inside CLAIM_SECONDS


class StaleDecisionError(StorageError):
    """The decision changed (another window or workstation) since this one was shown; nothing was saved.
    `current` is the image as stored now, to show the grader beside what they tried to save."""

    def __init__(self, current: ImageRecord, attempted: GraderDecision | None):
        self.current = current
        self.attempted = attempted
        theirs = describe_decision(current.decision)
        mine = describe_decision(attempted)
        super().__init__(
            f"{current.result.path.name} was changed by someone else since you opened it. Saved now: {theirs}. "
            f"Yours, not saved: {mine}. Look at the image again and decide; saving then replaces theirs, audited."
        )


class ClaimedError(StorageError):
    """Another window holds a live claim on the image: nothing was saved."""

    def __init__(self, image_id: int, holder: str):
        self.image_id = image_id
        self.holder = holder
        super().__init__(f"{holder} is grading this image now; your decision was not saved. Choose another image, "
                         "or wait until they have finished.")


def describe_decision(decision: GraderDecision | None) -> str:
    if decision is None:
        return "not reviewed"
    grades = ("ungradable" if decision.dr_grade is None
              else f"DR {decision.dr_grade}, DME {decision.dme_grade}")
    who = f" by {decision.grader}" if decision.grader else ""
    when = f" at {decision.decided_at}" if decision.decided_at else ""
    return f"{grades} ({decision.kind}{who}{when})"
