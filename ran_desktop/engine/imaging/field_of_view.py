"""Finding the fundus disc: the bright, round field of view on the camera's dark surround (`detect_fov`).

The first way thresholds between the surround's and the disc's levels (Otsu) and fits a circle to the largest bright
region's outline; where that fails (deep shadow, a crescent, a dim photograph), the second takes the levels from the
darkest corner and a typical retina, cuts lower in turn, and fits the circle most of the outline agrees on (RANSAC),
so a shadow's or crescent's edge does not pull it. Imports neither Qt nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ran_desktop.engine.imaging.preprocess_settings import DEFAULT_SETTINGS, PreprocessSettings

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


def check_rgb(rgb: np.ndarray) -> None:
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


def circle_mask(h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
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
    outside = circle_mask(sh, sw, cx, cy, r * 1.03 + 1.0) == 0
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
    check_rgb(rgb)
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
    mask = circle_mask(h, w, fx, fy, fr) > 0
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
