"""Turn a colour fundus photograph into the RAN model's input tensor.

One set of stateless functions, used by the desktop app, the CLI and training alike, so what the model
saw in training is exactly what it sees in the clinic. The pipeline (RAN-SPEC, "Preprocessing and
augmentation"), applied by `preprocess`:

1. `detect_fov`: find the bright circular fundus disc on its dark surround.
2. `crop_to_fov`: cut the disc's bounding square (plus a small margin), black outside the disc.
3. `resize_square`: to `input_size` (224 for RAN), before CLAHE so CLAHE runs on the small image.
4. `apply_clahe`: contrast-limited adaptive histogram equalisation on the lightness channel.
5. `standardise`: per-image, per-channel (I - m_k) / s_k, returned as float32 CHW.

Resolution independence matters: the app may decode a JPEG at reduced size, training may not, so
every step works in units relative to the disc rather than in file pixels.

Imports neither Qt nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

# The loaders (PIL, pydicom) load when a file is first read, through the loading package's lazy names.
from ran_desktop.engine.imaging import loading
from ran_desktop.engine.imaging.field_of_view import FieldOfView, check_rgb, circle_mask, detect_fov
from ran_desktop.engine.imaging.preprocess_settings import DEFAULT_SETTINGS, PreprocessSettings

if TYPE_CHECKING:
    from ran_desktop.engine.imaging.loading import LoadedImage

__all__ = [  # the field of view and the settings live in their own modules; the pipeline's users find them here
    "DEFAULT_SETTINGS", "FieldOfView", "PreprocessResult", "PreprocessSettings", "apply_clahe", "crop_to_fov",
    "decode_for_model", "decode_min_side", "detect_fov", "draw_fov", "finish", "fov_square", "prepare_square",
    "preprocess", "resize_square", "stage_images", "standardise", "to_display",
]

# Standardisation never divides by less than this (grey levels), so a flat image gives zeros, not NaN.
_STD_FLOOR = 1.0
# `to_display` maps [-3, +3] standard deviations onto 0..255.
_DISPLAY_SD = 3.0
# Side of the "field_of_view" stage image kept for display (smaller crops keep their own size).
_STAGE_DISPLAY_SIZE = 512


@dataclass(frozen=True, eq=False)
class PreprocessResult:
    """The model input and, on request, the intermediate images for the GUI.

    stages (only with keep_stages, all uint8 RGB):
      "original": the input image as given;
      "field_of_view": the cropped disc square, 512 px a side or its own size if smaller (or
        input_size if larger); no outline drawn, see `draw_fov`;
      "clahe": the input_size square after CLAHE (after resizing only, when CLAHE is off);
      "normalised": the model input made viewable by `to_display`.
    """

    tensor: np.ndarray  # float32 (3, S, S)
    fov: FieldOfView
    stages: dict[str, np.ndarray] = field(default_factory=dict)
    square: np.ndarray | None = field(default=None, repr=False)  # crop_to_fov's output, before resizing


def fov_square(fov: FieldOfView, settings: PreprocessSettings = DEFAULT_SETTINGS) -> tuple[int, int, int]:
    """Where `crop_to_fov` cuts: (x0, y0, side) of its square in the image's pixel grid.

    x0/y0 may be negative and x0 + side may pass the image's edge: those parts are padded with black.
    With a disc, the square is centred on it and spans its diameter plus `fov_margin`; without one,
    it is the whole image centre-padded to a square.
    """
    h, w = fov.mask.shape
    if not fov.found:
        side = max(h, w)
        return -((side - w) // 2), -((side - h) // 2), side
    cx, cy = fov.center
    side = max(1, int(round(2.0 * fov.radius * (1.0 + settings.fov_margin))))
    # Pixel i spans [i, i+1) in edge coordinates, so the disc's centre lies at cx + 0.5 there.
    x0 = int(round(cx + 0.5 - side / 2.0))
    y0 = int(round(cy + 0.5 - side / 2.0))
    return x0, y0, side


def crop_to_fov(rgb: np.ndarray, fov: FieldOfView, settings: PreprocessSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """The disc's bounding square plus margin, black where it leaves the image and outside the disc.

    When no disc was found the whole image is centre-padded with black to a square instead.
    """
    check_rgb(rgb)
    h, w = rgb.shape[:2]
    if fov.mask.shape != (h, w):
        raise ValueError(f"field of view was found on a {fov.mask.shape[::-1]} image, not this {(w, h)} one")
    x0, y0, side = fov_square(fov, settings)
    out = np.zeros((side, side, 3), dtype=np.uint8)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + side), min(h, y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    if not fov.found:
        return out
    cx, cy = fov.center
    disc = circle_mask(side, side, cx - x0, cy - y0, fov.radius)
    return cv2.bitwise_and(out, out, mask=disc)


def resize_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize a square image to size x size: area averaging to shrink (no aliasing), cubic to enlarge.

    Refuses non-square input rather than distorting the disc; pad it first (`crop_to_fov`).
    """
    check_rgb(rgb)
    h, w = rgb.shape[:2]
    if h != w:
        raise ValueError(f"resize_square needs a square image, got {w}x{h}; pad it to a square first")
    if size < 1:
        raise ValueError(f"size must be positive, not {size}")
    if size == h:
        return rgb.copy()
    interpolation = cv2.INTER_AREA if size < h else cv2.INTER_CUBIC
    return cv2.resize(rgb, (size, size), interpolation=interpolation)


