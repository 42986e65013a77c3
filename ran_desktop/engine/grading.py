"""Grading rules: grade names, derived decisions and follow-up, for one eye and for a patient.

Grades follow the International Clinical Diabetic Retinopathy (ICDR) severity scale and the IDRiD/Messidor
"risk of macular edema" scale. Follow-up intervals follow the ICO Guidelines for Diabetic Eye Care
(International Council of Ophthalmology, updated 2017), screening-setting recommendations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

GUIDELINE = "ICO Guidelines for Diabetic Eye Care (International Council of Ophthalmology, 2017)"

DR_GRADE_NAMES: tuple[str, ...] = (
    "No apparent DR",
    "Mild NPDR",
    "Moderate NPDR",
    "Severe NPDR",
    "Proliferative DR",
)
DME_GRADE_NAMES: tuple[str, ...] = (
    "No DME",
    "DME away from the fovea",
    "DME at or near the fovea",
)
HEADS = ("dr", "dme")  # the model's grading heads, as its outputs and Grad-CAM name them


REFERABLE_DR = 2  # DR grade from which an eye is referable
REFERABLE_DME = 1


def referable_probability(dr_probs: Sequence[float], dme_probs: Sequence[float]) -> float:
    """The model's probability that the eye is referable: the larger of P(DR >= 2) and P(DME >= 1)."""
    return max(sum(dr_probs[REFERABLE_DR:]), sum(dme_probs[REFERABLE_DME:]))


def model_grades(dr_probs: Sequence[float], dme_probs: Sequence[float],
                 referable_threshold: float | None) -> tuple[int, int]:
    """The model's DR and DME grades under its operating point.

    Without a threshold (older bundles), each grade is the most probable one. With one, referable is decided first
    from the probabilities, not from the most probable grade: DR is the most probable of 2-4 when P(DR >= 2) reaches
    the threshold, else of 0-1; DME likewise with P(DME >= 1). So the eye is referable (DR >= 2 or DME >= 1) exactly
    when `referable_probability` reaches the threshold, and the grades always agree with that flag.
    """
    if referable_threshold is None:
        return _argmax(dr_probs), _argmax(dme_probs)
    dr_referable = sum(dr_probs[REFERABLE_DR:]) >= referable_threshold
    dme_referable = sum(dme_probs[REFERABLE_DME:]) >= referable_threshold
    dr = _argmax_in(dr_probs, range(REFERABLE_DR, len(dr_probs)) if dr_referable else range(REFERABLE_DR))
    dme = _argmax_in(dme_probs, range(REFERABLE_DME, len(dme_probs)) if dme_referable else range(REFERABLE_DME))
    return dr, dme


def referable_probability_words(probability: float, threshold: float | None) -> str:
    """"62 % (referable from 18 %)": the probability with the line the model's operating point draws."""
    text = f"{probability * 100:.0f} %"
    if threshold is None:
        return f"{text} (this model has no referable threshold: its most probable grades decide)"
    return f"{text} (referable from {threshold * 100:.0f} %)"


def suspicion_words(probability: float, threshold: float | None) -> str:
    """What the model's look at an ungradable photograph means, in words for the window and the reports."""
    line = DEFAULT_SUSPICION_THRESHOLD if threshold is None else threshold
    p = f"{probability * 100:.0f} %"
    if suspects_disease(probability, threshold):
        return (f"The model looked all the same and suspects referable disease (probability {p}, referable from "
                f"{line * 100:.0f} %): refer, do not wait for a re-take.")
    return (f"The model looked all the same: probability of referable disease {p} (referable from {line * 100:.0f} %)"
            f" on this poor photograph, which rules nothing out: re-take it.")


def _argmax(probs: Sequence[float]) -> int:
    """The first index of the largest value, as np.argmax gives it, without numpy: the worklist asks for grades
    many times per repaint, and with a session reopened at start before numpy is loaded."""
    return max(range(len(probs)), key=probs.__getitem__)


def _argmax_in(probs: Sequence[float], grades: range) -> int:
    return max(grades, key=probs.__getitem__)


class Outcome(str, Enum):
    """What the screening result means for the patient, most to least urgent."""

    URGENT_REFERRAL = "urgent referral"
    # The photograph is too poor to grade, but the model, looking anyway, finds referable disease likely: a re-take
    # must not delay the referral.
    UNGRADABLE_REFER = "ungradable – refer; the model suspects referable disease"
    REFERRAL = "referral"
    UNGRADABLE = "ungradable: re-image or refer"
    ROUTINE_RESCREEN = "routine rescreening"


# Ordered from the worst outcome to the best: the worse eye decides for the patient.
_SEVERITY = [Outcome.URGENT_REFERRAL, Outcome.UNGRADABLE_REFER, Outcome.REFERRAL, Outcome.UNGRADABLE,
             Outcome.ROUTINE_RESCREEN]
# Without an operating point in its bundle, the model suspects disease on an ungradable photograph from this.
DEFAULT_SUSPICION_THRESHOLD = 0.5


def suspects_disease(probability: float | None, referable_threshold: float | None) -> bool:
    """Whether the model's probability of referable disease on an ungradable photograph reaches its operating point
    (the same line that would call a gradable photograph referable)."""
    if probability is None:
        return False
    line = DEFAULT_SUSPICION_THRESHOLD if referable_threshold is None else referable_threshold
    return probability >= line


