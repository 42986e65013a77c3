"""Image-quality gate: is this photograph fit to be graded by the model at all?

A photograph fails the gate for each of these that applies (an ungradable photo is reported, never graded):

| threshold | default | meaning | why this value |
| --- | --- | --- | --- |
| (field of view found) | - | a bright circular fundus disc on a dark surround was found | without one this is not a fundus photograph, or it is framed so badly nothing else can be judged |
| `min_fov_diameter_px` | 300 | disc diameter in the file's own pixels, even when decoded at reduced size | a 45-degree field is about 12 mm across: below 300 px a pixel spans over 40 um and microaneurysms (25-125 um) shrink to a pixel or two; the model's own input is 224 px |
| `min_fov_fraction` | 0.20 | disc area / image area | real cameras' discs fill 40-90 % of the frame; a small disc in a big frame is a photo of a screen or a print |
| `min_brightness` | 25 | mean luminance (0-255) inside the disc | the sample scores 119; at 15 % exposure 17, and CLAHE then mostly amplifies noise; at 30 % (35) it still passes, so dark but usable photos get through |
| `max_brightness` | 200 | mean luminance (0-255) inside the disc | the sample scores 119 (at 2x exposure 187); above 200 the fundus is washed out (at 2.5x: 213) |
| `max_overexposed_fraction` | 0.05 | fraction of the disc at luminance >= 250 | a bright optic disc alone saturates up to about 2 % of the field; more means retina is lost (the sample: 0 %, at 2x: 1.1 %, at 2.5x: 6.6 %, at 3x: 21 %) |
| `min_contrast` | 0.05 | RMS contrast: luminance std / mean inside the disc | the sample scores 0.15; with its contrast cut to 40 % 0.06 (passes), to 20 % 0.03 (hazy: cataract, flare) |
| `min_sharpness` | 0.50 | fine / medium detail energy ratio inside the disc (see below) | the sample scores 0.86 (0.81 decoded at 1/2, 0.79 at 1/4); blurred with sigma 2 px (of 1411) 0.68, 4 px 0.48, 8 px 0.28 |

All measurements are taken on the disc resampled to a fixed 512 px square, so a JPEG decoded at half
size scores like the full file. Sharpness is the standard deviation of the fine band (image minus its
Gaussian blur at sigma 2 px) over that of the medium band (sigma 2 minus sigma 8) inside the disc:
defocus removes fine detail first, while a ratio does not change with brightness or contrast.
Blurs are normalised to the disc (blur of image*mask / blur of mask), so its dark edge adds nothing.
Noise adds fine-band energy too, so a blurred but very noisy photo can score as sharp.

Imports neither Qt nor torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import cv2
import numpy as np

from ran_desktop.engine.preprocess import FieldOfView, crop_to_fov, fov_square, resize_square

# Side of the fixed-size square every measurement is taken on.
_MEASURE_SIZE = 512
# Only the disc's interior is measured: the outer 3 % of its radius blends with the black surround.
_INTERIOR_RADIUS = 0.97
# Luminance at or above which a pixel counts as saturated.
_SATURATED = 250
# Gaussian sigmas (px at 512) splitting fine from medium detail for the sharpness ratio.
_FINE_SIGMA, _MEDIUM_SIGMA = 2.0, 8.0


@dataclass(frozen=True)
class QualityThresholds:
    """Limits a photograph must meet to be graded; see the module docstring for what each means and why."""

    min_fov_diameter_px: float = 300.0
    min_fov_fraction: float = 0.20
    min_brightness: float = 25.0
    max_brightness: float = 200.0
    max_overexposed_fraction: float = 0.05
    min_contrast: float = 0.05
    min_sharpness: float = 0.50

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


@dataclass(frozen=True)
class QualityReport:
    """The gate's verdict: gradable, and if not, every reason in plain words, plus the measurements."""

    gradable: bool
    reasons: tuple[str, ...]
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"gradable": self.gradable, "reasons": list(self.reasons), "scores": dict(self.scores)}


