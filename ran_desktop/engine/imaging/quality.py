"""Image-quality gate: is this photograph fit to be graded by the model at all?

A photograph fails the gate for each of these that applies (an ungradable photo is reported, never graded):

| threshold | default | meaning | why this value |
| --- | --- | --- | --- |
| (field of view found) | - | a bright circular fundus disc on a dark surround was found | without one this is not a fundus photograph, or it is framed so badly nothing else can be judged |
| `min_fov_diameter_px` | 300 | disc diameter in the file's own pixels, even when decoded at reduced size | a 45-degree field is about 12 mm across: below 300 px a pixel spans over 40 um and microaneurysms (25-125 um) shrink to a pixel or two; the model's own input is 224 px |
| `min_fov_fraction` | 0.20 | disc area / image area | real cameras' discs fill 40-90 % of the frame; a small disc in a big frame is a photo of a screen or a print |
| `min_brightness` | 25 | mean luminance (0-255) inside the disc | the sample scores 119; at 15 % exposure 17, and CLAHE then mostly amplifies noise; at 30 % (35) it still passes, so dark but usable photos get through |
| `max_brightness` | 230 | mean luminance (0-255) inside the disc | only a field washed nearly white: a lightly pigmented fundus, well exposed, scores 200-215 (the sample at 2x exposure 187, at 3x 233); saturation below is what judges exposure |
| `max_overexposed_fraction` | 0.05 | fraction of the disc at luminance >= 250 | a bright optic disc alone saturates up to about 2 % of the field; more means retina is lost (the sample: 0 %, at 2x: 1.1 %, at 2.5x: 6.6 %, at 3x: 22 %) |
| `min_contrast` | 0.02 | RMS contrast: luminance std / mean inside the disc | a floor for a featureless frame only: a clear but evenly lit photograph can score under 0.05; the vessels' contrast below judges haze |
| `min_vessel_contrast` | 0.016 | detail up to a vessel's width as a share of the light on it (see below) | the sample 0.050 (with a hazy lens, its contrast cut to 40 %, 0.021 passes; cut to 20 %, cataract or flare, 0.011 fails); IDRiD's 81 photographs and their camera variants 0.023-0.087, lightly pigmented (mean 205) 0.017 or more, with a hazy lens 0.006-0.018; dimness and shadows do not change it. A photograph of low contrast to start with, hazed, can score like a clear pale one: false rejects cost more, so 3 of 81 hazed photographs pass |
| `min_sharpness` | 0.52 | fine / medium detail energy ratio of the lit retina, light divided out (see below) | the sample scores 0.91 (0.86 decoded at 1/2); blurred with sigma 2 px (of 1411) 0.72, 4 px 0.51, 8 px 0.30; IDRiD's 81 photographs as taken 0.55 or more, shadowed, with a crescent or with disease's membranes 0.535 or more, blurred with sigma 4 px (of 1411) 0.49 at most |

All measurements are taken on the disc resampled to a fixed 512 px square, so a JPEG decoded at half
size scores like the full file. Sharpness and vessel contrast are measured on the retina's reflectance: the luminance
divided by the light falling on it (its local mean, Gaussian sigma 16 px), so a soft shadow, a crescent, a pale or
dim fundus or a disease's veil is not lost detail, while defocus and a hazy lens are. Sharpness is the standard
deviation of the fine band (reflectance minus its Gaussian blur at sigma 2 px) over that of the medium band (sigma 2
minus sigma 8): defocus removes fine detail first. Vessel contrast is the standard deviation of both bands together.
Blurs are normalised to the disc (blur of image*mask / blur of mask), so its dark edge adds nothing, and both are
taken where the retina is lit (local light at least 75 % of the median, away from a shadow's edge).
Noise adds fine-band energy too, so a blurred but very noisy photo can score as sharp.

Imports neither Qt nor torch.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, fields

import cv2
import numpy as np

from ran_desktop.engine.imaging.preprocess import FieldOfView, crop_to_fov, fov_square
from ran_desktop.engine.imaging.quality_report import QualityReport

__all__ = ["DEFAULT_THRESHOLDS", "NO_FUNDUS_REASON", "Measured", "QualityReport", "QualityThresholds", "assess_quality",
           "detail", "judge", "measure"]

# Side of the fixed-size square every measurement is taken on.
_MEASURE_SIZE = 512
# Only the disc's interior is measured: the outer 3 % of its radius blends with the black surround.
_INTERIOR_RADIUS = 0.97
# Luminance at or above which a pixel counts as saturated.
_SATURATED = 250
# Gaussian sigmas (px at 512) splitting fine from medium detail for the sharpness ratio.
_FINE_SIGMA, _MEDIUM_SIGMA = 2.0, 8.0
# Sharpness is judged where the retina is lit: local mean (sigma in px at 512) at least this share of the median
# luminance, if at least _LIT_MIN_SHARE of the interior is (a crescent or shadow is left out, not a dim photograph).
_LIT_SIGMA, _LIT_FRACTION, _LIT_MIN_SHARE = 16.0, 0.75, 0.2
# Side (px at 512) of the square the lit part is eroded by: away from a shadow's edge, where the light still changes.
_LIT_ERODE = 25


@dataclass(frozen=True)
class QualityThresholds:
    """Limits a photograph must meet to be graded; see the module docstring for what each means and why."""

    min_fov_diameter_px: float = 300.0
    min_fov_fraction: float = 0.20
    min_brightness: float = 25.0
    max_brightness: float = 230.0
    max_overexposed_fraction: float = 0.05
    min_contrast: float = 0.02
    min_sharpness: float = 0.52
    min_vessel_contrast: float = 0.016

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> QualityThresholds:
        """Missing keys take defaults; unknown keys and non-numbers are refused with ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown quality threshold(s): {', '.join(unknown)}")
        values = {}
        for name, value in d.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"quality threshold {name} must be a number, not {value!r}")
            values[name] = float(value)
        return cls(**values)


