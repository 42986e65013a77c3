"""What a report says about an image and a patient, as plain text: one wording for every report.

The grader's decision counts over the model's grades; an ungradable image is never worded as "no DR"; a grade from
weights that carry a warning is never printed without it. Pure text: no reportlab.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ran_desktop.engine.grading import (
    DME_GRADE_NAMES,
    DR_GRADE_NAMES,
    Outcome,
    Recommendation,
    referable_probability_words,
    suspicion_words,
)
from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.records.patient_groups import PatientGroup
from ran_desktop.engine.records.results import ModelInfo, Status
from ran_desktop.engine.records.review import ImageRecord, caveat_for

NONE = "—"
EYE_NAMES = {Eye.RIGHT: "Right eye (OD)", Eye.LEFT: "Left eye (OS)", Eye.UNKNOWN: "Eye not recorded"}
EYE_SHORT = {Eye.RIGHT: "OD", Eye.LEFT: "OS", Eye.UNKNOWN: "?"}
_EYE_ORDER = {Eye.RIGHT: 0, Eye.LEFT: 1, Eye.UNKNOWN: 2}
SEX_NAMES = {"M": "Male", "F": "Female", "O": "Other"}
UNGRADABLE_TEXT = "Ungradable: re-image or refer"
SUSPECTED_TEXT = "Ungradable – refer: the model suspects referable disease"
OVERRIDDEN_MARK = "OVERRIDDEN by grader"
CONFIRMED_MARK = "confirmed"


def grade_label(head: str, grade: int | None) -> str:
    if grade is None:
        return UNGRADABLE_TEXT
    names = DR_GRADE_NAMES if head == "dr" else DME_GRADE_NAMES
    return f"{grade} – {names[grade]}"


def ordered_records(group: PatientGroup) -> list[ImageRecord]:
    """Right eye first, then left, then images whose eye is not known; screening order within an eye."""
    indexed = list(enumerate(group.records))
    return [r for _, r in sorted(indexed, key=lambda item: (_EYE_ORDER[item[1].eye], item[0]))]


def file_label(record: ImageRecord) -> str:
    meta = record.result.metadata
    if meta is not None and meta.frame_index is not None:
        return f"{record.result.path.name}, frame {meta.frame_index + 1} of {meta.frame_count}"
    return record.result.path.name


def quality_text(record: ImageRecord) -> str:
    if record.status is Status.ERROR:
        return f"Not screened: the file could not be read ({record.result.error})"
    quality = record.result.quality
    if quality is None or quality.gradable:
        return "Gradable"
    text = "Ungradable: " + "; ".join(quality.reasons)
    if record.result.suspicion is not None and record.result.model.trained:
        text += ". " + suspicion_words(record.result.suspicion, record.result.model.referable_threshold)
    return text


def model_grade_text(record: ImageRecord, head: str) -> str:
    """The model's proposal for one head, with its probability and any caveat its weights need."""
    if record.status is Status.ERROR:
        return NONE
    probs = record.result.dr_probs if head == "dr" else record.result.dme_probs
    grade = record.result.dr_grade if head == "dr" else record.result.dme_grade
    if probs is None or grade is None:
        return "Not graded (image quality): re-image or refer"
    text = f"{grade_label(head, grade)} (p = {probs[grade]:.0%})"
    caveat = caveat_for(record.result)
    return f"{text}; {caveat}" if caveat else text


@dataclass(frozen=True)
class GraderGrade:
    text: str
    overridden: bool  # the grader's grade for this head differs from the model's


def grader_grade(record: ImageRecord, head: str) -> GraderGrade:
    decision = record.decision
    if decision is None:
        return GraderGrade("Not reviewed", False)
    grade = decision.dr_grade if head == "dr" else decision.dme_grade
    model = record.model_grades[0 if head == "dr" else 1]
    overridden = grade != model
    mark = OVERRIDDEN_MARK if overridden else CONFIRMED_MARK
    return GraderGrade(f"{grade_label(head, grade)} ({mark})", overridden)


def model_referable_text(record: ImageRecord) -> str:
    """The model's referable call with the probability its operating point compared."""
    decision = record.result.decision
    if record.status is Status.ERROR:
        return NONE
    if decision is None:
        return SUSPECTED_TEXT if record.result.suspected else UNGRADABLE_TEXT
    words = _referable_words(decision.referable, decision.urgent)
    p = record.result.referable_probability
    if p is None:
        return words
    return f"{words}; p = {referable_probability_words(p, record.result.model.referable_threshold)}"


