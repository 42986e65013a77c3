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

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

# The loaders (PIL, pydicom) load when a file is first read, through the loading package's lazy names.
from ran_desktop.engine.imaging import loading

if TYPE_CHECKING:
    from ran_desktop.engine.imaging.loading import LoadedImage

# Field-of-view detection runs on a copy whose longest side is at most this; the disc is a large,
# smooth structure, so 512 px locates it to well under 1 % of its radius while costing a few ms.
_FOV_WORK_SIZE = 512
# The bright region counts as a disc only if the median distance of its edge from the fitted circle is
# at most this fraction of the radius: fundus discs score about 0.001, the largest bright regions of
# ordinary photographs 0.04-0.2, squares and ellipses 0.1 or more.
_FOV_MAX_EDGE_RESIDUAL = 0.02
# The disc must cover at least this fraction of the image; smaller bright blobs are not a fundus view.
_FOV_MIN_AREA_FRACTION = 0.05
# Outside the disc (beyond a thin rim), this fraction of pixels must be dark: the camera's black surround.
# The rest allows for burned-in text and logos; a round object on a busy background fails.
_FOV_MIN_DARK_SURROUND = 0.90
# The second way to find the disc's levels (detect_fov): the darkest corner of the frame, and a typical retina.
_FALLBACK_SURROUND_PERCENTILE, _FALLBACK_DISC_PERCENTILE = 1.0, 70.0
# ... cutting at these shares of `fov_threshold` in turn, until one leaves a disc.
_FALLBACK_CUT_SHARES = (1.0, 2 / 3, 1 / 3)
# The second way's circle must be agreed by this fraction of the outline (the rest: a shadow's or crescent's edge).
_FOV_MIN_INLIERS = 0.6
# Standardisation never divides by less than this (grey levels), so a flat image gives zeros, not NaN.
_STD_FLOOR = 1.0
# `to_display` maps [-3, +3] standard deviations onto 0..255.
_DISPLAY_SD = 3.0
# Side of the "field_of_view" stage image kept for display (smaller crops keep their own size).
_STAGE_DISPLAY_SIZE = 512


