"""A screened image as the grader sees it: the model's result, the grader's decision, and what follows from both.

The grader's decision always wins over the model's grades. A model grade from weights that carry a clinical
warning is never presented as a finding without saying so (`model_caveat`), and the model never pre-fills the
grader's answer (`suggested_grades`): the grader grades, or accepts the model's proposal with an explicit key
(`model_proposal`), and the decision records which (`GraderDecision.entry`). Imports neither Qt nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ran_desktop.engine.grading import (
    DME_GRADE_NAMES,
    DR_GRADE_NAMES,
    EyeGrades,
    Recommendation,
    recommend,
)
from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.records.lesion_marks import LesionMark, marks_from_list, marks_to_list
from ran_desktop.engine.records.results import ScreeningResult, Status

CONFIRMED = "confirmed"  # the grader agreed with the model
OVERRIDDEN = "overridden"  # the grader changed a grade (or graded what the model could not)
DECISION_KINDS = (CONFIRMED, OVERRIDDEN)
GRADED = "graded"  # the grader chose the grades
ACCEPTED = "accepted"  # the grader took the model's proposal with the accept key, unchanged
ENTRIES = (GRADED, ACCEPTED)
OPEN = "open"  # the model's grades are shown beside the empty form (and can be accepted with a key)
BLIND = "blind"  # blind first: the model's grades and heat map appear only after the grader's decision is saved
REVIEW_MODES = (OPEN, BLIND)
CHANGES = ("better", "same", "worse")  # an eye since the patient's last visit

Grades = tuple[int | None, int | None]  # (DR, DME); (None, None) means ungradable


@dataclass(frozen=True)
class GraderDecision:
    """What a grader decided for one image. `eye` and the patient fields are set only where the file had none."""

    dr_grade: int | None  # None together with dme_grade: the grader judged the image ungradable
    dme_grade: int | None
    eye: Eye | None = None
    patient_id: str | None = None
    patient_name: str | None = None
    comment: str = ""
    kind: str = CONFIRMED
    grader: str = ""
    decided_at: str = ""  # ISO 8601, UTC
    entry: str = GRADED  # how the grades got into the form (ENTRIES); decisions made before it: GRADED
    review_mode: str = ""  # the clinic's review mode when it was made (REVIEW_MODES); "" before it was recorded
    marks: tuple[LesionMark, ...] = ()  # where the grader saw lesions (lesion_marks.py), in the photograph's pixels
    fovea: tuple[float, float] | None = None  # where the grader moved the macular grid's centre (photograph's pixels)
    change: str = ""  # since the patient's last visit (CHANGES), where the grader compared them

    def __post_init__(self) -> None:
        if (self.dr_grade is None) != (self.dme_grade is None):
            raise ValueError("give both a DR and a DME grade, or neither (ungradable)")
        if self.dr_grade is not None and not 0 <= self.dr_grade < len(DR_GRADE_NAMES):
            raise ValueError(f"DR grade must be 0-{len(DR_GRADE_NAMES) - 1}, got {self.dr_grade}")
        if self.dme_grade is not None and not 0 <= self.dme_grade < len(DME_GRADE_NAMES):
            raise ValueError(f"DME grade must be 0-{len(DME_GRADE_NAMES) - 1}, got {self.dme_grade}")
        if self.kind not in DECISION_KINDS:
            raise ValueError(f"decision kind must be one of {DECISION_KINDS}, got {self.kind!r}")
        if self.entry not in ENTRIES:
            raise ValueError(f"decision entry must be one of {ENTRIES}, got {self.entry!r}")
        if self.change not in ("", *CHANGES):
            raise ValueError(f"change since the last visit must be one of {CHANGES}, got {self.change!r}")
        if self.review_mode not in ("", *REVIEW_MODES):
            raise ValueError(f"review mode must be one of {REVIEW_MODES}, got {self.review_mode!r}")

    @property
    def ungradable(self) -> bool:
        return self.dr_grade is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dr_grade": self.dr_grade,
            "dme_grade": self.dme_grade,
            "eye": self.eye.value if self.eye else None,
            "patient_id": self.patient_id,
            "patient_name": self.patient_name,
            "comment": self.comment,
            "kind": self.kind,
            "grader": self.grader,
            "decided_at": self.decided_at,
            "entry": self.entry,
            "review_mode": self.review_mode,
            "marks": marks_to_list(self.marks),
            "fovea": list(self.fovea) if self.fovea is not None else None,
            "change": self.change or None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraderDecision:
        eye = data.get("eye")
        return cls(
            dr_grade=data.get("dr_grade"),
            dme_grade=data.get("dme_grade"),
            eye=Eye(eye) if eye else None,
            patient_id=data.get("patient_id"),
            patient_name=data.get("patient_name"),
            comment=data.get("comment") or "",
            kind=data.get("kind") or CONFIRMED,
            grader=data.get("grader") or "",
            decided_at=data.get("decided_at") or "",
            entry=data.get("entry") or GRADED,
            review_mode=data.get("review_mode") or "",
            marks=marks_from_list(data.get("marks")),
            fovea=(float(data["fovea"][0]), float(data["fovea"][1])) if data.get("fovea") else None,
            change=data.get("change") or "",
        )


@dataclass(frozen=True)
class Grading:
    """One stage of second grading (second_grading.py): who graded, what, when."""

    stage: str  # "first", "second" or "arbitration"
    grader: str
    grades: Grades
    at: str

    def words(self) -> str:
        dr, dme = self.grades
        grades = "ungradable" if dr is None or dme is None else f"DR {dr} ({DR_GRADE_NAMES[dr]}), DME {dme}"
        stage = {"first": "First grading", "second": "Second grading", "arbitration": "Arbitration"}[self.stage]
        when = self.at[:16].replace("T", " ") + " UTC" if len(self.at) >= 16 else self.at
        return f"{stage}: {self.grader}, {grades}, {when}"


@dataclass(frozen=True)
class ImageRecord:
    """One row of the worklist: a stored screening result (no pixels), its thumbnail and the grader's decision."""

    image_id: int
    result: ScreeningResult
    thumbnail: bytes | None = None  # small JPEG made when screened
    decision: GraderDecision | None = None
    screened_at: str = ""
    # The file was screened again later and held another photograph: this row (and its decision) is the earlier one.
    superseded: bool = False
    # How many times its decision has changed (its audit entries): a change names the version it was made on, so a
    # window that did not see another's change cannot overwrite it unawares (Storage refuses: StaleDecisionError).
    decision_version: int = 0
    gradings: tuple[Grading, ...] = ()  # second grading's stages, where the image went through it

    @property
    def key(self) -> str:
        return self.result.key

    @property
    def file_path(self) -> Path:
        return self.result.path

    @property
    def file_label(self) -> str:
        return self.result.file_label

    @property
    def status(self) -> Status:
        return self.result.status

    @property
    def reviewed(self) -> bool:
        return self.decision is not None

    @property
    def eye(self) -> Eye:
        if self.decision is not None and self.decision.eye is not None:
            return self.decision.eye
        meta = self.result.metadata
        return meta.eye if meta is not None else Eye.UNKNOWN

    @property
    def patient_id(self) -> str | None:
        if self.decision is not None and self.decision.patient_id:
            return self.decision.patient_id
        meta = self.result.metadata
        return meta.patient_id if meta is not None else None

    @property
    def patient_name(self) -> str | None:
        if self.decision is not None and self.decision.patient_name:
            return self.decision.patient_name
        meta = self.result.metadata
        return meta.patient_name if meta is not None else None

    @property
    def taken(self) -> str:
        """When the photograph was taken (the file's study date) or, without one, the day it was screened."""
        meta = self.result.metadata
        return (meta.study_date if meta is not None and meta.study_date else "") or self.screened_at[:10]

    @property
    def model_grades(self) -> Grades:
        return self.result.dr_grade, self.result.dme_grade

    @property
    def grades(self) -> Grades:
        """The grades that count: the grader's when reviewed, else the model's; (None, None) when ungradable."""
        if self.decision is not None:
            return self.decision.dr_grade, self.decision.dme_grade
        return self.model_grades

    @property
    def ungradable(self) -> bool:
        """Readable, but without grades that count (the quality gate said so, or the grader did)."""
        return self.status is not Status.ERROR and self.grades[0] is None

    @property
    def eye_decision(self) -> EyeGrades | None:
        return eye_grades(self.grades)

    @property
    def referable(self) -> bool:
        return is_referable(self.grades)

    @property
    def suspected(self) -> bool:
        """Ungradable (by the gate, or by the grader too) while the model suspects referable disease on it; a grader
        who grades the photograph after all decides instead."""
        return self.ungradable and self.result.suspected

    @property
    def recommendation(self) -> Recommendation | None:
        if self.status is Status.ERROR:
            return None
        return recommend(*self.grades, self.suspected)

    @property
    def model_caveat(self) -> str:
        """A few words that must accompany the model's grades ('' when reviewed or the weights carry no warning)."""
        if self.decision is not None or self.status is Status.ERROR or self.result.dr_probs is None:
            return ""
        return caveat_for(self.result)

    def with_decision(self, decision: GraderDecision | None) -> ImageRecord:
        """This record after one more change of its decision (one more audit entry)."""
        return replace(self, decision=decision, decision_version=self.decision_version + 1)


