"""The numbers at the top of a batch summary, by the grades that count (the grader's where reviewed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES, Outcome
from ran_desktop.engine.records.patient_groups import PatientGroup
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import OVERRIDDEN


@dataclass(frozen=True)
class BatchCounts:
    patients: int
    images: int
    unreadable: int  # files that could not be read at all
    ungradable: int  # readable, but without grades that count (quality gate or grader)
    reviewed: int  # readable images with a grader's decision
    overridden: int  # of those, where the grader changed the model's grades
    referable_images: int
    referable_patients: int
    no_outcome_patients: int  # not one image could be read
    dr: tuple[int, ...]  # images per DR grade 0-4
    dme: tuple[int, ...]  # images per DME grade 0-2
    outcomes: tuple[tuple[Outcome, int], ...]  # patients per outcome, most urgent first

    @property
    def readable(self) -> int:
        return self.images - self.unreadable


def batch_counts(groups: Sequence[PatientGroup]) -> BatchCounts:
    records = [r for g in groups for r in g.records]
    readable = [r for r in records if r.status is not Status.ERROR]
    graded = [r.eye_decision for r in readable if r.eye_decision is not None]
    dr = [0] * len(DR_GRADE_NAMES)
    dme = [0] * len(DME_GRADE_NAMES)
    for decision in graded:
        dr[decision.dr_grade] += 1
        dme[decision.dme_grade] += 1
    outcomes = {outcome: 0 for outcome in Outcome}
    for group in groups:
        if group.decision is not None:
            outcomes[group.decision.recommendation.outcome] += 1
    return BatchCounts(
        patients=len(groups),
        images=len(records),
        unreadable=len(records) - len(readable),
        ungradable=sum(1 for r in readable if r.ungradable),
        reviewed=sum(1 for r in readable if r.reviewed),
        overridden=sum(1 for r in readable if r.decision is not None and r.decision.kind == OVERRIDDEN),
        referable_images=sum(1 for d in graded if d.referable),
        referable_patients=sum(1 for g in groups if g.decision is not None and g.decision.referable),
        no_outcome_patients=sum(1 for g in groups if g.decision is None),
        dr=tuple(dr),
        dme=tuple(dme),
        outcomes=tuple(outcomes.items()),
    )
