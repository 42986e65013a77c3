"""Write a reviewed session as CSV or JSON: the engine's result columns plus the grader's decision.

The `final_*` columns are the ones to act on: the grader's grades where the image was reviewed, else the model's.
Imports neither Qt nor torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ran_desktop.engine.records.lesion_marks import MARK_COLUMNS, counts, mark_rows
from ran_desktop.engine.records.results import CSV_COLUMNS, Status, result_row, write_rows
from ran_desktop.engine.records.review import ImageRecord

REVIEW_COLUMNS = [
    "reviewed", "review", "grader", "decided_at", "grader_dr_grade", "grader_dme_grade", "grader_comment",
    "final_eye", "final_patient_id", "final_patient_name", "final_dr_grade", "final_dme_grade",
    "final_referable", "final_outcome", "final_follow_up", "model_caveat", "lesion_marks",
]
COLUMNS = [*CSV_COLUMNS, *REVIEW_COLUMNS]


def session_rows(records: Sequence[ImageRecord]) -> list[dict[str, Any]]:
    rows = []
    for record in records:
        row = result_row(record.result)
        d = record.decision
        dr, dme = record.grades
        rec = record.recommendation
        row.update(
            {
                "reviewed": record.reviewed,
                "review": d.kind if d else None,
                "grader": d.grader if d else None,
                "decided_at": d.decided_at if d else None,
                "grader_dr_grade": d.dr_grade if d else None,
                "grader_dme_grade": d.dme_grade if d else None,
                "grader_comment": d.comment if d else None,
                "final_eye": record.eye.value,
                "final_patient_id": record.patient_id,
                "final_patient_name": record.patient_name,
                "final_dr_grade": dr,
                "final_dme_grade": dme,
                "final_referable": None if record.status is Status.ERROR else record.referable,
                "final_outcome": rec.outcome.value if rec else None,
                "final_follow_up": rec.follow_up if rec else None,
                "model_caveat": record.model_caveat or None,
                "lesion_marks": ", ".join(f"{n} {kind}" for kind, n in counts(d.marks).items()) if d else None,
            }
        )
        rows.append(row)
    return rows


def write_marks(records: Sequence[ImageRecord], path: str | Path) -> Path:
    """Every grader's lesion mark of these images, one row each, with its points in the photograph's own pixels
    (`.csv` or `.json` by suffix, atomically)."""
    rows = [row for record in records if record.decision is not None
            for row in mark_rows(record.key, str(record.result.path), record.decision.marks)]
    return write_rows(rows, list(MARK_COLUMNS), path)


def write_session(records: Sequence[ImageRecord], path: str | Path) -> Path:
    """Write `.csv` or `.json` by suffix, atomically (see `atomic`); WriteError when it cannot be written."""
    return write_rows(session_rows(records), COLUMNS, path)