@dataclass(frozen=True)
class Recommendation:
    outcome: Outcome
    follow_up: str
    within_months: int  # how soon the next examination is due
    guideline: str = GUIDELINE


@dataclass(frozen=True)
class EyeGrades:
    """Decisions derived from one gradable eye's DR and DME grades."""

    dr_grade: int
    dme_grade: int

    def __post_init__(self) -> None:
        if not 0 <= self.dr_grade < len(DR_GRADE_NAMES):
            raise ValueError(f"DR grade must be 0-4, got {self.dr_grade}")
        if not 0 <= self.dme_grade < len(DME_GRADE_NAMES):
            raise ValueError(f"DME grade must be 0-2, got {self.dme_grade}")

    @property
    def dr_name(self) -> str:
        return DR_GRADE_NAMES[self.dr_grade]

    @property
    def dme_name(self) -> str:
        return DME_GRADE_NAMES[self.dme_grade]

    @property
    def any_dr(self) -> bool:
        return self.dr_grade >= 1

    @property
    def referable(self) -> bool:
        return self.dr_grade >= 2 or self.dme_grade >= 1

    @property
    def urgent(self) -> bool:
        return self.dr_grade >= 3 or self.dme_grade == 2

    @property
    def recommendation(self) -> Recommendation:
        return recommend(self.dr_grade, self.dme_grade)


def recommend(dr_grade: int | None, dme_grade: int | None, suspected: bool = False) -> Recommendation:
    """Follow-up for one eye. `None` grades mean the eye could not be graded; `suspected`, that the model found
    referable disease likely on that ungradable photograph all the same (`suspects_disease`)."""
    if (dr_grade is None or dme_grade is None) and suspected:
        return Recommendation(
            Outcome.UNGRADABLE_REFER,
            "Image not gradable, but the model suspects referable disease on it: refer for examination by an "
            "ophthalmologist within 1 month; do not wait for a re-take, and do not report as 'no DR'.",
            1,
        )
    if dr_grade is None or dme_grade is None:
        return Recommendation(
            Outcome.UNGRADABLE,
            "Image not gradable: re-take the photograph (dilate the pupil if needed) or refer for examination "
            "by an eye-care professional; do not report as 'no DR'.",
            1,
        )
    if dr_grade == 4:
        return Recommendation(Outcome.URGENT_REFERRAL, "Refer urgently to an ophthalmologist: within 1 month.", 1)
    if dme_grade == 2:
        return Recommendation(
            Outcome.URGENT_REFERRAL, "Refer to an ophthalmologist: within 1 month (macular edema near the fovea).", 1
        )
    if dr_grade == 3:
        return Recommendation(Outcome.URGENT_REFERRAL, "Refer to an ophthalmologist: within 3 months.", 3)
    if dme_grade == 1:
        return Recommendation(Outcome.REFERRAL, "Refer to an ophthalmologist: within 3 months.", 3)
    if dr_grade == 2:
        return Recommendation(Outcome.REFERRAL, "Refer to an ophthalmologist: within 6 months.", 6)
    return Recommendation(Outcome.ROUTINE_RESCREEN, "Rescreen in 1-2 years.", 12)


@dataclass(frozen=True)
class PatientResult:
    """The patient-level result: the worse eye decides."""

    recommendation: Recommendation
    worst_dr_grade: int | None
    worst_dme_grade: int | None
    eyes_graded: int
    eyes_ungradable: int

    @property
    def referable(self) -> bool:
        return self.recommendation.outcome in (Outcome.URGENT_REFERRAL, Outcome.UNGRADABLE_REFER, Outcome.REFERRAL)


def patient_result(eyes: Iterable[tuple[int | None, int | None] | tuple[int | None, int | None, bool]]
                     ) -> PatientResult:
    """Combine per-eye (dr, dme) grades, None for an ungradable eye, into one decision. A third item, where given,
    says the model suspects disease on that ungradable eye (`recommend`'s `suspected`).

    The most severe outcome wins. An ungradable eye outranks a routine result from the other eye: a patient with one
    normal eye and one ungradable eye still needs re-imaging.
    """
    eyes = list(eyes)
    if not eyes:
        raise ValueError("a patient decision needs at least one eye")
    recommendations = [recommend(*eye) for eye in eyes]
    worst = min(recommendations, key=lambda r: (_SEVERITY.index(r.outcome), r.within_months))
    graded = [(dr, dme) for dr, dme, *_ in eyes if dr is not None and dme is not None]
    return PatientResult(
        recommendation=worst,
        worst_dr_grade=max((dr for dr, _ in graded), default=None),
        worst_dme_grade=max((dme for _, dme in graded), default=None),
        eyes_graded=len(graded),
        eyes_ungradable=len(eyes) - len(graded),
    )



def change_between(before: tuple[int | None, int | None], now: tuple[int | None, int | None]) -> str:
    """How an eye changed between two visits' grades: "worse", "better" or "same" (the more urgent follow-up, then
    the DR grade, then the DME grade decide); "" where either visit could not be graded."""
    if None in before or None in now:
        return ""
    assert before[0] is not None and before[1] is not None and now[0] is not None and now[1] is not None
    then, today = recommend(before[0], before[1]), recommend(now[0], now[1])
    key_then = (-_SEVERITY.index(then.outcome), -then.within_months, before[0], before[1])
    key_now = (-_SEVERITY.index(today.outcome), -today.within_months, now[0], now[1])
    return "worse" if key_now > key_then else "better" if key_now < key_then else "same"
