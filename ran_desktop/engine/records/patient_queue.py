"""The order patients are graded in, as a screening programme works its list: patients with an image still to grade
first, the most urgent by what is known so far (the model's proposal until a grader decides, the worse eye
deciding), then the oldest photographs first, so nobody waits longest for a result that may be urgent."""

from __future__ import annotations

from collections.abc import Sequence

from ran_desktop.engine.grading import Outcome
from ran_desktop.engine.records.patient_groups import PatientGroup
from ran_desktop.engine.records.results import Status

# Most urgent first: the worse eye's outcome decides, as for the patient's report.
URGENCY = (Outcome.URGENT_REFERRAL, Outcome.UNGRADABLE_REFER, Outcome.REFERRAL, Outcome.UNGRADABLE,
           Outcome.ROUTINE_RESCREEN)


def _urgency(group: PatientGroup) -> int:
    outcome = group.decision.recommendation.outcome if group.decision is not None else None
    return URGENCY.index(outcome) if outcome in URGENCY else len(URGENCY)


def _taken(group: PatientGroup) -> str:
    """When the patient's photographs were taken (the study date where the file says), else screened: oldest."""
    dates = []
    for record in group.records:
        meta = record.result.metadata
        dates.append((meta.study_date if meta is not None and meta.study_date else "") or record.screened_at[:10])
    return min(d for d in dates if d) if any(dates) else "9999"


def to_grade(groups: Sequence[PatientGroup]) -> list[PatientGroup]:
    """Patients with a readable image no grader has decided, most urgent first, then the oldest photographs."""
    waiting = [g for g in groups if any(r.decision is None and r.status is not Status.ERROR for r in g.records)]
    return sorted(waiting, key=lambda g: (_urgency(g), _taken(g), g.key))