def caveat_for(result: ScreeningResult) -> str:
    if not result.model.trained:
        return "untrained model"
    if result.model.synthetic:
        return "mostly synthetic training" if result.model.real else "synthetic training only"
    return "unvalidated model" if result.model.warning else ""


def decision_kind(record: ImageRecord, grades: Grades) -> str:
    """CONFIRMED when the grader's grades are the model's (or the gate's 'ungradable'), else OVERRIDDEN."""
    if record.status is Status.ERROR:
        return OVERRIDDEN
    return CONFIRMED if tuple(grades) == record.model_grades else OVERRIDDEN


def suggested_grades(record: ImageRecord) -> Grades | None:
    """What the review form starts with: the grader's own earlier decision, else nothing (None).

    Never the model's grades, not even the quality gate's "ungradable": a form that starts with an answer is saved
    with it out of habit (Ctrl+Enter saved "confirmed" before the grader had chosen anything). The model's
    proposal is one key away instead (`model_proposal`).
    """
    if record.decision is not None:
        return record.decision.dr_grade, record.decision.dme_grade
    return None


class Listed(Protocol):
    """A worklist row: a record, or its list entry (record_list.ListEntry)."""

    @property
    def status(self) -> Status: ...

    @property
    def reviewed(self) -> bool: ...