DEFAULT_THRESHOLDS = QualityThresholds()

NO_FUNDUS_REASON = "no fundus field of view found (not a retinal photograph?)"


def _measurement_square(rgb: np.ndarray, fov: FieldOfView, square: np.ndarray | None) -> tuple[np.ndarray, tuple]:
    """Luminance of the disc's square at 512 px (uint8) and the key of its measurable interior's mask."""
    h, w = rgb.shape[:2]
    x0, y0, side = fov_square(fov)
    if square is None or square.shape[:2] != (side, side):
        square = crop_to_fov(rgb, fov)
    # Grey first: one channel to resample instead of three.
    grey = cv2.cvtColor(square, cv2.COLOR_RGB2GRAY)
    lum = _resize_grey(grey)
    k = _MEASURE_SIZE / side
    # Only pixels that came from the image: a clipped disc's square is padded with black.
    ix0, iy0 = int(np.ceil(max(0, -x0) * k)) + 2, int(np.ceil(max(0, -y0) * k)) + 2
    ix1, iy1 = int(np.floor(min(side, w - x0) * k)) - 2, int(np.floor(min(side, h - y0) * k)) - 2
    disc = None
    if fov.found:
        cx, cy = (fov.center[0] - x0 + 0.5) * k - 0.5, (fov.center[1] - y0 + 0.5) * k - 0.5
        r = fov.radius * k * _INTERIOR_RADIUS
        disc = (int(round(cx * 16)), int(round(cy * 16)), int(round(r * 16)))
    return lum, (ix0, iy0, ix1, iy1, disc)


def _resize_grey(grey: np.ndarray) -> np.ndarray:
    """`resize_square`'s resampling (area to shrink, cubic to enlarge) on one channel."""
    side = grey.shape[0]
    if side == _MEASURE_SIZE:
        return grey.copy()
    interpolation = cv2.INTER_AREA if _MEASURE_SIZE < side else cv2.INTER_CUBIC
    return cv2.resize(grey, (_MEASURE_SIZE, _MEASURE_SIZE), interpolation=interpolation)


@functools.lru_cache(maxsize=16)
def _interior(key: tuple) -> tuple[np.ndarray, np.ndarray, dict[float, np.ndarray]]:
    """The interior mask for a square's geometry, as bool and float32, with its Gaussian blurs.

    Squares are centred on their disc, so nearly every photograph gives the same few keys: caching the mask's
    blurs (the normalised convolutions' denominators, the illumination's among them: a 129-tap blur) halves the
    measurement's cost.
    """
    ix0, iy0, ix1, iy1, disc = key
    mask = np.zeros((_MEASURE_SIZE, _MEASURE_SIZE), dtype=np.uint8)
    if ix1 > ix0 and iy1 > iy0:
        mask[iy0:iy1, ix0:ix1] = 1
    if disc is not None:
        circle = np.zeros_like(mask)
        cv2.circle(circle, disc[:2], disc[2], 1, -1, cv2.LINE_8, 4)
        mask &= circle
    m = mask.astype(np.float32)
    blurs = {sigma: np.maximum(cv2.GaussianBlur(m, (0, 0), sigma), 1e-6)
             for sigma in (_FINE_SIGMA, _MEDIUM_SIGMA, _LIT_SIGMA)}
    arrays: list[np.ndarray] = [mask, m, *blurs.values()]
    for array in arrays:
        array.flags.writeable = False  # shared between threads and calls
    return mask, m, blurs


