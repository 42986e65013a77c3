"""One screening result per image, and writing a batch of them as CSV or JSON."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from ran_desktop.engine.atomic import write_text_atomically
from ran_desktop.engine.grading import (
    DME_GRADE_NAMES,
    DR_GRADE_NAMES,
    EyeGrades,
    Recommendation,
    model_grades,
    recommend,
    referable_probability,
    suspects_disease,
)

if TYPE_CHECKING:  # annotations only: quality pulls in OpenCV and numpy, which the window must start without
    import numpy as np

    from ran_desktop.engine.imaging.loading import ImageMetadata
    from ran_desktop.engine.imaging.quality_report import QualityReport
    from ran_desktop.engine.model.manifest import Manifest
    from ran_desktop.engine.records.local_threshold import LocalOperatingPoint


class Status(str, Enum):
    SCREENED = "screened"
    UNGRADABLE = "ungradable"
    ERROR = "error"


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a grade, carried on every result so no grade is ever shown without it."""

    name: str
    version: str
    training_data: str
    synthetic: bool
    trained: bool
    warning: str
    device: str
    # The operating point: an eye is referable when the model's probability of referable disease reaches this
    # (chosen on validation data for sensitivity, see the bundle's manifest); None: the most probable grades.
    referable_threshold: float | None = None
    credits: tuple[str, ...] = ()  # attributions the training data's licences require on every report
    real: bool = False  # some of the training data were real photographs (with `synthetic`: a mix)
    folder: str = ""  # the bundle's folder, and its weights' sha256: which bundle exactly, wherever a grade goes
    weights_sha256: str = ""
    # Where the threshold came from when it is not the bundle's own: "threshold set locally on N reviewed images on
    # DATE by NAME" (local_operating_point); "" for the bundle's.
    threshold_source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "credits", tuple(self.credits))  # a list when read back from JSON


@dataclass
class ScreeningResult:
    key: str  # unique per image: path, frame of a multi-frame file, and the file's content (loading.image_key)
    path: Path
    status: Status
    model: ModelInfo
    metadata: ImageMetadata | None = None
    quality: QualityReport | None = None
    dr_probs: tuple[float, ...] | None = None
    dme_probs: tuple[float, ...] | None = None
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    heatmap: np.ndarray | None = None  # Grad-CAM of the predicted DR grade, feature resolution, [0, 1]
    view: np.ndarray | None = None  # the field-of-view crop the model saw, uint8 RGB, for overlays
    stages: dict[str, np.ndarray] | None = None  # preprocessing previews, when asked for
    # On a photograph the quality gate rejected (a field of view found), the model's probability of referable
    # disease all the same: not a grade, only whether a re-take may wait (`suspected`).
    suspicion: float | None = None

    @property
    def file_label(self) -> str:
        """The file's name, and the frame of a multi-frame file: how the worklist names the image."""
        meta = self.metadata
        if meta is not None and meta.frame_index is not None:
            return f"{self.path.name} (frame {meta.frame_index + 1} of {meta.frame_count})"
        return self.path.name

    @cached_property
    def grades(self) -> tuple[int, int] | None:
        """The model's (DR, DME) grades under its operating point (`grading.model_grades`). Cached: the worklist
        asks for both grades on every repaint, and a result's probabilities and model never change."""
        if self.dr_probs is None or self.dme_probs is None:
            return None
        return model_grades(self.dr_probs, self.dme_probs, self.model.referable_threshold)

    @property
    def dr_grade(self) -> int | None:
        grades = self.grades
        return None if grades is None else grades[0]

    @property
    def dme_grade(self) -> int | None:
        grades = self.grades
        return None if grades is None else grades[1]

    @property
    def referable_probability(self) -> float | None:
        """The model's probability that the eye is referable, which its operating point compares."""
        if self.dr_probs is None or self.dme_probs is None:
            return None
        return referable_probability(self.dr_probs, self.dme_probs)

    @property
    def confidence(self) -> float | None:
        """Probability the model gives its own DR grade."""
        return None if self.dr_probs is None else float(max(self.dr_probs))

    @property
    def decision(self) -> EyeGrades | None:
        if self.dr_grade is None or self.dme_grade is None:
            return None
        return EyeGrades(self.dr_grade, self.dme_grade)

    @property
    def suspected(self) -> bool:
        """Whether the model finds referable disease likely on this photograph: what an ungradable verdict (the gate's,
        or a grader's on a screened photograph) follows, to refer rather than only re-image."""
        p = self.suspicion if self.status is Status.UNGRADABLE else self.referable_probability
        if self.status is Status.ERROR or not self.model.trained:
            return False
        return suspects_disease(p, self.model.referable_threshold)

    @property
    def recommendation(self) -> Recommendation | None:
        if self.status is Status.ERROR:
            return None
        return recommend(self.dr_grade, self.dme_grade, self.suspected)


class _Device(Protocol):
    @property
    def description(self) -> str: ...