def eye_grades(grades: Grades) -> EyeGrades | None:
    """Grades that count as an eye's decision; None for an ungradable image (either grade missing)."""
    dr, dme = grades
    return None if dr is None or dme is None else EyeGrades(dr, dme)


def is_referable(grades: Grades) -> bool:
    decision = eye_grades(grades)
    return decision is not None and decision.referable


def blinded(record: Listed, mode: str) -> bool:
    """Whether the model's grades (and everything that would give them away) are hidden from the grader: in blind-
    first review, for a screened image no grader has decided yet. The quality gate's verdict is never hidden."""
    return mode == BLIND and record.status is Status.SCREENED and not record.reviewed


def model_proposal(record: ImageRecord) -> Grades | None:
    """What the grader's accept key puts in the form: the quality gate's "ungradable", or the model's grades when
    its weights are trained; None (nothing to accept) for an unreadable file or untrained weights."""
    if record.status is Status.UNGRADABLE:
        return None, None
    if record.status is Status.SCREENED and record.result.model.trained:
        return record.model_grades
    return None


def missing_fields(record: ImageRecord) -> set[str]:
    """Which of 'eye', 'patient_id', 'patient_name' the file itself did not carry (the grader may fill them)."""
    meta = record.result.metadata
    missing: set[str] = set()
    if meta is None or meta.eye is Eye.UNKNOWN:
        missing.add("eye")
    if meta is None or not meta.patient_id:
        missing.add("patient_id")
    if meta is None or not meta.patient_name:
        missing.add("patient_name")
    return missing