def _measurement_square(rgb: np.ndarray, fov: FieldOfView) -> tuple[np.ndarray, np.ndarray]:
    """Luminance of the disc's square at 512 px (float32) and the mask of its measurable interior."""
    h, w = rgb.shape[:2]
    x0, y0, side = fov_square(fov)
    square = resize_square(crop_to_fov(rgb, fov), _MEASURE_SIZE)
    lum = cv2.cvtColor(square, cv2.COLOR_RGB2GRAY).astype(np.float32)
    k = _MEASURE_SIZE / side
    # Only pixels that came from the image: a clipped disc's square is padded with black.
    mask = np.zeros((_MEASURE_SIZE, _MEASURE_SIZE), dtype=np.uint8)
    ix0, iy0 = int(np.ceil(max(0, -x0) * k)) + 2, int(np.ceil(max(0, -y0) * k)) + 2
    ix1, iy1 = int(np.floor(min(side, w - x0) * k)) - 2, int(np.floor(min(side, h - y0) * k)) - 2
    if ix1 > ix0 and iy1 > iy0:
        mask[iy0:iy1, ix0:ix1] = 1
    if fov.found:
        cx, cy = (fov.center[0] - x0 + 0.5) * k - 0.5, (fov.center[1] - y0 + 0.5) * k - 0.5
        disc = np.zeros_like(mask)
        r = fov.radius * k * _INTERIOR_RADIUS
        cv2.circle(disc, (int(round(cx * 16)), int(round(cy * 16))), int(round(r * 16)), 1, -1, cv2.LINE_8, 4)
        mask &= disc
    return lum, mask.astype(bool)


def _sharpness(lum: np.ndarray, mask: np.ndarray) -> float:
    """Fine-to-medium detail ratio inside the mask (0 for a flat image)."""
    m = mask.astype(np.float32)

    def blur(sigma: float) -> np.ndarray:
        # Normalised convolution: averages only pixels inside the mask, so edges add no false detail.
        num = cv2.GaussianBlur(lum * m, (0, 0), sigma)
        den = cv2.GaussianBlur(m, (0, 0), sigma)
        return num / np.maximum(den, 1e-6)

    fine_blur = blur(_FINE_SIGMA)
    fine = (lum - fine_blur)[mask]
    medium = (fine_blur - blur(_MEDIUM_SIGMA))[mask]
    medium_sd = float(medium.std())
    if medium_sd < 1e-3:
        return 0.0
    return float(fine.std()) / medium_sd


def assess_quality(
    rgb: np.ndarray,
    fov: FieldOfView,
    original_size: tuple[int, int],
    thresholds: QualityThresholds = DEFAULT_THRESHOLDS,
) -> QualityReport:
    """Judge one photograph. `rgb` may be a reduced decode; `original_size` is the file's (width, height).

    Without a field of view the only reason given is that none was found (nothing else can be judged),
    though the scores are still measured over the whole frame for the log.
    """
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

    lum, mask = _measurement_square(rgb, fov)
    inside = lum[mask] if mask.any() else lum.ravel()
    brightness = float(inside.mean())
    scores = {
        "fov_found": 1.0 if fov.found else 0.0,
        "fov_fraction": float(fov.area_fraction),
        "fov_diameter_px": 2.0 * fov.radius * to_original,
        "brightness": brightness,
        "overexposed_fraction": float(np.count_nonzero(inside >= _SATURATED)) / inside.size,
        "contrast": float(inside.std()) / max(brightness, 1.0),
        "sharpness": _sharpness(lum, mask) if mask.any() else 0.0,
    }
    if not fov.found:
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
            scores["sharpness"] < t.min_sharpness,
            f"out of focus (sharpness {scores['sharpness']:.2f} < {t.min_sharpness:g})",
        ),
    ]
    reasons = tuple(text for failed, text in checks if failed)
    return QualityReport(gradable=not reasons, reasons=reasons, scores=scores)
