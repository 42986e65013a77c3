"""Second grading and arbitration in the session database: each stage's grading (`gradings`) and where each image
stands (`qa`), read and written inside the caller's transaction (Storage holds the write lock). The rules are
`second_grading`'s; the decision each final stage makes, and its audit entry, are Storage's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, delete, insert, select, update

from ran_desktop.engine.records.review import GraderDecision, Grading
from ran_desktop.engine.records.second_grading import (
    AWAITING_SECOND,
    FIRST,
    GradingOrderError,
    QAPolicy,
    check_grader,
    next_state,
    second_reason,
)
from ran_desktop.engine.records.tables import gradings, images, qa


@dataclass(frozen=True)
class QAStatus:
    image_id: int
    state: str
    reason: str
    rule: str
    gradings: tuple[Grading, ...]


def _stages(db: Connection, *where: ColumnElement[bool], join_images: bool = False) -> dict[int, tuple[Grading, ...]]:
    """The gradings `where` selects, by image, each image's in the order they were given."""
    query = select(gradings.c.image_id, gradings.c.stage, gradings.c.grader, gradings.c.dr_grade,
                   gradings.c.dme_grade, gradings.c.decided_at)
    if join_images:
        query = query.join(images, images.c.id == gradings.c.image_id)
    by_image: dict[int, list[Grading]] = defaultdict(list)
    for r in db.execute(query.where(*where).order_by(gradings.c.id)):
        by_image[int(r[0])].append(Grading(r[1], r[2], (r[3], r[4]), r[5]))
    return {image_id: tuple(found) for image_id, found in by_image.items()}


def status(db: Connection, image_id: int) -> QAStatus | None:
    row = db.execute(select(qa.c.state, qa.c.reason, qa.c.rule).where(qa.c.image_id == image_id)).first()
    if row is None:
        return None
    stages = _stages(db, gradings.c.image_id == image_id).get(image_id, ())
    return QAStatus(image_id, row[0], row[1], row[2], stages)


def check_first_may_change(db: Connection, image_id: int) -> None:
    """The first grader's decision may change until the second grading is in; after that only arbitration does."""
    current = status(db, image_id)
    if current is not None and any(g.stage != FIRST for g in current.gradings):
        raise GradingOrderError(
            f"this image has been second graded ({current.state}): its decision now changes only through "
            "arbitration")


def after_first(db: Connection, image_id: int, key: str, decision: GraderDecision | None, policy: QAPolicy | None,
                now: str) -> str | None:
    """Record the first grader's (new) decision for quality assurance: sent for second grading where the policy
    says, taken out again where it no longer does (or the decision was removed). Returns the reason, or None."""
    db.execute(delete(gradings).where(gradings.c.image_id == image_id))
    db.execute(delete(qa).where(qa.c.image_id == image_id))
    if decision is None or policy is None:
        return None
    grades = (decision.dr_grade, decision.dme_grade)
    reason = second_reason(key, grades, policy)
    if reason is None:
        return None
    db.execute(insert(gradings).values(image_id=image_id, stage=FIRST, grader=decision.grader, dr_grade=grades[0],
                                       dme_grade=grades[1], decided_at=decision.decided_at or now))
    db.execute(insert(qa).values(image_id=image_id, state=AWAITING_SECOND, reason=reason, rule=policy.rule,
                                 updated_at=now))
    return reason


def grade(db: Connection, image_id: int, stage: str, decision: GraderDecision, now: str) -> str:
    """Add the `stage` grading (SECOND or ARBITRATION) when it is due and the grader may give it; the new state."""
    current = status(db, image_id)
    if current is None:
        raise GradingOrderError("this image is not in second grading")
    earlier = list(current.gradings)
    check_grader(stage, decision.grader, earlier)
    made = Grading(stage, decision.grader, (decision.dr_grade, decision.dme_grade), decision.decided_at or now)
    state = next_state(current.state, stage, [*earlier, made], current.rule)
    db.execute(insert(gradings).values(image_id=image_id, stage=stage, grader=made.grader, dr_grade=made.grades[0],
                                       dme_grade=made.grades[1], decided_at=made.at))
    db.execute(update(qa).where(qa.c.image_id == image_id).values(state=state, updated_at=now))
    return state


def queue(db: Connection, state: str, grader: str, session_id: int | None = None) -> list[int]:
    """Images waiting for the grading `state` names that `grader` may give (none of its earlier gradings is
    theirs), oldest first."""
    query = select(qa.c.image_id).where(qa.c.state == state).order_by(qa.c.updated_at, qa.c.image_id)
    if session_id is not None:
        query = query.join(images, images.c.id == qa.c.image_id).where(images.c.session_id == session_id)
    waiting = [int(i) for i in db.execute(query).scalars()]
    if not waiting:
        return []
    mine = set(db.execute(select(gradings.c.image_id).where(
        gradings.c.image_id.in_(waiting), gradings.c.grader == grader)).scalars())
    return [i for i in waiting if i not in mine]


def gradings_of_session(db: Connection, session_id: int) -> dict[int, tuple[Grading, ...]]:
    """Each image of the session that went through second grading: its stages, in order."""
    return _stages(db, images.c.session_id == session_id, join_images=True)


def gradings_of_images(db: Connection, image_ids: Sequence[int]) -> dict[int, tuple[Grading, ...]]:
    return _stages(db, gradings.c.image_id.in_(image_ids))


def all_statuses(db: Connection) -> list[QAStatus]:
    """Every image in quality assurance, with its gradings (for the graders' statistics)."""
    by_image = _stages(db)
    states = db.execute(select(qa.c.image_id, qa.c.state, qa.c.reason, qa.c.rule).order_by(qa.c.image_id))
    return [QAStatus(int(r[0]), r[1], r[2], r[3], by_image.get(int(r[0]), ())) for r in states]