def apply_clahe(rgb: np.ndarray, settings: PreprocessSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """CLAHE on the L channel of CIE L*a*b*, so contrast rises without shifting hues."""
    check_rgb(rgb)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    grid = settings.clahe_tile_grid
    clahe = cv2.createCLAHE(clipLimit=settings.clahe_clip_limit, tileGridSize=(grid, grid))
    lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def standardise(rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-image, per-channel (I - m_k) / s_k as float32 (3, H, W).

    m_k, s_k come from the whole image (as in the RAN paper), or from the pixels where `mask` is True.
    s_k is floored at one grey level, so a flat image gives zeros rather than NaN.
    """
    check_rgb(rgb)
    if mask is not None:
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"mask shape {mask.shape} does not match image shape {rgb.shape[:2]}")
        mask = mask.astype(np.uint8)
        if not cv2.countNonZero(mask):
            raise ValueError("mask selects no pixels")
    # OpenCV accumulates in float64 straight from the uint8 pixels: exact, and no float copy to reduce.
    mean, std = (v.ravel() for v in cv2.meanStdDev(rgb, mask=mask))
    std = np.maximum(std, _STD_FLOOR)
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
    chw -= mean.astype(np.float32)[:, None, None]
    chw /= std.astype(np.float32)[:, None, None]
    return chw


def to_display(chw_float: np.ndarray) -> np.ndarray:
    """A standardised (3, H, W) tensor as viewable uint8 RGB: -3..+3 standard deviations -> 0..255."""
    if chw_float.ndim != 3 or chw_float.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) tensor, got shape {chw_float.shape}")
    x = np.nan_to_num(chw_float.astype(np.float32), nan=0.0)
    x = (np.clip(x, -_DISPLAY_SD, _DISPLAY_SD) + _DISPLAY_SD) * (255.0 / (2 * _DISPLAY_SD))
    return np.ascontiguousarray(np.rint(x).astype(np.uint8).transpose(1, 2, 0))


def draw_fov(
    rgb: np.ndarray, fov: FieldOfView, color: tuple[int, int, int] = (0, 255, 0), thickness: int | None = None
) -> np.ndarray:
    """A copy of the image with the detected disc's circle and centre drawn; unchanged copy if none found."""
    check_rgb(rgb)
    out = rgb.copy()
    if not fov.found:
        return out
    h, w = rgb.shape[:2]
    t = thickness if thickness is not None else max(1, round(max(h, w) / 300))  # visible at any size
    cx, cy = fov.center
    centre = (int(round(cx * 16)), int(round(cy * 16)))
    cv2.circle(out, centre, int(round(fov.radius * 16)), color, t, cv2.LINE_AA, 4)
    cv2.drawMarker(out, (int(round(cx)), int(round(cy))), color, cv2.MARKER_CROSS, 6 * t, t, cv2.LINE_AA)
    return out


def preprocess(
    rgb: np.ndarray,
    settings: PreprocessSettings = DEFAULT_SETTINGS,
    *,
    keep_stages: bool = False,
    fov: FieldOfView | None = None,
) -> PreprocessResult:
    """The whole pipeline: detect_fov (unless `fov` is given) -> crop_to_fov -> resize_square ->
    apply_clahe (if enabled) -> standardise. Deterministic: the same pixels always give the same tensor.
    """
    fov, square, small = prepare_square(rgb, settings, fov=fov)
    enhanced, tensor = finish(small, settings)
    stages = stage_images(rgb, square, enhanced, tensor, settings) if keep_stages else {}
    return PreprocessResult(tensor=tensor, fov=fov, stages=stages, square=square)


def prepare_square(rgb: np.ndarray, settings: PreprocessSettings = DEFAULT_SETTINGS, *,
                   fov: FieldOfView | None = None) -> tuple[FieldOfView, np.ndarray, np.ndarray]:
    """`preprocess` up to `finish`: (field of view, its square cut, the square at input size). A GPU workstation's
    screener finishes the last on the device (finish_on_device.py)."""
    check_rgb(rgb)
    if fov is None:
        fov = detect_fov(rgb, settings)
    square = crop_to_fov(rgb, fov, settings)
    return fov, square, resize_square(square, settings.input_size)


def stage_images(rgb: np.ndarray, square: np.ndarray, enhanced: np.ndarray, tensor: np.ndarray,
                 settings: PreprocessSettings = DEFAULT_SETTINGS) -> dict[str, np.ndarray]:
    """The previews `preprocess(keep_stages=True)` keeps (see PreprocessResult)."""
    display = min(square.shape[0], max(_STAGE_DISPLAY_SIZE, settings.input_size))
    return {"original": rgb, "field_of_view": resize_square(square, display), "clahe": enhanced,
            "normalised": to_display(tensor)}


def finish(small: np.ndarray, settings: PreprocessSettings = DEFAULT_SETTINGS) -> tuple[np.ndarray, np.ndarray]:
    """The last steps, from the resized field-of-view square: CLAHE (if enabled), then standardisation.

    Returns (enhanced uint8 RGB, float32 CHW tensor). Training augments the square and then calls this, so a
    training image without augmentation is exactly what `preprocess` gives in the clinic.
    """
    enhanced = apply_clahe(small, settings) if settings.clahe else small
    return enhanced, standardise(enhanced)


def decode_for_model(path: str | Path, frame_index: int | None, content_sha256: str | None,
                     settings: PreprocessSettings = DEFAULT_SETTINGS) -> LoadedImage:
    """The screened photograph decoded as the screener decodes it for the model (at `decode_min_side`): heat maps
    in the window and in reports are computed on the pixels the grade was. Refuses a file that now holds another
    photograph (ImageChangedError)."""
    return loading.load_screened_frame(path, frame_index, content_sha256, min_side=decode_min_side(settings))


def decode_min_side(settings: PreprocessSettings = DEFAULT_SETTINGS) -> int:
    """Shortest side photographs are decoded at: enough for the quality gate's 512 px measurements and twice
    the model's input, far less than a 12-megapixel original. The app, the CLI and training all use it."""
    return max(512, 2 * settings.input_size)
