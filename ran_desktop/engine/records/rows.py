"""Rows of the session database to records and back: the one SELECT every record is read with, and the JSON columns.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import RowMapping, Select, exists, func, null, select

from ran_desktop.engine.imaging.loading import Eye, ImageMetadata, image_location
from ran_desktop.engine.imaging.quality_report import QualityReport
from ran_desktop.engine.records.lesion_marks import marks_from_list
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision, ImageRecord
from ran_desktop.engine.records.tables import DECISION_COLUMNS, audit, decisions, images, thumbnails

Row = RowMapping  # a result row by column name


def _select_records(thumbnails_too: bool = True) -> Select[Any]:
    later = images.alias("later")
    # Another screening of the same file and frame, later than this one, found other content: the file was replaced.
    superseded = exists().where(
        later.c.session_id == images.c.session_id, later.c.location == images.c.location,
        later.c.key != images.c.key, later.c.screen_order > images.c.screen_order,
    )
    version = select(func.count()).select_from(audit).where(audit.c.image_id == images.c.id).scalar_subquery()
    picture = thumbnails.c.jpeg if thumbnails_too else null()
    joined = images.outerjoin(decisions)
    return select(
        *images.c, picture.label("thumbnail"), *(decisions.c[name].label(f"d_{name}") for name in DECISION_COLUMNS),
        superseded.label("superseded"), version.label("decision_version"),
    ).select_from(joined.outerjoin(thumbnails) if thumbnails_too else joined)


SELECT_RECORDS = _select_records()  # every record is read with this, filtered by the caller
SELECT_LIST = _select_records(thumbnails_too=False)  # the same without thumbnails: a worklist fetches the rows it shows
# Every row's list entry (record_list.ListEntry, in its field order): the narrow columns only, no JSON.
SELECT_ENTRIES = select(
    images.c.id, images.c.key, images.c.path, images.c.status, func.coalesce(images.c.file_label, images.c.path),
    images.c.model_dr, images.c.model_dme, func.coalesce(images.c.model_suspects, 0), images.c.eye,
    images.c.patient_id, images.c.patient_name, decisions.c.kind, decisions.c.dr_grade, decisions.c.dme_grade,
    decisions.c.eye, decisions.c.patient_id, decisions.c.patient_name, images.c.study_date, images.c.screened_at,
).select_from(images.outerjoin(decisions))


def record_from_row(row: Row) -> ImageRecord:
    metadata = metadata_from_dict(json.loads(row["metadata"])) if row["metadata"] else None
    quality = None
    if row["quality"]:
        q = json.loads(row["quality"])
        quality = QualityReport(gradable=q["gradable"], reasons=tuple(q["reasons"]), scores=dict(q["scores"]))
    result = ScreeningResult(
        key=row["key"],
        path=Path(row["path"]),
        status=Status(row["status"]),
        model=_model_info(row["model"]),
        metadata=metadata,
        quality=quality,
        dr_probs=tuple(json.loads(row["dr_probs"])) if row["dr_probs"] else None,
        dme_probs=tuple(json.loads(row["dme_probs"])) if row["dme_probs"] else None,
        suspicion=row["suspicion"],
        error=row["error"],
        timings_ms=json.loads(row["timings"]),
    )
    decision = decision_from_row(row, prefix="d_") if row["d_kind"] is not None else None
    return ImageRecord(
        image_id=int(row["id"]),
        result=result,
        thumbnail=bytes(row["thumbnail"]) if row["thumbnail"] is not None else None,
        decision=decision,
        screened_at=row["screened_at"],
        superseded=bool(row["superseded"]),
        decision_version=int(row["decision_version"]),
    )


def decision_from_row(row: Row, prefix: str = "") -> GraderDecision:
    """A decision from a `decisions` row, or from its columns joined into an image row under `prefix`."""

    def col(name: str) -> Any:
        return row[prefix + name]

    return GraderDecision(
        dr_grade=col("dr_grade"),
        dme_grade=col("dme_grade"),
        eye=Eye(col("eye")) if col("eye") else None,
        patient_id=col("patient_id"),
        patient_name=col("patient_name"),
        comment=col("comment"),
        kind=col("kind"),
        grader=col("grader"),
        decided_at=col("decided_at"),
        entry=col("entry"),
        review_mode=col("review_mode"),
        marks=marks_from_list(json.loads(marks)) if (marks := col("marks")) else (),
        fovea=(float(at[0]), float(at[1])) if (fovea := col("fovea")) and (at := json.loads(fovea)) else None,
        change=col("change") or "",
    )


def decision_row(decision: GraderDecision) -> dict[str, Any]:
    """The `decisions` columns of a decision (without its image id), JSON columns as text."""
    row = {name: value for name, value in decision.to_dict().items() if name in decisions.c}
    row["marks"] = to_json(row["marks"]) if row["marks"] else None
    row["fovea"] = to_json(row["fovea"]) if row["fovea"] else None
    return row


def metadata_to_dict(meta: ImageMetadata) -> dict[str, Any]:
    data = asdict(meta)
    data["eye"] = meta.eye.value
    return data


_METADATA_FIELDS = frozenset(f.name for f in fields(ImageMetadata))


@lru_cache(maxsize=64)
def _model_info(text: str) -> ModelInfo:
    """A session's images share a handful of models: each model's JSON is read once (ModelInfo is immutable)."""
    return ModelInfo(**json.loads(text))


def metadata_from_dict(data: dict[str, Any]) -> ImageMetadata:
    values = {k: v for k, v in data.items() if k in _METADATA_FIELDS}  # a later version may have added fields
    values["eye"] = Eye(values.get("eye", Eye.UNKNOWN.value))
    values["original_size"] = tuple(values["original_size"])
    return ImageMetadata(**values)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def result_row(session_id: int, result: ScreeningResult, screened_at: str) -> dict[str, Any]:
    """The `images` row of one result (without its screen order, which the database counts)."""
    meta = result.metadata
    return {
        "session_id": session_id,
        "key": result.key,
        "location": image_location(result.path, meta.frame_index if meta is not None else None),
        "path": str(result.path),
        "status": result.status.value,
        "error": result.error,
        "metadata": to_json(metadata_to_dict(meta)) if meta else None,
        "quality": to_json(result.quality.to_dict()) if result.quality else None,
        "dr_probs": to_json(list(result.dr_probs)) if result.dr_probs is not None else None,
        "dme_probs": to_json(list(result.dme_probs)) if result.dme_probs is not None else None,
        "suspicion": result.suspicion,
        "model": to_json(asdict(result.model)),
        "timings": to_json(result.timings_ms),
        "screened_at": screened_at,
        "patient_id": meta.patient_id if meta is not None else None,
        **list_values(result),
    }


def list_values_of_cells(cells: Row) -> dict[str, Any]:
    """The worklist columns of a row stored before they were (schema 10): from its path, status and JSON cells."""
    result = ScreeningResult(
        key="", path=Path(cells["path"]), status=Status(cells["status"]), model=_model_info(cells["model"]),
        metadata=metadata_from_dict(json.loads(cells["metadata"])) if cells["metadata"] else None,
        dr_probs=tuple(json.loads(cells["dr_probs"])) if cells["dr_probs"] else None,
        dme_probs=tuple(json.loads(cells["dme_probs"])) if cells["dme_probs"] else None,
        suspicion=cells["suspicion"],
    )
    return list_values(result)


def list_values(result: ScreeningResult) -> dict[str, Any]:
    """The image's worklist columns, as its list entry reads them (record_list.ListEntry)."""
    meta = result.metadata
    model_dr, model_dme = result.dr_grade, result.dme_grade
    return {
        "file_label": result.file_label,
        "eye": meta.eye.value if meta is not None else None,
        "patient_name": meta.patient_name if meta is not None else None,
        "model_dr": model_dr,
        "model_dme": model_dme,
        "model_suspects": int(result.suspected),
        "study_date": meta.study_date if meta is not None else None,
    }