@dataclass(frozen=True)
class PreprocessSettings:
    """Every knob of the pipeline. Stored in the model's manifest.json so inference matches training.

    input_size: side of the square model input, in pixels (RAN: 224).
    clahe: apply CLAHE before standardisation (RAN: yes, "to make lesions visible").
    clahe_clip_limit: CLAHE contrast limit (OpenCV `clipLimit`); 2.0, the usual choice for fundus
        photographs, lifts vessels and lesions while capping how much noise flat regions gain.
    clahe_tile_grid: CLAHE tiles per side (OpenCV `tileGridSize`); 8 tiles at 224 px = 28 px tiles,
        about the size of the optic disc.
    fov_threshold: where, between the dark surround's level and the disc's level (0 = surround,
        1 = disc; each the median of its side of Otsu's split of the brightest channel), that channel is
        cut to separate the disc from the surround. 0.15 (about 30 of 255 on the sample) sits well above
        JPEG noise in the surround yet below the darker rim of strongly vignetted photos; a cut halfway
        (Otsu's own) would shave the rim off them and shrink the disc.
    fov_min_contrast: least difference, in grey levels (0-255), between the disc's and the surround's
        typical brightness for a disc to be detected at all. The sample photo has 206; darkened to 3 %
        it still has 6 and is found (so the quality gate can say "too dark"), at 2 % it has 4: that
        faint, a near-black frame's noise could pass for structure.
    fov_margin: margin kept around the disc when cropping, as a fraction of its radius; 0.02 keeps the
        disc's edge off the crop's border without wasting model input on black.
    """

    input_size: int = 224
    clahe: bool = True
    clahe_clip_limit: float = 2.0
    clahe_tile_grid: int = 8
    fov_threshold: float = 0.15
    fov_min_contrast: float = 5.0
    fov_margin: float = 0.02

    def __post_init__(self) -> None:
        if self.input_size < 8:
            raise ValueError(f"input_size must be at least 8, not {self.input_size}")
        if self.clahe_clip_limit <= 0:
            raise ValueError(f"clahe_clip_limit must be positive, not {self.clahe_clip_limit}")
        if self.clahe_tile_grid < 1:
            raise ValueError(f"clahe_tile_grid must be at least 1, not {self.clahe_tile_grid}")
        if not 0.0 < self.fov_threshold < 1.0:
            raise ValueError(f"fov_threshold must lie strictly between 0 and 1, not {self.fov_threshold}")
        if self.fov_min_contrast < 0:
            raise ValueError(f"fov_min_contrast must not be negative, not {self.fov_min_contrast}")
        if not 0.0 <= self.fov_margin <= 1.0:
            raise ValueError(f"fov_margin must lie between 0 and 1, not {self.fov_margin}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessSettings:
        """Build settings from a manifest's dict; missing keys take defaults, unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown preprocessing setting(s): {', '.join(unknown)}")
        defaults = cls()
        values = {}
        for name, value in d.items():
            kind = type(getattr(defaults, name))
            # bool is an int in Python; JSON true must not pass as a size, nor 1 as a switch.
            if kind is bool and not isinstance(value, bool):
                raise ValueError(f"preprocessing setting {name} must be true or false, not {value!r}")
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"preprocessing setting {name} must be an integer, not {value!r}")
            if kind is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"preprocessing setting {name} must be a number, not {value!r}")
                value = float(value)
            values[name] = value
        return cls(**values)


DEFAULT_SETTINGS = PreprocessSettings()


@dataclass(frozen=True, eq=False)
class FieldOfView:
    """The fundus disc found in one image, in that image's pixel coordinates (pixel centres at integers).

    When `found` is False: centre = image centre, radius = 0, bbox = the whole image,
    area_fraction = 0 and the mask is all False.
    """

    found: bool
    center: tuple[float, float]  # (x, y)
    radius: float
    bbox: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the disc clipped to the image, x1/y1 exclusive
    area_fraction: float  # disc area inside the image / image area
    mask: np.ndarray = field(repr=False)  # bool (H, W): True inside the disc


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


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        desc = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"expected a uint8 RGB image of shape (H, W, 3), got {desc}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"image is empty: shape {rgb.shape}")


def _not_found(h: int, w: int) -> FieldOfView:
    return FieldOfView(
        found=False,
        center=((w - 1) / 2.0, (h - 1) / 2.0),
        radius=0.0,
        bbox=(0, 0, w, h),
        area_fraction=0.0,
        mask=np.zeros((h, w), dtype=bool),
    )


def _circle_mask(h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
    """Filled circle as uint8 0/255, drawn with 1/16-pixel precision."""
    mask = np.zeros((h, w), dtype=np.uint8)
    if r > 0:
        cv2.circle(mask, (int(round(cx * 16)), int(round(cy * 16))), int(round(r * 16)), 255, -1, cv2.LINE_8, 4)
    return mask


def _fit_circle(pts: np.ndarray) -> tuple[float, float, float]:
    """Algebraic (Kasa) least-squares circle through points (N, 2); returns (cx, cy, r)."""
    mean = pts.mean(axis=0)
    p = pts - mean  # centring keeps the normal equations well conditioned
    a = np.column_stack([p[:, 0], p[:, 1], np.ones(len(p))])
    b = -(p[:, 0] ** 2 + p[:, 1] ** 2)
    (d, e, f), *_ = np.linalg.lstsq(a, b, rcond=None)
    cx, cy = -d / 2.0, -e / 2.0
    r2 = cx * cx + cy * cy - f
    return float(cx + mean[0]), float(cy + mean[1]), float(np.sqrt(r2)) if r2 > 0 else 0.0


def _robust_circle(pts: np.ndarray) -> tuple[float, float, float, float] | None:
    """Fit a circle to edge points, twice refitting without points far off it (camera notches, labels
    touching the disc). Returns (cx, cy, r, median distance of all points from it / r), or None.
    """
    keep = pts
    for _ in range(3):
        if len(keep) < 20:
            return None
        cx, cy, r = _fit_circle(keep)
        if r <= 0:
            return None
        res = np.abs(np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) - r)
        keep = pts[res <= max(1.5, 2.5 * 1.4826 * float(np.median(res)))]
    return cx, cy, r, float(np.median(res)) / r


def _chord_points(pts: np.ndarray) -> np.ndarray:
    """Outline points on straight cuts of the disc inside the frame: many cameras mask the circle's top and
    bottom (or sides) with black bars, and those straight edges are not part of the circle.

    A line of the outline's extreme rows or columns counts as a cut when it holds more than 4 % of the outline:
    a round arc touches its extreme row in only a few points (about 3 % at 250 px radius, within 1 px).
    """
    cut = np.zeros(len(pts), bool)
    for axis in (0, 1):
        values = pts[:, axis]
        for extreme in (values.min(), values.max()):
            on_line = np.abs(values - extreme) <= 1.0
            if on_line.mean() > 0.04:
                cut |= on_line
    return cut


def _consensus_circle(pts: np.ndarray) -> tuple[float, float, float, float] | None:
    """The circle most edge points agree with (a seeded RANSAC over point triples, refitted on its inliers), for an
    outline that a shadow or a crescent bends away from the disc's edge over part of its length. Returns (cx, cy, r,
    median distance of the inliers / r), or None when fewer than `_FOV_MIN_INLIERS` of the points agree."""
    if len(pts) < 20:
        return None
    rng = np.random.default_rng(0)  # the same photograph always gives the same circle
    best: np.ndarray | None = None
    for _ in range(200):
        a, b, c = pts[rng.choice(len(pts), 3, replace=False)]
        cx, cy, r = _fit_circle(np.stack([a, b, c]))
        if not np.isfinite(r) or r <= 0:
            continue
        inliers = np.abs(np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) - r) <= max(1.5, 0.01 * r)
        if best is None or inliers.sum() > best.sum():
            best = inliers
    if best is None or best.mean() < _FOV_MIN_INLIERS:
        return None
    cx, cy, r = _fit_circle(pts[best])
    if r <= 0:
        return None
    res = np.abs(np.hypot(pts[best, 0] - cx, pts[best, 1] - cy) - r)
    return cx, cy, r, float(np.median(res)) / r


def _fit_disc(bright: np.ndarray, surround_level: float, disc_level: float,
              settings: PreprocessSettings, consensus: bool = False) -> tuple[float, float, float] | None:
    """The disc's circle (cx, cy, r) on the shrunk brightest channel, cut between the two levels; None when what
    that cut leaves is not a disc (too little contrast, too small, not round, no dark surround). `consensus` fits
    the circle most of the outline agrees with instead of one through (nearly) all of it."""
    sh, sw = bright.shape
    if disc_level - surround_level < settings.fov_min_contrast:
        return None
    cut = surround_level + settings.fov_threshold * (disc_level - surround_level)
    binary = (bright > cut).astype(np.uint8)

    # Outline of the largest bright region; holes (fovea, vessels below the cut) do not matter.
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    if cv2.contourArea(largest) < _FOV_MIN_AREA_FRACTION * sh * sw:
        return None

    pts = largest.reshape(-1, 2).astype(np.float64)
    interior = (pts[:, 0] > 1) & (pts[:, 0] < sw - 2) & (pts[:, 1] > 1) & (pts[:, 1] < sh - 2)
    interior &= ~_chord_points(pts)
    fit = _consensus_circle(pts[interior]) if consensus else _robust_circle(pts[interior])
    if fit is None:
        return None
    cx, cy, r, residual = fit
    r += 0.5  # contour points are centres of the region's outermost pixels; its edge lies half a pixel out
    if residual > _FOV_MAX_EDGE_RESIDUAL:
        return None

    # The surround: outside the disc, beyond a thin rim where vignetting and blur blend the two.
    outside = _circle_mask(sh, sw, cx, cy, r * 1.03 + 1.0) == 0
    n_outside = int(np.count_nonzero(outside))
    if n_outside == 0 or np.count_nonzero(binary[outside] == 0) < _FOV_MIN_DARK_SURROUND * n_outside:
        return None
    return cx, cy, r


def detect_fov(rgb: np.ndarray, settings: PreprocessSettings = DEFAULT_SETTINGS) -> FieldOfView:
    """Find the circular fundus disc on its dark surround; the disc may be clipped by the image's edges.

    The brightest channel (red, in fundus photographs) is smoothed and cut between the surround's and
    the disc's levels (see `fov_threshold`); the outline of the largest bright region (holes ignored)
    is fitted with a circle through its points that do not lie on the image border, so a disc clipped
    at the top and bottom is measured by its visible arcs. found=False unless the two levels differ
    enough, the region is large and round, and a dark surround is left around it. Where Otsu's split
    finds no disc (a field cut at both sides, a shadow across it), the frame's darkest and typical levels
    are tried instead (`_FALLBACK_*_PERCENTILE`).
    """
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    # Brightest channel first, so only one channel is shrunk.
    red, green, blue = cv2.split(rgb)
    bright = cv2.max(cv2.max(red, green), blue)
    scale = min(1.0, _FOV_WORK_SIZE / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        bright = cv2.resize(bright, size, interpolation=cv2.INTER_AREA)
    sh, sw = bright.shape
    sx, sy = sw / w, sh / h
    if min(sh, sw) < 16:
        return _not_found(h, w)
    bright = cv2.medianBlur(bright, 5)  # JPEG speckle in the surround

    # Surround and disc levels: medians of the two classes that Otsu's split finds. Where the retina fills most of
    # the frame (a field cut at both sides) or a shadow darkens part of it, Otsu splits the retina itself; then the
    # darkest and a typical retinal level of the whole frame are tried instead. Photographs the first way finds
    # are never looked at the second way, so what preprocessing crops them to does not change.
    otsu, _ = cv2.threshold(bright, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    low, high = bright[bright <= otsu], bright[bright > otsu]
    if low.size == 0 or high.size == 0:
        return _not_found(h, w)
    found = _fit_disc(bright, float(np.median(low)), float(np.median(high)), settings)
    if found is None:
        # The surround from the frame's own edge too: a field cut on all four sides leaves it only in the corners.
        ring = np.concatenate([bright[0], bright[-1], bright[:, 0], bright[:, -1]])
        surround = min(float(np.percentile(bright, _FALLBACK_SURROUND_PERCENTILE)), float(np.percentile(ring, 2)))
        disc = float(np.percentile(bright, _FALLBACK_DISC_PERCENTILE))
        # A deep shadow or crescent is darker than the usual cut but still far above the camera's black: lower cuts
        # keep it inside the disc, so the aperture's own sharp edge is what the circle is fitted to.
        for share in _FALLBACK_CUT_SHARES:
            cut = replace(settings, fov_threshold=settings.fov_threshold * share)
            found = _fit_disc(bright, surround, disc, cut, consensus=True)
            if found is not None:
                break
    if found is None:
        return _not_found(h, w)
    cx, cy, r = found

    # Back to the input's pixel grid (pixel centres at integers on both grids).
    fx, fy = (cx + 0.5) / sx - 0.5, (cy + 0.5) / sy - 0.5
    fr = r / np.sqrt(sx * sy)
    mask = _circle_mask(h, w, fx, fy, fr) > 0
    bbox = (
        max(0, int(np.floor(fx - fr + 0.5))),
        max(0, int(np.floor(fy - fr + 0.5))),
        min(w, int(np.ceil(fx + fr + 0.5))),
        min(h, int(np.ceil(fy + fr + 0.5))),
    )
    return FieldOfView(
        found=True,
        center=(float(fx), float(fy)),
        radius=float(fr),
        bbox=bbox,
        area_fraction=float(np.count_nonzero(mask)) / (h * w),
        mask=mask,
    )


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
    _check_rgb(rgb)
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
    disc = _circle_mask(side, side, cx - x0, cy - y0, fov.radius)
    return cv2.bitwise_and(out, out, mask=disc)


def resize_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize a square image to size x size: area averaging to shrink (no aliasing), cubic to enlarge.

    Refuses non-square input rather than distorting the disc; pad it first (`crop_to_fov`).
    """
    _check_rgb(rgb)
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
    _check_rgb(rgb)
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
    _check_rgb(rgb)
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
    _check_rgb(rgb)
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
    _check_rgb(rgb)
    if fov is None:
        fov = detect_fov(rgb, settings)
    square = crop_to_fov(rgb, fov, settings)
    small = resize_square(square, settings.input_size)
    enhanced, tensor = finish(small, settings)
    stages: dict[str, np.ndarray] = {}
    if keep_stages:
        display = min(square.shape[0], max(_STAGE_DISPLAY_SIZE, settings.input_size))
        stages = {
            "original": rgb,
            "field_of_view": resize_square(square, display),
            "clahe": enhanced,
            "normalised": to_display(tensor),
        }
    return PreprocessResult(tensor=tensor, fov=fov, stages=stages, square=square)


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
