"""The order patients are graded in, as a screening programme works its list: patients with an image still to grade
first, the most urgent by what is known so far (the model's proposal until a grader decides, the worse eye
deciding), then the oldest photographs first, so nobody waits longest for a result that may be urgent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from ran_desktop.engine.grading import Outcome
from ran_desktop.engine.records.patient_groups import Groupable, PatientGroup
from ran_desktop.engine.records.results import Status

# Most urgent first: the worse eye's outcome decides, as for the patient's report.
URGENCY = (Outcome.URGENT_REFERRAL, Outcome.UNGRADABLE_REFER, Outcome.REFERRAL, Outcome.UNGRADABLE,
           Outcome.ROUTINE_RESCREEN)


class Queued(Groupable, Protocol):
    """What the queue reads of an image besides grouping's: when it was taken. A record, or its list entry."""

    @property
    def taken(self) -> str: ...


Q = TypeVar("Q", bound=Queued)


def _urgency(group: PatientGroup) -> int:
    outcome = group.decision.recommendation.outcome if group.decision is not None else None
    return URGENCY.index(outcome) if outcome in URGENCY else len(URGENCY)


def _taken(group: PatientGroup[Q]) -> str:
    """When the patient's photographs were taken (the study date where the file says), else screened: oldest."""
    dates = [d for d in (record.taken for record in group.records) if d]
    return min(dates) if dates else "9999"


def waiting(group: PatientGroup[Q]) -> bool:
    """The patient has a readable image no grader has decided."""
    return any(not r.reviewed and r.status is not Status.ERROR for r in group.records)


def to_grade(groups: Sequence[PatientGroup[Q]]) -> list[PatientGroup[Q]]:
    """Patients with a readable image no grader has decided, most urgent first, then the oldest photographs."""
    return sorted((g for g in groups if waiting(g)), key=lambda g: (_urgency(g), _taken(g), g.key))
