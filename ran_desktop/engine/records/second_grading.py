"""Second grading and arbitration, as screening programmes run quality assurance: the rules, without a database.

After the first grader's decision, an image goes to a second grader when the first grades are referable (always) or
when it falls in a random share of the rest (`QAPolicy.sample_share`, decided from the image's key so every
workstation agrees). The second grader grades blind: neither the first grades nor the model's are shown. Where the
two differ beyond the rule (`REFERABLE`: one refers and the other does not, or one finds the photograph ungradable;
`ANY_GRADE`: any DR or DME grade differs), an arbitrator, who is neither of them, decides; otherwise the second
grading stands. The final grade, and who decided what at each stage, are kept (`qa_store`) and audited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ran_desktop.engine.errors import ScreeningError
from ran_desktop.engine.grading import REFERABLE_DME, REFERABLE_DR
from ran_desktop.engine.records.review import Grades, Grading

FIRST, SECOND, ARBITRATION = "first", "second", "arbitration"
AWAITING_SECOND, AWAITING_ARBITRATION, FINAL = "awaiting second grading", "awaiting arbitration", "final"
REFERABLE_RULE, ANY_GRADE_RULE = "referable", "any grade"
RULES = (REFERABLE_RULE, ANY_GRADE_RULE)
REASON_REFERABLE, REASON_SAMPLED = "referable", "sampled"


class GradingOrderError(ScreeningError, ValueError):
    """A grading that the state of the image does not allow (who, or when); the message says why."""


@dataclass(frozen=True)
class QAPolicy:
    enabled: bool = False
    sample_share: float = 0.10  # of the first grader's non-referable images
    rule: str = REFERABLE_RULE

    def __post_init__(self) -> None:
        if not 0.0 <= self.sample_share <= 1.0:
            raise ValueError(f"the sampled share must be between 0 and 1, got {self.sample_share}")
        if self.rule not in RULES:
            raise ValueError(f"the disagreement rule must be one of {RULES}, got {self.rule!r}")


def outcome(grades: Grades) -> str:
    if grades[0] is None:
        return "ungradable"
    dr, dme = grades
    assert dr is not None and dme is not None  # both or neither (GraderDecision checks)
    return "referable" if dr >= REFERABLE_DR or dme >= REFERABLE_DME else "not referable"


def second_reason(key: str, first: Grades, policy: QAPolicy) -> str | None:
    """Why the image goes to a second grader (REASON_REFERABLE or REASON_SAMPLED), or None when it does not."""
    if not policy.enabled:
        return None
    if outcome(first) != "not referable":  # referable, or ungradable (a referral too): always checked
        return REASON_REFERABLE
    digest = hashlib.sha256(f"second grading:{key}".encode()).digest()
    return REASON_SAMPLED if int.from_bytes(digest[:8], "big") / 2**64 < policy.sample_share else None


def disagree(a: Grades, b: Grades, rule: str) -> bool:
    if rule == ANY_GRADE_RULE:
        return a != b
    return outcome(a) != outcome(b)


def check_grader(stage: str, grader: str, earlier: list[Grading]) -> None:
    """A second grader is not the first; an arbitrator is neither."""
    for made in earlier:
        if made.grader.strip().casefold() == grader.strip().casefold():
            raise GradingOrderError(f"{made.grader} made the {made.stage} grading of this image: the {stage} grading "
                                    "must come from another grader")


def next_state(state: str, stage: str, gradings: list[Grading], rule: str) -> str:
    """The state after a `stage` grading (the last of `gradings`), or GradingOrderError where it is not due."""
    due = {SECOND: AWAITING_SECOND, ARBITRATION: AWAITING_ARBITRATION}
    if due.get(stage) != state:
        raise GradingOrderError(f"this image is {state}: a {stage} grading is not due")
    if stage == ARBITRATION:
        return FINAL
    first = next(g for g in gradings if g.stage == FIRST)
    return AWAITING_ARBITRATION if disagree(first.grades, gradings[-1].grades, rule) else FINAL
