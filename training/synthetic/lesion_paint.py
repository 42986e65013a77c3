"""Painting a lesion plan (`lesion_plan`) onto a fundus, by depth: deep lesions under the vessels, the nerve-fibre
layer's on them, pre-retinal and vitreous blood in front of everything; and the plan's lesions as mask bits.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.fundus import rules as R
from training.fundus.geometry import FieldGeometry
from training.fundus.noise import smooth_noise
from training.fundus.vessels import FineCanvas
from training.synthetic.lesion_plan import MASK_BIT, LesionPlan, Shape

# Fraction of light blood lets through at full density (RGB); haemorrhages are darker than vessels because the
# blood layer is thicker.
_HAEM_TRANSMISSION = np.array([0.62, 0.26, 0.34], np.float32)
_IRMA_TRANSMISSION = np.array([0.80, 0.40, 0.50], np.float32)
_BEAD_TRANSMISSION = np.array([0.78, 0.36, 0.50], np.float32)
_EXUDATE = np.array([1.0, 0.86, 0.45], np.float32)
_COTTON_WOOL = np.array([0.97, 0.86, 0.76], np.float32)
_PRERETINAL = np.array([0.60, 0.09, 0.06], np.float32)
_VITREOUS = np.array([0.42, 0.11, 0.07], np.float32)
_FIBROUS = np.array([0.95, 0.88, 0.80], np.float32)


def painted_lesion_bits(plan: LesionPlan, shape_hw: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W) lesion bits where the plan's shapes are painted: the generator's own lesion masks."""
    layers: dict[int, np.ndarray] = {}
    for s in plan.shapes:
        bit = MASK_BIT.get(s.kind)
        if bit is None:
            continue
        layer = layers.setdefault(bit, _layer(shape_hw))
        if s.kind == R.BLOT_HAEMORRHAGE:
            for x, y, a, b, ang, _ in s.extra["lobes"]:
                _ellipse(layer, (x, y), (a, b), ang, 1.0)
        else:
            _ellipse(layer, s.center, s.size, s.angle, 1.0)
        if s.kind == R.FLAME_HAEMORRHAGE:
            a = np.deg2rad(s.angle)
            for k in (-1, 1):
                tip = (s.center[0] + k * np.cos(a) * s.size[0] * 0.9, s.center[1] + k * np.sin(a) * s.size[0] * 0.9)
                _ellipse(layer, tip, (s.size[0] * 0.45, s.size[1] * 0.35), s.angle, 1.0)
        # A lesion smaller than a pixel still marks the pixel it lies in.
        x, y = int(round(s.center[0])), int(round(s.center[1]))
        if 0 <= y < shape_hw[0] and 0 <= x < shape_hw[1]:
            layer[y, x] = 255
    bits = np.zeros(shape_hw, np.uint8)
    for bit, layer in layers.items():
        bits[layer > 127] |= np.uint8(1 << bit)
    return bits


# ---- painting ------------------------------------------------------------------------------------------------
def _layer(shape_hw: tuple[int, int]) -> np.ndarray:
    return np.zeros(shape_hw, np.uint8)


def _ellipse(
    canvas: np.ndarray, center: tuple[float, float], axes: tuple[float, float], angle: float, value: float
) -> None:
    c = (round(center[0] * 16), round(center[1] * 16))
    ax = (max(round(axes[0] * 16), 1), max(round(axes[1] * 16), 1))
    cv2.ellipse(canvas, c, ax, angle, 0, 360, float(np.clip(value, 0, 1) * 255), -1, cv2.LINE_AA, 4)