def final_referable_text(record: ImageRecord) -> str:
    """Referable by the grades that count (the grader's when reviewed)."""
    if record.status is Status.ERROR:
        return NONE
    decision = record.eye_decision
    if decision is None:
        return SUSPECTED_TEXT if record.suspected else UNGRADABLE_TEXT
    return _referable_words(decision.referable, decision.urgent)


def _referable_words(referable: bool, urgent: bool) -> str:
    return "Yes, urgent" if urgent else "Yes" if referable else "No"


def eye_outcome_text(record: ImageRecord) -> str:
    recommendation = record.recommendation
    if recommendation is None:
        return "Not screened: re-image or refer"
    if recommendation.outcome is Outcome.UNGRADABLE:
        return UNGRADABLE_TEXT
    return f"{recommendation.outcome.value.capitalize()}: {recommendation.follow_up}"


def outcome_heading(recommendation: Recommendation | None) -> str:
    if recommendation is None:
        return "NO IMAGE COULD BE READ: RE-IMAGE OR REFER"
    return recommendation.outcome.value.upper()


def outcome_severity(recommendation: Recommendation | None) -> str:
    """"urgent", "refer", "ungradable" or "routine": picks the outcome box's colour."""
    if recommendation is None:
        return "ungradable"
    return {
        Outcome.URGENT_REFERRAL: "urgent",
        Outcome.UNGRADABLE_REFER: "urgent",
        Outcome.REFERRAL: "refer",
        Outcome.UNGRADABLE: "ungradable",
        Outcome.ROUTINE_RESCREEN: "routine",
    }[recommendation.outcome]


def patient_label(group: PatientGroup) -> str:
    """How a patient is named in headers and tables: ID, name, or the file for an unidentified image."""
    if group.patient_id and group.patient_name:
        return f"{group.patient_id} · {group.patient_name}"
    if group.patient_id or group.patient_name:
        return str(group.patient_id or group.patient_name)
    if group.file_name_patient and len(group.records) > 1:
        return f"Unidentified, file names \u201c{group.file_name_patient}\u201d"
    return f"Unidentified ({file_label(group.records[0])})"


def _first(values: list[str | None]) -> str | None:
    return next((v for v in values if v), None)


def patient_facts(group: PatientGroup) -> list[tuple[str, str]]:
    metas = [r.result.metadata for r in group.records if r.result.metadata is not None]
    birth = _first([m.birth_date for m in metas])
    sex = _first([m.sex for m in metas])
    dates = sorted({m.study_date for m in metas if m.study_date})
    return [
        ("Patient ID", group.patient_id or "not recorded"),
        ("Name", group.patient_name or "not recorded"),
        ("Birth date", birth or "not recorded"),
        ("Sex", SEX_NAMES.get(sex or "", sex or "not recorded")),
        ("Exam date", ", ".join(dates) if dates else "not recorded"),
        ("Grader", grader_names(group)),
    ]


def grader_names(group: PatientGroup) -> str:
    readable = [r for r in group.records if r.status is not Status.ERROR]
    names = sorted({r.decision.grader for r in readable if r.decision is not None and r.decision.grader})
    unreviewed = sum(1 for r in readable if r.decision is None)
    if not names:
        return "not reviewed by a grader"
    text = ", ".join(names)
    if unreviewed:
        text += f" ({unreviewed} of {len(readable)} image(s) not reviewed)"
    return text


def models_used(groups: Sequence[PatientGroup], fallback: ModelInfo | None) -> list[ModelInfo]:
    """Every model that graded an image in `groups`, in first-seen order; `fallback` when none did."""
    seen: dict[tuple[str, str], ModelInfo] = {}
    for group in groups:
        for record in group.records:
            if record.status is not Status.ERROR:
                seen.setdefault((record.result.model.name, record.result.model.version), record.result.model)
    if not seen and fallback is not None:
        return [fallback]
    return list(seen.values())


def model_status(info: ModelInfo) -> str:
    if not info.trained:
        return "UNTRAINED"
    if info.synthetic:
        return "trained mostly on synthetic images" if info.real else "trained on synthetic images only"
    return "trained"


def worst_eye_text(group: PatientGroup) -> str:
    decision = group.decision
    if decision is None:
        return "No image of this patient could be read."
    dr, dme = decision.worst_dr_grade, decision.worst_dme_grade
    parts = [
        f"Worst DR grade: {grade_label('dr', dr) if dr is not None else NONE}",
        f"worst DME grade: {grade_label('dme', dme) if dme is not None else NONE}",
        f"images graded: {decision.eyes_graded}, ungradable: {decision.eyes_ungradable}",
    ]
    return "; ".join(parts) + ". The worse eye decides."
