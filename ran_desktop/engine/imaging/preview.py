"""What the detail view shows for one image: the photograph, the detected field of view, the preprocessing
stages, and the model input for an on-demand Grad-CAM. Recomputed from the file rather than stored.

Imports neither Qt nor torch. OpenCV and numpy load with it: the window reaches `make_preview` through the imaging
package's lazy names, so this module first loads in the worker that makes a preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ran_desktop.engine.imaging.grading_views import red_free
from ran_desktop.engine.imaging.loading import load_screened_frame
from ran_desktop.engine.imaging.macula import MacularGrid, locate_grid
from ran_desktop.engine.imaging.preprocess import decode_for_model, decode_min_side, draw_fov, fov_square, preprocess
from ran_desktop.engine.imaging.views import CLAHE, FIELD_OF_VIEW, MODEL_VIEW, NORMALISED, ORIGINAL, RED_FREE

if TYPE_CHECKING:
    from ran_desktop.engine.imaging.loading import ImageMetadata
    from ran_desktop.engine.imaging.preprocess import PreprocessSettings
# Decoded large enough to zoom into lesions, small enough that one preview stays well under 100 MB.
PREVIEW_MIN_SIDE = 1536


@dataclass(frozen=True, eq=False)
class Preview:
    """Every image is uint8 RGB. FIELD_OF_VIEW is the photograph with the detected disc outlined; MODEL_VIEW is
    the square crop the model saw, on which Grad-CAM maps are drawn; RED_FREE the green channel. `grid` is the
    macular grid placed on ORIGINAL (the window draws it, movable, in its MACULA view)."""

    key: str
    images: dict[str, np.ndarray]
    tensor: np.ndarray  # the model input, float32 (3, S, S)
    disc_mask: np.ndarray = field(repr=False)  # bool, MODEL_VIEW's shape: inside the disc
    fov_found: bool = False
    metadata: ImageMetadata | None = None
    grid: MacularGrid | None = None  # in ORIGINAL's pixels: where the macular grid was placed


DISPLAY_MAX_SIDE = 2048  # the whole photograph's views on screen; the detail view tiles the full photograph beyond


def for_display(preview: Preview, max_side: int = DISPLAY_MAX_SIDE) -> Preview:
    """The preview with its whole-photograph views (original, field of view, red-free) no wider or taller than
    `max_side`, and the grid with them: drawn whole at every zoom, a 12-megapixel picture would cost every repaint
    a full smooth downscale. The model's views are small already and stay as they are."""
    original = preview.images[ORIGINAL]
    factor = max_side / max(original.shape[:2])
    if factor >= 1.0:
        return preview
    size = (max(1, round(original.shape[1] * factor)), max(1, round(original.shape[0] * factor)))
    images = dict(preview.images)
    for name in (ORIGINAL, FIELD_OF_VIEW, RED_FREE):
        images[name] = cv2.resize(images[name], size, interpolation=cv2.INTER_AREA)
    grid = preview.grid.scaled(size[0] / original.shape[1]) if preview.grid is not None else None
    return replace(preview, images=images, grid=grid)


def make_preview(key: str, path: str | Path, frame_index: int | None, settings: PreprocessSettings,
                 content_sha256: str | None = None) -> Preview:
    """Decode the image (the given frame of a multi-frame file) and run preprocessing with its stages. With the
    screened file's `content_sha256`, a file that now holds another photograph is refused (ImageChangedError)."""
    image = load_screened_frame(path, frame_index, content_sha256, min_side=PREVIEW_MIN_SIDE)
    pre = preprocess(image.pixels, settings, keep_stages=True)
    # The model's input from the photograph decoded as the screener decoded it, not from this larger decode: the
    # heat map's caption then gives the same probability as the bars beside it.
    if decode_min_side(settings) != PREVIEW_MIN_SIDE:
        tensor = preprocess(decode_for_model(path, frame_index, content_sha256, settings).pixels, settings).tensor
    else:
        tensor = pre.tensor
    stages = pre.stages
    view = stages["field_of_view"]
    x0, y0, side = fov_square(pre.fov, settings)
    mask = np.zeros(view.shape[:2], np.uint8)
    if pre.fov.found:
        scale = view.shape[0] / side
        cx, cy = pre.fov.center
        centre = (int(round((cx + 0.5 - x0) * scale)), int(round((cy + 0.5 - y0) * scale)))
        cv2.circle(mask, centre, int(round(pre.fov.radius * scale)), 1, -1)
    else:
        mask[:] = 1
    grid = locate_grid(image.pixels, pre.fov)
    return Preview(
        key=key,
        images={
            ORIGINAL: image.pixels,
            FIELD_OF_VIEW: draw_fov(image.pixels, pre.fov),
            CLAHE: stages["clahe"],
            NORMALISED: stages["normalised"],
            MODEL_VIEW: view,
            RED_FREE: red_free(image.pixels),
        },
        grid=grid,
        tensor=tensor,
        disc_mask=mask.astype(bool),
        fov_found=pre.fov.found,
        metadata=image.metadata,
    )
