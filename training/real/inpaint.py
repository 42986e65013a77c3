"""Lesion-free versions of real photographs, and decoy inpainting that leaves every image with the same traces.

A lesion is removed by filling its mask (dilated over its halo) from the surrounding retina (pull-push over an
image pyramid), then giving the smooth fill back the photograph's own texture: the detail (image minus its blur over
a tenth of a disc diameter: grain, choroid, small vessels) of nearby lesion-free stretches, never of the optic disc or
the aperture's rim, is added inside the filled region. A vessel that crossed a lesion is filled too.

So that "inpainted" cannot come to mean "healthy" for a network, every image made from a real photograph, diseased
or not, also gets decoys: lesion-shaped regions at random lesion-free places, filled the same way.
`training/real/probe.py` measures whether a classifier can still tell filled from untouched images.
"""

from __future__ import annotations

import cv2
import numpy as np

HALO_PX_PER_DD = 0.07  # the mask is widened by this many DD before filling: a lesion's glow reaches past its outline
_DETAIL_SIGMA_DD = 0.1  # texture finer than this is borrowed into a fill
_OFFSETS = 6  # nearby places tried as the texture's source; the two clearest are used


def _odd(n: float) -> int:
    k = max(int(round(n)), 1)
    return k if k % 2 else k + 1


def _smooth_fill(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The hole filled from the retina around it by pull-push over an image pyramid: each level is the local
    average of the valid pixels below it, and holes take the coarser level's value, blended by how much of each
    pixel was valid. Smooth shading, with none of the streaks diffusion inpainting leaves in large regions."""
    valid = (~hole).astype(np.float32)
    levels: list[tuple[np.ndarray, np.ndarray]] = [(rgb.astype(np.float32) * valid[..., None], valid)]
    while min(levels[-1][1].shape) > 8:
        image, weight = levels[-1]
        levels.append((cv2.pyrDown(image), cv2.pyrDown(weight)))
    image, weight = levels[-1]
    out = image / np.maximum(weight, 1e-6)[..., None]
    if (weight <= 1e-6).any():
        out[weight <= 1e-6] = image.sum((0, 1)) / max(float(weight.sum()), 1e-6)
    for image, weight in reversed(levels[:-1]):
        up = cv2.pyrUp(out, dstsize=(weight.shape[1], weight.shape[0]))
        w = np.clip(weight, 0.0, 1.0)[..., None]
        out = image / np.maximum(weight, 1e-6)[..., None] * w + up * (1 - w)
    result = rgb.astype(np.float32)
    result[hole] = out[hole]
    return result


def fill(rgb: np.ndarray, region: np.ndarray, dd_px: float, rng: np.random.Generator,
         keep_out: np.ndarray | None = None) -> np.ndarray:
    """`rgb` (uint8) with `region` (bool) filled from its surroundings and given back the photograph's grain.

    keep_out: pixels whose grain must not be borrowed (other lesions); the region itself is always excluded.
    """
    if not region.any():
        return rgb.copy()
    halo = _odd(2 * HALO_PX_PER_DD * dd_px + 1)
    grown = cv2.dilate(region.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (halo, halo)))
    filled = _smooth_fill(rgb, grown.astype(bool))
    # Texture: the photograph's detail (grain, choroid, small vessels: the image minus its blur over a tenth of a
    # disc diameter), borrowed from nearby places where nothing was removed; of a few offsets, the ones whose
    # source is clearest, the second filling where the first had a lesion.
    sigma = max(_DETAIL_SIGMA_DD * dd_px, 0.8)
    detail = rgb.astype(np.float32) - cv2.GaussianBlur(rgb, (0, 0), sigma).astype(np.float32)
    forbidden = grown.astype(bool) if keep_out is None else grown.astype(bool) | keep_out
    # Nor from the aperture's rim or the optic disc: their detail is the black edge and the disc's bright rim.
    h, w = rgb.shape[:2]
    small = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (max(w // 4, 1), max(h // 4, 1)),
                       interpolation=cv2.INTER_AREA)  # a quarter size is plenty to find the rim and the disc
    grey = cv2.GaussianBlur(small, (0, 0), max(sigma / 4, 1.0))
    lit = grey > 25
    unusual = ~lit | (grey > np.percentile(grey[lit], 99.0) if lit.any() else False)
    reach = _odd(sigma + 1)
    unusual = cv2.dilate(unusual.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
    forbidden |= cv2.resize(unusual, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    forbidden = forbidden.astype(np.uint8)
    inside = grown.astype(bool)
    candidates = []
    for _ in range(_OFFSETS):
        angle = rng.uniform(0, 2 * np.pi)
        distance = rng.uniform(0.3, 0.7) * dd_px
        shift = np.array([[1, 0, round(distance * np.cos(angle))], [0, 1, round(distance * np.sin(angle))]],
                         np.float32)
        bad = cv2.warpAffine(forbidden, shift, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=1).astype(bool)
        candidates.append((float(bad[inside].mean()), shift, bad))
    candidates.sort(key=lambda c: c[0])
    borrowed = np.zeros_like(detail)
    todo = np.ones((h, w), bool)
    for _, shift, bad in candidates[:2]:
        source = cv2.warpAffine(detail, shift, (w, h), borderMode=cv2.BORDER_REFLECT)
        take = todo & ~bad
        borrowed[take] = source[take]
        todo &= ~take
    usable = detail[::4, ::4][~forbidden[::4, ::4].astype(bool)]
    spread = float(np.percentile(np.abs(usable), 99)) if usable.size else 0.0
    np.clip(borrowed, -spread, spread, out=borrowed)  # no borrowed spark brighter than the retina's own
    # Soft edge, so the fill has no seam where it meets the photograph.
    weight = cv2.GaussianBlur(grown.astype(np.float32), (0, 0), max(halo / 3.0, 0.8))
    weight = np.maximum(weight, grown.astype(np.float32))[..., None]
    out = filled + borrowed * weight
    out = rgb.astype(np.float32) * (1 - weight) + out * weight
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    if keep_out is not None:
        out[keep_out] = rgb[keep_out]  # a decoy's rim never touches a real lesion
    return out


def decoy_region(shapes: np.ndarray, fov: np.ndarray, avoid: np.ndarray, rng: np.random.Generator,
                 dd_px: float) -> np.ndarray:
    """Lesion-shaped regions placed where there is no lesion: `shapes` (bool, another photograph's lesion masks
    at this size) mirrored, turned and moved at random, kept inside the field of view and off `avoid`."""
    h, w = fov.shape
    src = shapes.astype(np.uint8)
    if rng.random() < 0.5:
        src = src[:, ::-1]
    if rng.random() < 0.5:
        src = src[::-1]
    angle = rng.uniform(-30, 30)
    centre = (w / 2.0, h / 2.0)
    m = np.asarray(cv2.getRotationMatrix2D(centre, angle, 1.0), np.float64)
    m[:, 2] += rng.normal(0, 1.0, 2) * dd_px
    moved = cv2.warpAffine(np.ascontiguousarray(src), m, (w, h), flags=cv2.INTER_NEAREST).astype(bool)
    clear = cv2.dilate(avoid.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (_odd(0.15 * dd_px), _odd(0.15 * dd_px)))).astype(bool)
    inner = cv2.erode(fov.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (_odd(0.3 * dd_px), _odd(0.3 * dd_px)))).astype(bool)
    return moved & inner & ~clear


def lesion_free(rgb: np.ndarray, lesions: np.ndarray, dd_px: float, rng: np.random.Generator) -> np.ndarray:
    """The photograph with every masked lesion removed."""
    return fill(rgb, lesions, dd_px, rng)
