"""Each grader's agreement with the settled grades of second grading (the arbitrator's where there was one, else the
agreed second grading): sensitivity and specificity for referable disease, quadratic-weighted kappa for the DR grade.
What a clinic lead looks at to see who needs support; computed from the quality-assurance records alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ran_desktop.engine.grading import DR_GRADE_NAMES
from ran_desktop.engine.records.qa_store import QAStatus
from ran_desktop.engine.records.review import Grades
from ran_desktop.engine.records.second_grading import ARBITRATION, FINAL, SECOND, outcome
from ran_desktop.engine.validation.agreement import Proportion, quadratic_kappa


@dataclass(frozen=True)
class GraderAgreement:
    grader: str
    images: int  # of this grader's gradings that have settled grades to compare with
    same_outcome: Proportion  # refer / not refer / ungradable, as settled
    sensitivity: Proportion  # of the settled referable images, those this grader called referable
    specificity: Proportion  # of the settled non-referable images, those this grader did not
    kappa: float | None  # DR grade, quadratic weights, over images both called gradable


def settled(status: QAStatus) -> Grades | None:
    """The grades second grading settled on: the arbitrator's, else the agreeing second grader's."""
    if status.state != FINAL:
        return None
    by_stage = {g.stage: g.grades for g in status.gradings}
    return by_stage.get(ARBITRATION, by_stage.get(SECOND))


def grader_agreement(statuses: Iterable[QAStatus]) -> list[GraderAgreement]:
    """One row per grader who gave a first or second grading that has settled grades, by name."""
    pairs: dict[str, list[tuple[Grades, Grades]]] = defaultdict(list)
    for status in statuses:
        truth = settled(status)
        if truth is None:
            continue
        for grading in status.gradings:
            if grading.stage != ARBITRATION:  # the arbitrator's grades are the reference, not a result
                pairs[grading.grader].append((grading.grades, truth))
    return [_agreement(grader, graded) for grader, graded in sorted(pairs.items(), key=lambda kv: kv[0].casefold())]


def _agreement(grader: str, graded: list[tuple[Grades, Grades]]) -> GraderAgreement:
    same = sum(outcome(mine) == outcome(truth) for mine, truth in graded)
    referable = [(mine, truth) for mine, truth in graded if outcome(truth) == "referable"]
    healthy = [(mine, truth) for mine, truth in graded if outcome(truth) == "not referable"]
    size = len(DR_GRADE_NAMES)
    confusion = [[0] * size for _ in range(size)]
    for mine, truth in graded:
        if mine[0] is not None and truth[0] is not None:
            confusion[truth[0]][mine[0]] += 1
    return GraderAgreement(
        grader, len(graded), Proportion(same, len(graded)),
        Proportion(sum(outcome(mine) == "referable" for mine, _ in referable), len(referable)),
        Proportion(sum(outcome(mine) == "not referable" for mine, _ in healthy), len(healthy)),
        quadratic_kappa(confusion),
    )
