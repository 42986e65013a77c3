"""How results read in the window: one wording for the table, the patient panel and the detail view.

The worklist's cells are short, so their key words stay visible at 1280x800: a model grade not yet confirmed by a
grader is set in italics (see results_model), the caveat its weights need is said once, in the window's banner,
and again in each cell's tooltip and in the patient summary, not in every cell. Pure text: no Qt.
"""

from __future__ import annotations

from typing import Any

from ran_desktop.engine.grading import (
    DME_GRADE_NAMES,
    DR_GRADE_NAMES,
    Recommendation,
    referable_probability_words,
)
from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.records.patient_groups import Groupable, PatientGroup
from ran_desktop.engine.records.results import ScreeningResult, Status
from ran_desktop.engine.records.review import CONFIRMED, ImageRecord

NONE = "—"
EYE_TEXT = {Eye.RIGHT: "OD (right)", Eye.LEFT: "OS (left)", Eye.UNKNOWN: "unknown"}


_EYE_SOURCES = {"dicom": "from the DICOM header", "filename": "from the file name"}


def eye_tooltip(record: ImageRecord) -> str:
    if record.decision is not None and record.decision.eye is not None:
        return f"{EYE_TEXT[record.eye]}, set by the grader"
    meta = record.result.metadata
    source = _EYE_SOURCES.get(meta.eye_source, "not recorded in the file") if meta else "not recorded in the file"
    return f"{EYE_TEXT[record.eye]}, {source}"


def grade_label(head: str, grade: int | None) -> str:
    if grade is None:
        return "Ungradable"
    names = DR_GRADE_NAMES if head == "dr" else DME_GRADE_NAMES
    return f"{grade} – {names[grade]}"


SHORT_GRADE_NAMES = {
    "dr": ("None", "Mild", "Moderate", "Severe", "PDR"),  # PDR: proliferative DR, as graders write it
    "dme": ("None", "Non-central", "Central"),  # away from / at or near the fovea; full names in the tooltip
}


def short_grade_label(head: str, grade: int | None) -> str:
    """The grade as the worklist shows it: "2 Moderate"; the full name is in the tooltip."""
    if grade is None:
        return "Ungradable"
    return f"{grade} {SHORT_GRADE_NAMES[head][grade]}"


def with_caveat(text: str, caveat: str) -> str:
    return f"{text} ({caveat})" if caveat else text


def _grade_text(record: Groupable, head: str) -> str:
    if record.status is Status.ERROR:
        return NONE
    dr, dme = record.grades
    return short_grade_label(head, dr if head == "dr" else dme)


def grade_tooltip(record: ImageRecord, head: str) -> str:
    """The full grade name, whose grade it is, and the caveat an unconfirmed model grade needs."""
    if record.status is Status.ERROR:
        return NONE
    dr, dme = record.grades
    text = grade_label(head, dr if head == "dr" else dme)
    if record.reviewed:
        return f"{text}: the grader's grade"
    who = "the quality gate's verdict" if dr is None else "the model's grade, not yet confirmed by a grader"
    return with_caveat(f"{text}: {who}", "" if dr is None else record.model_caveat)


def dr_text(record: Groupable) -> str:
    return _grade_text(record, "dr")


def dme_text(record: Groupable) -> str:
    return _grade_text(record, "dme")


URGENT_MARK = "\u26a0"  # a warning sign: urgent is said by colour, sign and word together


def referable_text(record: ImageRecord) -> str:
    decision = record.eye_decision
    if decision is None:
        # Ungradable, but the model suspects referable disease on it: refer, do not only re-image.
        return f"{URGENT_MARK} Refer (ungradable)" if record.suspected else NONE
    return f"{URGENT_MARK} Yes, urgent" if decision.urgent else "Yes" if decision.referable else "No"


def quality_word(record: ImageRecord) -> str:
    """The quality verdict in one word, for the list; `quality_text` has the reasons."""
    if record.status is Status.ERROR:
        return "Unreadable"
    quality = record.result.quality
    if quality is None:
        return NONE
    return "Gradable" if quality.gradable else "Ungradable"


def quality_text(record: ImageRecord) -> str:
    if record.status is Status.ERROR:
        return f"Not screened: {record.result.error}"
    quality = record.result.quality
    if quality is None:
        return NONE
    if quality.gradable:
        return "Gradable"
    return "Ungradable: " + "; ".join(quality.reasons)


CONFIRMED_MARK, OVERRIDDEN_MARK = "\u2713", "\u270e"  # a tick; a pencil: the grader changed the model's grade


REPLACED_MARK = "\u26a0"  # a warning sign: the file now holds another photograph
REPLACED_NOTE = ("The file has been replaced since: it now holds another photograph, listed as a new image. This row "
                 "and its decision belong to the photograph screened earlier (its thumbnail).")


def review_text(record: ImageRecord) -> str:
    d = record.decision
    if d is None:
        text = "Cannot be reviewed" if record.status is Status.ERROR else "Not reviewed"
    elif d.kind == CONFIRMED:
        text = f"{CONFIRMED_MARK} Confirmed by {d.grader}"
    else:
        text = f"{OVERRIDDEN_MARK} Overridden by {d.grader}"
    return f"{text}. {REPLACED_NOTE}" if record.superseded else text


def review_word(record: ImageRecord) -> str:
    """The review in the list's few characters: mark and verb; who and when are in the tooltip."""
    if record.superseded:
        return f"{REPLACED_MARK} File replaced"
    d = record.decision
    if d is None:
        return NONE if record.status is Status.ERROR else "Not reviewed"
    return f"{CONFIRMED_MARK} Confirmed" if d.kind == CONFIRMED else f"{OVERRIDDEN_MARK} Overridden"


def patient_text(record: ImageRecord) -> str:
    return patient_label(record.patient_id, record.patient_name) or NONE


def patient_label(patient_id: str | None, patient_name: str | None) -> str:
    if patient_name and patient_id:
        return f"{patient_name} ({patient_id})"
    return patient_name or patient_id or ""


def file_text(record: ImageRecord) -> str:
    return record.result.file_label


def outcome_text(recommendation: Recommendation | None) -> str:
    if recommendation is None:
        return NONE
    return recommendation.outcome.value[:1].upper() + recommendation.outcome.value[1:]


def group_title(group: PatientGroup[Any]) -> str:
    label = patient_label(group.patient_id, group.patient_name)
    if label:
        return label
    record = group.records[0]
    if record.status is Status.ERROR:
        return f"Unreadable file: {record.file_path.name}"
    if group.file_name_patient and len(group.records) > 1:
        return f"No patient ID: \u201c{group.file_name_patient}\u201d by file name ({len(group.records)} images)"
    return f"No patient ID: {record.file_label}"


def group_outcome_text(group: PatientGroup[Any]) -> str:
    if group.decision is None:
        return NONE
    return outcome_text(group.decision.recommendation)


def percent(p: float) -> str:
    return f"{p * 100:.1f} %"


def referable_probability_text(result: ScreeningResult) -> str:
    """The model's probability of referable disease, for the Probabilities tab; "" when it graded nothing."""
    p = result.referable_probability
    if p is None:
        return ""
    words = referable_probability_words(p, result.model.referable_threshold)
    return f"<b>Probability of referable disease:</b> {words}"