class LoadedBundle(Protocol):
    """What `model_info` reads of a loaded bundle (bundle.LoadedModel, which needs torch to import)."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def device(self) -> _Device: ...

    @property
    def folder(self) -> Path: ...

    @property
    def device_text(self) -> str: ...


def model_info(loaded: LoadedBundle, local: LocalOperatingPoint | None = None) -> ModelInfo:
    """Which model produced a grade, from a loaded bundle (read here, without torch: reports need it too); with
    `local`, the referable threshold this clinic adopted instead of the bundle's."""
    m = loaded.manifest
    info = ModelInfo(
        name=m.name,
        version=m.version,
        training_data=m.training_data["description"],
        synthetic=m.synthetic,
        trained=m.trained,
        warning=m.clinical_warning,
        device=loaded.device_text,
        referable_threshold=m.referable_threshold,
        credits=tuple(m.credits),
        real=bool(m.training_data.get("real")),
        folder=str(loaded.folder),
        weights_sha256=str(m.weights["sha256"]),
    )
    if local is None:
        return info
    return replace(info, referable_threshold=local.threshold, threshold_source=local.words())


CSV_COLUMNS = [
    "file", "frame", "status", "error",
    "patient_id", "patient_name", "birth_date", "sex", "study_date", "eye", "eye_source",
    "gradable", "quality_reasons", "fov_diameter_px", "brightness", "overexposed_fraction", "sharpness",
    "dr_grade", "dr_name", *[f"p_dr{i}" for i in range(len(DR_GRADE_NAMES))],
    "dme_grade", "dme_name", *[f"p_dme{i}" for i in range(len(DME_GRADE_NAMES))],
    "confidence", "p_referable", "referable_threshold", "any_dr", "referable", "urgent", "outcome", "follow_up",
    "guideline", "model", "model_version", "model_training_data", "model_warning", "model_folder",
    "model_sha256", "device",
    "load_ms", "preprocess_ms", "inference_ms",
]


def result_row(result: ScreeningResult) -> dict[str, Any]:
    """A flat record with every CSV column; None where a value does not apply."""
    meta, quality, decision, rec = result.metadata, result.quality, result.decision, result.recommendation
    scores = quality.scores if quality else {}
    row: dict[str, Any] = {
        "file": str(result.path),
        "frame": None if meta is None or meta.frame_index is None else meta.frame_index + 1,
        "status": result.status.value,
        "error": result.error,
        "patient_id": meta.patient_id if meta else None,
        "patient_name": meta.patient_name if meta else None,
        "birth_date": meta.birth_date if meta else None,
        "sex": meta.sex if meta else None,
        "study_date": meta.study_date if meta else None,
        "eye": meta.eye.value if meta else None,
        "eye_source": meta.eye_source if meta else None,
        "gradable": quality.gradable if quality else None,
        "quality_reasons": "; ".join(quality.reasons) if quality else None,
        "fov_diameter_px": _rounded(scores.get("fov_diameter_px")),
        "brightness": _rounded(scores.get("brightness")),
        "overexposed_fraction": _rounded(scores.get("overexposed_fraction")),
        "sharpness": _rounded(scores.get("sharpness")),
        "dr_grade": result.dr_grade,
        "dr_name": decision.dr_name if decision else None,
        "dme_grade": result.dme_grade,
        "dme_name": decision.dme_name if decision else None,
        "confidence": _rounded(result.confidence),
        # On an ungradable photograph: the model's look all the same (`suspicion`), which the outcome follows.
        "p_referable": _rounded(result.referable_probability if result.suspicion is None else result.suspicion),
        "referable_threshold": result.model.referable_threshold,
        "any_dr": decision.any_dr if decision else None,
        "referable": decision.referable if decision else None,
        "urgent": decision.urgent if decision else None,
        "outcome": rec.outcome.value if rec else None,
        "follow_up": rec.follow_up if rec else None,
        "guideline": rec.guideline if rec else None,
        "model": result.model.name,
        "model_version": result.model.version,
        "model_training_data": result.model.training_data,
        "model_warning": result.model.warning,
        "model_folder": result.model.folder or None,
        "model_sha256": result.model.weights_sha256 or None,
        "device": result.model.device,
        "load_ms": _rounded(result.timings_ms.get("load")),
        "preprocess_ms": _rounded(result.timings_ms.get("preprocess")),
        "inference_ms": _rounded(result.timings_ms.get("inference")),
    }
    for name, probs in (("p_dr", result.dr_probs), ("p_dme", result.dme_probs)):
        count = len(DR_GRADE_NAMES) if name == "p_dr" else len(DME_GRADE_NAMES)
        for i in range(count):
            row[f"{name}{i}"] = None if probs is None else round(float(probs[i]), 5)
    return row


def write_results(results: Iterable[ScreeningResult], path: str | Path) -> Path:
    """Write CSV or JSON by the file's suffix, atomically (see `atomic`); WriteError when it cannot be written."""
    return write_rows([result_row(r) for r in results], CSV_COLUMNS, path)


def write_rows(rows: list[dict[str, Any]], columns: list[str], path: str | Path) -> Path:
    """Rows as CSV (empty cells for None) or as JSON {"results": rows}, by the suffix of `path`."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".json"):
        raise ValueError(f"{path.name}: results are written as .csv or .json")

    def write(fh: TextIO) -> None:
        if path.suffix.lower() == ".csv":
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
        else:
            json.dump({"results": rows}, fh, indent=2, ensure_ascii=False)
            fh.write("\n")

    return write_text_atomically(path, write, newline="")


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection"): a DICOM patient name
# or a file name such as "=HYPERLINK(...)" would otherwise execute when a clinic opens the results.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell no spreadsheet runs as a formula: text starting with =, +, -, @, tab or CR gets a leading
    apostrophe (shown as text, as OWASP recommends); numbers, and text that is exactly a number, stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)
