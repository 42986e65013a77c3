"""The two pictures a report shows for an image: the photograph and its Grad-CAM overlay, as JPEG bytes.

Nothing with pixels is stored after screening, so both are made again from the file. The file is decoded exactly as
the screener decoded it, so the model sees the same input: its recomputed grade probabilities must match the stored
ones, and a file replaced since screening (same path, another photo) is caught and not shown as this patient's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

# Grad-CAM (torch) loads through the model package's lazy names, only when a heat map is actually made.
import ran_desktop.engine.model as ran_model
from ran_desktop.engine.errors import ImageChangedError, ImageLoadError
from ran_desktop.engine.imaging.heatmap import heatmap_on_photo, overlay_heatmap
from ran_desktop.engine.imaging.loading import ImageMetadata, LoadedImage
from ran_desktop.engine.imaging.preprocess import (
    DEFAULT_SETTINGS,
    FieldOfView,
    PreprocessSettings,
    decode_for_model,
    fov_square,
    preprocess,
)
from ran_desktop.engine.imaging.views import HEAT_OPACITY
from ran_desktop.engine.records.lesion_drawing import draw_marks
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.reports.facts import grade_label

if TYPE_CHECKING:
    from ran_desktop.engine.model.bundle import LoadedModel

# 1000 px across an 80 mm picture is about 300 dpi: sharp on paper, about 100 KB as JPEG.
MAX_SIDE = 1000
JPEG_QUALITY = 88
# Recomputed probabilities may differ in the last digits across devices and library versions, never by this much.
PROBABILITY_TOLERANCE = 0.02


@dataclass(frozen=True)
class Pictures:
    photo: bytes | None  # JPEG of the photograph (cropped to the retina)
    overlay: bytes | None  # JPEG of the photograph with the Grad-CAM map blended in
    photo_note: str = ""  # shown under the photograph when it is missing or not the file's own
    overlay_note: str = ""  # what the overlay explains, or why there is none


def record_pictures(record: ImageRecord, model: LoadedModel | None, opacity: float = HEAT_OPACITY) -> Pictures:
    """Both pictures for `record`; a missing one comes with a note that says why."""
    if record.status is Status.ERROR:
        return Pictures(None, None, "No photograph: the file could not be read when screened.", "No heat map.")
    matching = model is not None and _same_model(record, model)
    settings = model.preprocess_settings if model is not None and matching else DEFAULT_SETTINGS
    try:
        image = _load(record, settings)
    except ImageChangedError:
        return _thumbnail_only(record, "The file at this path has changed since it was screened.")
    except ImageLoadError as exc:
        return _thumbnail_only(record, f"The photograph can no longer be read ({exc.reason}).")
    if not _same_file(record.result.metadata, image.metadata):
        return _thumbnail_only(record, "The file at this path has changed since it was screened.")

    photo = image.pixels
    pre = preprocess(photo, settings)
    box = _retina_box(pre.fov, photo.shape[1], photo.shape[0])
    marks = record.decision.marks if record.decision is not None else ()
    marked = draw_marks(photo, marks, photo.shape[1] / image.metadata.original_size[0]) if marks else photo
    photo_jpeg = _jpeg(_crop(marked, box))  # the grader's lesion marks on the photograph; the heat map stays clean

    if record.status is not Status.SCREENED or record.result.dr_probs is None:
        return Pictures(photo_jpeg, None, "", "No heat map: the model does not grade an ungradable image.")
    if model is None:
        return Pictures(photo_jpeg, None, "", "No heat map: no model was loaded when this report was made.")
    if not matching:
        return Pictures(
            photo_jpeg, None, "",
            f"No heat map: the image was graded by {record.result.model.name} {record.result.model.version}, "
            f"which is not the model loaded now ({model.manifest.title}).",
        )

    explanation = ran_model.explain(model, pre.tensor, head="dr")
    stored = np.asarray(record.result.dr_probs, dtype=np.float64)
    if np.max(np.abs(np.asarray(explanation.probs) - stored)) > PROBABILITY_TOLERANCE:
        return _thumbnail_only(
            record, "The file at this path no longer gives the screened result: it has changed since screening."
        )
    height, width = photo.shape[:2]
    heat = heatmap_on_photo(explanation.heatmap, fov_square(pre.fov, settings), (width, height))
    overlay = overlay_heatmap(photo, heat, opacity=opacity)
    outside = ~pre.fov.mask
    overlay[outside] = photo[outside]  # the dark surround stays dark: the map only means something on the retina
    note = f"Grad-CAM for the model's DR grade, {grade_label('dr', explanation.class_index)}."
    return Pictures(photo_jpeg, _jpeg(_crop(overlay, box)), "", note)


def _same_model(record: ImageRecord, model: LoadedModel) -> bool:
    info = record.result.model
    return (info.name, info.version) == (model.manifest.name, model.manifest.version)


def _load(record: ImageRecord, settings: PreprocessSettings) -> LoadedImage:
    meta = record.result.metadata
    return decode_for_model(record.result.path, meta.frame_index if meta is not None else None,
                            meta.content_sha256 if meta is not None else None, settings)


def _same_file(stored: ImageMetadata | None, now: ImageMetadata) -> bool:
    """For results stored before files were hashed: cheap facts every load gives (the probability check below
    catches a same-sized replacement). Hashed results are checked by their hash when loaded."""
    if stored is None:
        return True
    fields = ("original_size", "source_format", "patient_id", "patient_name", "frame_count", "study_date")
    return all(getattr(stored, f) == getattr(now, f) for f in fields)


def _thumbnail_only(record: ImageRecord, why: str) -> Pictures:
    if record.thumbnail:
        note = f"{why} Shown: the small copy stored when it was screened."
        return Pictures(record.thumbnail, None, note, "No heat map.")
    return Pictures(None, None, f"{why} No photograph is shown.", "No heat map.")


def _retina_box(fov: FieldOfView, width: int, height: int) -> tuple[int, int, int, int]:
    """The disc's bounding box plus a small margin, so the picture is mostly retina, not black frame."""
    if not fov.found:
        return 0, 0, width, height
    x0, y0, x1, y1 = fov.bbox
    margin = int(round(0.03 * max(x1 - x0, y1 - y0)))
    return max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)


def _crop(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return rgb[y0:y1, x0:x1]


def _jpeg(rgb: np.ndarray) -> bytes:
    height, width = rgb.shape[:2]
    scale = min(1.0, MAX_SIDE / max(height, width))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("a report picture could not be encoded as JPEG")
    return encoded.tobytes()
