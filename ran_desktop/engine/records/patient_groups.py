"""Images grouped by patient, each patient with the decision of the worse eye.

Grouping needs only what a worklist row's entry holds (record_list.ListEntry): the window groups a session of
100,000 images from their entries, without reading every stored result. Reports group full records (ImageRecord),
whose model caveats they print. Imports neither Qt nor torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from ran_desktop.engine.grading import EyeGrades, PatientResult, patient_result
from ran_desktop.engine.records.patient_names import DEFAULT_PATTERNS, patient_from_filename
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import Grades, ImageRecord

FILE_PREFIX = "file:"  # a patient grouped by file name (patient_names.py), not by an ID


class Groupable(Protocol):
    """What grouping and the patient's decision read of an image: a record, or its list entry."""

    @property
    def key(self) -> str: ...

    @property
    def status(self) -> Status: ...

    @property
    def reviewed(self) -> bool: ...

    @property
    def grades(self) -> Grades: ...

    @property
    def suspected(self) -> bool: ...

    @property
    def eye_decision(self) -> EyeGrades | None: ...

    @property
    def patient_id(self) -> str | None: ...

    @property
    def patient_name(self) -> str | None: ...

    @property
    def file_path(self) -> Path: ...

    @property
    def file_label(self) -> str: ...


G = TypeVar("G", bound=Groupable)


@dataclass(frozen=True)
class PatientGroup(Generic[G]):
    """The images of one patient and the patient-level decision: the worse eye decides."""

    key: str
    patient_id: str | None
    patient_name: str | None
    records: tuple[G, ...]
    decision: PatientResult | None  # None when not one of the images could be read

    @property
    def identified(self) -> bool:
        return bool(self.patient_id or self.patient_name)

    @property
    def caveat(self: PatientGroup[ImageRecord]) -> str:
        """Set when the patient's outcome rests on at least one unconfirmed grade from weights with a warning."""
        caveats = sorted({r.model_caveat for r in self.records if r.model_caveat and r.eye_decision is not None})
        return ", ".join(caveats)

    @property
    def unconfirmed(self) -> bool:
        """The patient's outcome rests on at least one of the model's grades that no grader has decided yet."""
        return any(r.status is Status.SCREENED and not r.reviewed and r.eye_decision is not None for r in self.records)

    @property
    def reviewed(self) -> bool:
        return all(r.reviewed for r in self.records if r.status is not Status.ERROR)

    @property
    def file_name_patient(self) -> str | None:
        """The patient's part of the file names, where the images were grouped by it (no ID or name)."""
        return self.key.rsplit("/", 1)[-1] if self.key.startswith(FILE_PREFIX) else None


def patient_key(record: Groupable, patterns: Sequence[str] = DEFAULT_PATTERNS) -> str:
    """Images are grouped by patient ID, else by name, else by the patient's part of their file names in one folder
    (`patient_names`); without any, each image stands alone.

    Unnamed photographs are combined only where their names say so: combining two people would put one report
    over both, and let one person's referable eye send the other to a specialist.
    """
    if record.patient_id:
        return f"id:{record.patient_id}"
    if record.patient_name:
        return f"name:{record.patient_name.casefold()}"
    if record.status is not Status.ERROR and patterns:
        path = record.file_path
        from_name = patient_from_filename(path, patterns)
        if from_name:
            return f"{FILE_PREFIX}{path.parent}/{from_name}"
    return f"image:{record.key}"


def group_by_patient(records: Iterable[G], patterns: Sequence[str] = DEFAULT_PATTERNS) -> list[PatientGroup[G]]:
    """Patients in the order their first image appears; `patterns` group unnamed files by name (() turns that off)."""
    groups: dict[str, list[G]] = {}
    for record in records:
        groups.setdefault(patient_key(record, patterns), []).append(record)
    out: list[PatientGroup[G]] = []
    for key, members in groups.items():
        readable = [r for r in members if r.status is not Status.ERROR]
        decision = patient_result((*r.grades, r.suspected) for r in readable) if readable else None
        out.append(
            PatientGroup(
                key=key,
                patient_id=next((r.patient_id for r in members if r.patient_id), None),
                patient_name=next((r.patient_name for r in members if r.patient_name), None),
                records=tuple(members),
                decision=decision,
            )
        )
    return out