def _blend(img: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    for c in range(3):
        img[..., c] += alpha * (colour[c] - img[..., c])


def _absorb(img: np.ndarray, density: np.ndarray, transmission: np.ndarray) -> None:
    for c in range(3):
        img[..., c] *= 1.0 - density * (1.0 - transmission[c])


def paint_deep(img: np.ndarray, plan: LesionPlan, geom: FieldGeometry, rng: np.random.Generator) -> None:
    """Microaneurysms, dot and blot haemorrhages and hard exudates: under the retinal vessels."""
    h, w = img.shape[:2]
    sharp = [s for s in plan.shapes if s.kind in (R.MICROANEURYSM, R.DOT_HAEMORRHAGE)]
    blots = [s for s in plan.shapes if s.kind == R.BLOT_HAEMORRHAGE]
    exud = [s for s in plan.shapes if s.kind == R.HARD_EXUDATE]
    if sharp:
        layer = _layer((h, w))
        for s in sharp:
            _ellipse(layer, s.center, s.size, s.angle, s.value)
        _absorb(img, layer.astype(np.float32) * np.float32(1 / 255), _HAEM_TRANSMISSION)
    if blots:
        layer = _layer((h, w))
        for s in blots:
            for x, y, a, b, ang, val in s.extra["lobes"]:
                _ellipse(layer, (x, y), (a, b), ang, val)
        soft = cv2.GaussianBlur(layer, (0, 0), max(0.025 * geom.dd_px, 0.7)).astype(np.float32) * np.float32(1 / 255)
        _absorb(img, soft, _HAEM_TRANSMISSION)
    if exud:
        layer = _layer((h, w))
        for s in exud:
            _ellipse(layer, s.center, s.size, s.angle, s.value)
        alpha = cv2.GaussianBlur(layer, (0, 0), 0.5).astype(np.float32) * np.float32(1 / 255)
        # Waxy deposits vary in brightness from one to the next.
        shade = 1.0 + 0.08 * smooth_noise(rng, h, w, max(geom.dd_px * 0.05, 1.5))
        for c in range(3):
            img[..., c] += alpha * (_EXUDATE[c] * shade - img[..., c])


def paint_superficial(img: np.ndarray, plan: LesionPlan, geom: FieldGeometry, rng: np.random.Generator) -> None:
    """Flame haemorrhages, cotton-wool spots, IRMA, beading, new vessels, then pre-retinal and vitreous blood."""
    h, w = img.shape[:2]
    dd = geom.dd_px
    by_kind: dict[str, list[Shape]] = {}
    for s in plan.shapes:
        by_kind.setdefault(s.kind, []).append(s)
    if R.FLAME_HAEMORRHAGE in by_kind:
        layer = _layer((h, w))
        for s in by_kind[R.FLAME_HAEMORRHAGE]:
            _ellipse(layer, s.center, s.size, s.angle, s.value)
            # Feathered, splinter-like ends along the nerve fibres.
            a = np.deg2rad(s.angle)
            for k in (-1, 1):
                tip = (s.center[0] + k * np.cos(a) * s.size[0] * 0.9, s.center[1] + k * np.sin(a) * s.size[0] * 0.9)
                _ellipse(layer, tip, (s.size[0] * 0.45, s.size[1] * 0.35), s.angle, s.value * 0.6)
        soft = cv2.GaussianBlur(layer, (0, 0), max(0.012 * dd, 0.6)).astype(np.float32) * np.float32(1 / 255)
        _absorb(img, soft, _HAEM_TRANSMISSION * 1.1)
    if R.COTTON_WOOL_SPOT in by_kind:
        layer = _layer((h, w))
        for s in by_kind[R.COTTON_WOOL_SPOT]:
            _ellipse(layer, s.center, s.size, s.angle, s.value)
            for _ in range(3):
                off = rng.normal(0, 0.3, 2) * s.size[1]
                _ellipse(layer, (s.center[0] + off[0], s.center[1] + off[1]),
                         (s.size[0] * rng.uniform(0.4, 0.7), s.size[1] * rng.uniform(0.4, 0.8)), s.angle, s.value)
        alpha = cv2.GaussianBlur(layer, (0, 0), max(0.04 * dd, 0.8)).astype(np.float32) * np.float32(1 / 255)
        fluff = 0.85 + 0.2 * smooth_noise(rng, h, w, max(0.1 * dd, 2.0))
        _blend(img, np.clip(alpha * fluff, 0, 0.85), _COTTON_WOOL)
    fine = FineCanvas(geom)
    beads = FineCanvas(geom)
    has_fine = has_beads = False
    for kind in (R.IRMA, R.NVD, R.NVE):
        for s in by_kind.get(kind, []):
            for pts, widths in s.paths:
                fine.path(pts, widths, 230.0)
            has_fine = True
    for s in by_kind.get(R.VENOUS_BEADING, []):
        for centre, axes, ang in s.extra["beads"]:
            beads.ellipse(tuple(centre), axes, ang, 235.0)
        has_beads = True
    if has_beads:
        _absorb(img, beads.result(), _BEAD_TRANSMISSION)
    if has_fine:
        _absorb(img, fine.result(), _IRMA_TRANSMISSION)
    for s in by_kind.get(R.NVD, []):
        if s.extra["fibrous"] > 0:
            layer = _layer((h, w))
            _ellipse(layer, s.center, (s.extra["radius"] * 0.9, s.extra["radius"] * 0.7), rng.uniform(0, 180), 1.0)
            alpha = cv2.GaussianBlur(layer, (0, 0), 0.15 * dd).astype(np.float32) * np.float32(s.extra["fibrous"] / 255)
            _blend(img, alpha, _FIBROUS)
    if R.PRERETINAL_HAEMORRHAGE in by_kind:
        layer = _layer((h, w))
        for s in by_kind[R.PRERETINAL_HAEMORRHAGE]:
            _ellipse(layer, s.center, s.size, s.angle, 1.0)
            # Cut flat at the fluid level: horizontal in the image, because blood settles with gravity.
            cut_y = int(round(s.center[1] + s.extra["level"] * s.size[1]))
            x0, x1 = int(s.center[0] - s.size[0] * 1.2), int(s.center[0] + s.size[0] * 1.2)
            top = int(s.center[1] - s.size[0] * 1.2)
            layer[max(top, 0) : max(cut_y, 0), max(x0, 0) : max(x1, 0)] = 0
        alpha = cv2.GaussianBlur(layer, (0, 0), max(0.02 * dd, 0.7)).astype(np.float32) * np.float32(0.92 / 255)
        alpha *= np.clip(0.9 + 0.15 * smooth_noise(rng, h, w, max(0.08 * dd, 2.0)), 0.0, 1.0)
        _blend(img, alpha, _PRERETINAL)
        # Red cells settle: the lower part of the pool is darker than the plasma-rich top.
        for s in by_kind[R.PRERETINAL_HAEMORRHAGE]:
            y0, y1 = max(int(s.center[1] - s.size[0]), 0), min(int(s.center[1] + s.size[0]) + 1, h)
            if y1 <= y0:
                continue
            ys = np.arange(y0, y1, dtype=np.float32)
            darken = 0.35 * np.clip((ys - (s.center[1] - s.size[0] * 0.3)) / (1.3 * s.size[0]), 0, 1)
            img[y0:y1] *= 1.0 - alpha[y0:y1, :, None] * darken[:, None, None]
    if R.VITREOUS_HAEMORRHAGE in by_kind:
        layer = np.zeros((h, w), np.float32)
        for s in by_kind[R.VITREOUS_HAEMORRHAGE]:
            blob = _layer((h, w))
            _ellipse(blob, s.center, s.size, s.angle, 1.0)
            layer = np.maximum(layer, blob.astype(np.float32) * np.float32(s.value / 255))
        cloud = cv2.GaussianBlur(layer, (0, 0), 0.35 * dd)
        cloud *= np.clip(0.8 + 0.5 * smooth_noise(rng, h, w, 0.4 * dd), 0.2, 1.4)
        _blend(img, np.clip(cloud, 0, 0.85), _VITREOUS)