def _masked_mean_std(values: np.ndarray, mask: np.ndarray | None) -> tuple[float, float]:
    mean, std = cv2.meanStdDev(values, mask=mask)
    return float(mean[0, 0]), float(std[0, 0])


def _illumination(lum: np.ndarray, m: np.ndarray, m_blur: np.ndarray) -> np.ndarray:
    """The light falling on the retina: its local mean (normalised to the interior, so the dark edge adds nothing).
    Shadows, crescents, vignetting and a disease's haze are changes of it, not of the retina's detail. `m_blur`:
    the interior's own blur at _LIT_SIGMA (cached per geometry by _interior)."""
    return cv2.GaussianBlur(lum * m, (0, 0), _LIT_SIGMA) / m_blur


def _lit(lum: np.ndarray, light: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The interior where the retina is lit: not a dark crescent or shadow, whose soft edge is medium-band detail
    with no fine detail and read as defocus. The whole interior where too little of it is lit to judge."""
    inside = mask > 0
    lit: np.ndarray = ((light >= _LIT_FRACTION * float(np.median(lum[inside]))) & inside).astype(np.uint8)
    lit = cv2.erode(lit, np.ones((_LIT_ERODE, _LIT_ERODE), np.uint8))  # and away from the shadow's edge
    return lit if cv2.countNonZero(lit) >= _LIT_MIN_SHARE * cv2.countNonZero(mask) else mask


def _detail(lum: np.ndarray, key: tuple) -> tuple[float, float]:
    """(sharpness, vessel contrast) of the retina's detail, measured on its reflectance: luminance divided by the
    light falling on it (flat-fielded), inside the lit part of the interior.

    Sharpness is the fine band's standard deviation over the medium band's; vessel contrast is the standard deviation
    of both bands together (detail up to a vessel's width) as a share of the local light. Dividing by the light
    first means a soft shadow, a crescent, a pale or dim fundus or a disease's veil changes neither: only lost detail
    (defocus, a hazy lens) does. (0, 0) for a flat image."""
    mask, m, den = _interior(key)
    light = _illumination(lum, m, den[_LIT_SIGMA])
    lit = _lit(lum, light, mask)
    flat = lum / np.maximum(light, 1.0) * m

    def blur(sigma: float) -> np.ndarray:
        # Normalised convolution: averages only pixels inside the mask, so edges add no false detail.
        return cv2.GaussianBlur(flat, (0, 0), sigma) / den[sigma]

    fine_blur, medium_blur = blur(_FINE_SIGMA), blur(_MEDIUM_SIGMA)
    _, fine_sd = _masked_mean_std(flat - fine_blur, lit)
    _, medium_sd = _masked_mean_std(fine_blur - medium_blur, lit)
    _, vessel_sd = _masked_mean_std(flat - medium_blur, lit)
    if medium_sd < 1e-5:
        return 0.0, vessel_sd
    return fine_sd / medium_sd, vessel_sd


@dataclass(frozen=True, eq=False)
class Measured:
    """A photograph measured for the gate, all but its detail (sharpness, vessel contrast), which `detail` adds here
    or the screener adds on the GPU (quality_on_device.details) from `lum` and `key`."""

    fov_found: bool
    scores: dict[str, float]  # every score but sharpness and vessel contrast
    # The disc's luminance at 512 px, uint8: a quarter of float32's bytes to send back from a worker process.
    lum: np.ndarray = field(repr=False)
    key: tuple = field(repr=False)  # the geometry of its measurable interior (_interior)
    measurable: bool = True  # False: no interior to measure detail on (scored 0, 0)


def assess_quality(
    rgb: np.ndarray,
    fov: FieldOfView,
    original_size: tuple[int, int],
    thresholds: QualityThresholds = DEFAULT_THRESHOLDS,
    *,
    square: np.ndarray | None = None,
) -> QualityReport:
    """Judge one photograph. `rgb` may be a reduced decode; `original_size` is the file's (width, height).

    `square` is `crop_to_fov(rgb, fov)` (default margin) when the caller has already cut it, as preprocessing
    does: it saves cutting it again.

    Without a field of view the only reason given is that none was found (nothing else can be judged),
    though the scores are still measured over the whole frame for the log.
    """
    measured = measure(rgb, fov, original_size, square=square)
    return judge(measured, detail(measured), thresholds)


def measure(rgb: np.ndarray, fov: FieldOfView, original_size: tuple[int, int], *,
            square: np.ndarray | None = None) -> Measured:
    """Everything `assess_quality` measures but the detail: field of view, exposure, contrast."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("expected a uint8 RGB image of shape (H, W, 3)")
    h, w = rgb.shape[:2]
    if fov.mask.shape != (h, w):
        raise ValueError(f"field of view was found on a {fov.mask.shape[::-1]} image, not this {(w, h)} one")
    ow, oh = original_size
    if ow <= 0 or oh <= 0:
        raise ValueError(f"original size must be positive, got {original_size}")
    # Reduced decodes shrink both axes alike; the geometric mean tolerates rounding of either.
    to_original = float(np.sqrt((ow / w) * (oh / h)))

    grey, key = _measurement_square(rgb, fov, square)
    lum = grey.astype(np.float32)
    interior = _interior(key)[0]
    n_inside = cv2.countNonZero(interior)
    mask: np.ndarray | None = interior
    if n_inside == 0:  # nothing measurable: measure the whole square for the log instead
        mask, n_inside = None, lum.size
    brightness, spread = _masked_mean_std(lum, mask)
    saturated = (lum >= _SATURATED).view(np.uint8)
    n_saturated = cv2.countNonZero(saturated if mask is None else cv2.bitwise_and(saturated, mask))
    scores = {
        "fov_found": 1.0 if fov.found else 0.0,
        "fov_fraction": float(fov.area_fraction),
        "fov_diameter_px": 2.0 * fov.radius * to_original,
        "brightness": brightness,
        "overexposed_fraction": n_saturated / n_inside,
        "contrast": spread / max(brightness, 1.0),
    }
    return Measured(fov.found, scores, grey, key, measurable=mask is not None)


def detail(measured: Measured) -> tuple[float, float]:
    """(sharpness, vessel contrast) of a measured photograph, on the CPU."""
    return _detail(measured.lum.astype(np.float32), measured.key) if measured.measurable else (0.0, 0.0)


def judge(measured: Measured, detail: tuple[float, float], thresholds: QualityThresholds = DEFAULT_THRESHOLDS
          ) -> QualityReport:
    """The gate's decision from the measurements and the detail (sharpness, vessel contrast)."""
    scores = dict(measured.scores)
    scores["sharpness"], scores["vessel_contrast"] = detail if measured.measurable else (0.0, 0.0)
    brightness = scores["brightness"]
    if not measured.fov_found:
        return QualityReport(gradable=False, reasons=(NO_FUNDUS_REASON,), scores=scores)

    t = thresholds
    checks = [
        (
            scores["fov_diameter_px"] < t.min_fov_diameter_px,
            f"too small (field of view {scores['fov_diameter_px']:.0f} px across < {t.min_fov_diameter_px:g} px)",
        ),
        (
            scores["fov_fraction"] < t.min_fov_fraction,
            f"field of view fills too little of the frame ({scores['fov_fraction']:.0%} < {t.min_fov_fraction:.0%})",
        ),
        (brightness < t.min_brightness, f"too dark (mean brightness {brightness:.1f} < {t.min_brightness:g})"),
        (brightness > t.max_brightness, f"too bright (mean brightness {brightness:.1f} > {t.max_brightness:g})"),
        (
            scores["overexposed_fraction"] > t.max_overexposed_fraction,
            f"overexposed ({scores['overexposed_fraction']:.1%} of the field saturated"
            f" > {t.max_overexposed_fraction:.1%})",
        ),
        (scores["contrast"] < t.min_contrast, f"low contrast ({scores['contrast']:.3f} < {t.min_contrast:g})"),
        (
            scores["vessel_contrast"] < t.min_vessel_contrast and scores["contrast"] >= t.min_contrast,
            f"low contrast (vessel contrast {scores['vessel_contrast']:.3f} < {t.min_vessel_contrast:g})",
        ),
        (
            scores["sharpness"] < t.min_sharpness,
            f"out of focus (sharpness {scores['sharpness']:.2f} < {t.min_sharpness:g})",
        ),
    ]
    reasons = tuple(text for failed, text in checks if failed)
    return QualityReport(gradable=not reasons, reasons=reasons, scores=scores)
