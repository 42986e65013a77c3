"""The retinal vessel tree: grown from the optic disc in the retina frame, then drawn as absorbance maps.

Four arcades leave the disc (superotemporal and inferotemporal arching around the macula, superonasal and
inferonasal), each an artery and a vein, plus thin nasal and macular vessels. Trunks follow jittered spline paths
through anatomical control points; branches are smooth random walks that thin at every split, stop at the foveal
avascular zone and leave the field of view. Veins are wider and darker than arteries; big vessels carry a
central light reflex, brighter on arteries.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from training.fundus.anatomy import Appearance
from training.fundus.geometry import FieldGeometry

_STEP = 0.05  # DD between path points
_MIN_WIDTH = 0.011  # DD; thinner vessels are invisible at fundus-camera resolution
_SS = 2  # vessels are drawn at twice the image resolution, then area-averaged, for smooth sub-pixel edges
# Fraction of light each vessel lets through at full density, per RGB channel: blood absorbs green and blue
# strongly; deoxygenated venous blood also absorbs more red, which is why veins look darker.
# Measured on the sample photograph: big veins keep ~85 % of the red, ~45 % of the green, ~60 % of the blue.
VEIN_TRANSMISSION = np.array([0.80, 0.36, 0.52], np.float32)
ARTERY_TRANSMISSION = np.array([0.93, 0.56, 0.70], np.float32)


@dataclass
class Vessel:
    """One unbranched vessel path in the retina frame."""

    points: np.ndarray  # (N, 2) DD
    widths: np.ndarray  # (N,) DD
    kind: str  # "artery" or "vein"
    level: int  # 0 for the trunks leaving the disc, +1 per branching


@dataclass
class VesselMaps:
    """Per-pixel vessel density (0..1) for arteries and veins, and the central light reflex."""

    artery: np.ndarray
    vein: np.ndarray
    reflex: np.ndarray

    def occupancy(self) -> np.ndarray:
        return np.maximum(self.artery, self.vein)


def _catmull_rom(ctrl: np.ndarray, step: float) -> np.ndarray:
    """Points every ~`step` along the Catmull-Rom spline through `ctrl` (K, 2)."""
    p = np.vstack([2 * ctrl[0] - ctrl[1], ctrl, 2 * ctrl[-1] - ctrl[-2]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        n = max(int(np.linalg.norm(p2 - p1) / step), 2)
        t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
        a2, a3 = 2 * p0 - 5 * p1 + 4 * p2 - p3, -p0 + 3 * p1 - 3 * p2 + p3
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + a2 * t**2 + a3 * t**3))
    out.append(ctrl[-1:])
    return np.vstack(out)


def _smooth_1d(rng: np.random.Generator, n: int, wavelength: int) -> np.ndarray:
    """Smooth random sequence of length n, unit-ish amplitude, features ~`wavelength` samples long."""
    k = n // max(wavelength, 1) + 3
    knots = rng.standard_normal(k)
    return np.interp(np.arange(n) / max(wavelength, 1), np.arange(k), knots)


def _wiggle(rng: np.random.Generator, pts: np.ndarray, amp: float) -> np.ndarray:
    """Displace a path sideways by smooth noise: vessel tortuosity."""
    if len(pts) < 4 or amp <= 0:
        return pts
    tan = np.gradient(pts, axis=0)
    tan /= np.linalg.norm(tan, axis=1, keepdims=True) + 1e-9
    normal = np.column_stack([-tan[:, 1], tan[:, 0]])
    off = _smooth_1d(rng, len(pts), int(rng.integers(10, 24))) * amp
    off[:3] *= np.array([0.0, 0.3, 0.7])  # stay attached at the root
    return pts + normal * off[:, None]


class _TreeBuilder:
    def __init__(self, rng: np.random.Generator, geom: FieldGeometry, max_level: int) -> None:
        self.rng = rng
        self.fov_c = geom.to_retina(np.array([geom.fov_center]))[0]
        self.fov_r = geom.fov_radius / geom.dd_px * 1.06
        self.disc = np.array(geom.disc_offset)
        self.faz = float(rng.uniform(0.28, 0.42))
        self.max_level = max_level
        self.vessels: list[Vessel] = []

    def _keep(self, pts: np.ndarray, level: int) -> int:
        """Number of leading points to keep: stop outside the field, in the foveal avascular zone, on the disc."""
        bad = np.hypot(*(pts - self.fov_c).T) > self.fov_r
        bad |= np.hypot(*pts.T) < self.faz
        if level > 0:
            bad[2:] |= np.hypot(*(pts[2:] - self.disc).T) < 0.45
        idx = np.flatnonzero(bad)
        return int(idx[0]) if len(idx) else len(pts)

    def add(self, pts: np.ndarray, w0: float, taper_to: float, kind: str, level: int) -> None:
        n = self._keep(pts, level)
        if n < 3:
            return
        pts = pts[:n]
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        total = max(s[-1], 1e-6)
        widths = w0 * (1.0 - (1.0 - taper_to) * s / max(total, 3.0))
        self._branch(pts, widths, s, kind, level)
        keep = widths >= _MIN_WIDTH * 0.7
        if keep.sum() >= 3:
            self.vessels.append(Vessel(pts[keep], widths[keep], kind, level))

    def _branch(self, pts: np.ndarray, widths: np.ndarray, s: np.ndarray, kind: str, level: int) -> None:
        if level >= self.max_level:
            return
        rng = self.rng
        spacing = (0.4, 0.95) if level == 0 else (0.35, 0.9)
        pos = rng.uniform(0.35, 0.8) if level == 0 else rng.uniform(0.25, 0.6)
        side = 1.0 if rng.random() < 0.5 else -1.0
        while pos < s[-1] - 0.2:
            i = int(np.searchsorted(s, pos))
            w_parent = widths[i]
            w_child = w_parent * rng.uniform(0.42, 0.75)
            if w_child < _MIN_WIDTH:
                break
            tan = pts[min(i + 1, len(pts) - 1)] - pts[max(i - 1, 0)]
            theta = np.arctan2(tan[1], tan[0]) + side * np.deg2rad(rng.uniform(30, 80))
            length = {0: (1.2, 4.5), 1: (0.6, 2.4)}.get(level, (0.4, 1.4))
            self.walk(pts[i], theta, w_child, float(rng.uniform(*length)), kind, level + 1)
            # The parent narrows after giving off a branch (Murray's law, roughly).
            widths[i:] *= (1.0 - (w_child / w_parent) ** 3) ** (1.0 / 3.0) * 0.15 + 0.85
            side = -side if rng.random() < 0.8 else side
            pos += rng.uniform(*spacing)

    def _target(self, start: np.ndarray, theta: float) -> float:
        """Direction a branch settles into. Retinal vessels fan out from the disc; temporally, branches that
        leave the arcades towards the macula converge on the fovea, the others run out to the periphery."""
        away_disc = start - self.disc
        if start[0] < self.disc[0] + 0.3:
            v = away_disc
        else:
            heading = np.array([np.cos(theta), np.sin(theta)])
            to_fovea = -start / (np.hypot(*start) + 1e-9)
            radial = away_disc / (np.hypot(*away_disc) + 1e-9)
            v = to_fovea if heading @ to_fovea > 0.2 else radial - 0.6 * to_fovea
        return float(np.arctan2(v[1], v[0]))

    def walk(self, start: np.ndarray, theta: float, w0: float, length: float, kind: str, level: int) -> None:
        """A branch: from `start` heading `theta`, turning smoothly towards `_target`, with gentle meander."""
        rng = self.rng
        target = self._target(start, theta)
        taper = rng.uniform(0.45, 0.75)
        to_fovea = -start / (np.hypot(*start) + 1e-9)
        if start[0] > self.disc[0] + 0.3 and np.cos(target) * to_fovea[0] + np.sin(target) * to_fovea[1] > 0.9:
            # Macular branches are short and fade to capillaries before the foveal avascular zone.
            length = min(length, rng.uniform(1.0, 2.2))
            taper = rng.uniform(0.3, 0.5)
        n = max(int(length / _STEP), 3)
        turn = (target - theta + np.pi) % (2 * np.pi) - np.pi
        s = np.arange(1, n + 1) * _STEP
        steer = 0.8 * turn * (1.0 - np.exp(-s / rng.uniform(0.3, 0.8)))
        curvature = _smooth_1d(rng, n, int(rng.integers(5, 12))) * rng.uniform(0.015, 0.045)
        angles = theta + steer + np.cumsum(curvature)
        steps = np.column_stack([np.cos(angles), np.sin(angles)]) * _STEP
        pts = start + np.vstack([[0.0, 0.0], np.cumsum(steps, axis=0)])
        self.add(pts, w0, taper, kind, level)


def grow_vessel_tree(
    rng: np.random.Generator, geom: FieldGeometry, app: Appearance, max_level: int = 3
) -> list[Vessel]:
    """Every vessel of one eye, in the retina frame (fovea at the origin, DD units, +x temporal, +y superior)."""
    b = _TreeBuilder(rng, geom, max_level)
    d = np.array(geom.disc_offset)
    hgt = app.arcade_height
    vein_w = rng.uniform(0.072, 0.092)
    trunks = [
        # (control points, width factor)
        (
            [d + (0.0, 0.12), d + (0.12, 0.6), (-1.5, 1.75 * hgt), (-0.2, 2.15 * hgt), (1.4, 2.1 * hgt),
             (3.0, 1.7 * hgt), (4.8, 1.3 * hgt), (6.8, 1.0 * hgt)],
            1.0,
        ),
        (
            [d + (0.0, -0.12), d + (0.12, -0.6), (-1.5, -1.85 * hgt), (-0.2, -2.25 * hgt), (1.4, -2.2 * hgt),
             (3.0, -1.8 * hgt), (4.8, -1.4 * hgt), (6.8, -1.1 * hgt)],
            1.0,
        ),
        ([d + (-0.02, 0.08), d + (-0.2, 0.6), d + (-0.9, 1.6), d + (-2.2, 2.5), d + (-4.0, 3.2)], 0.72),
        ([d + (-0.02, -0.08), d + (-0.2, -0.6), d + (-0.9, -1.6), d + (-2.2, -2.5), d + (-4.0, -3.2)], 0.72),
    ]
    for ctrl, factor in trunks:
        ctrl = np.array(ctrl, dtype=np.float64)
        for kind in ("vein", "artery"):
            c = ctrl.copy()
            c[2:] += rng.normal(0.0, 0.16, size=c[2:].shape)
            if kind == "artery":
                # Arteries run beside their veins, a little inside or outside, crossing now and then; on the
                # disc they emerge beside the vein from the cup.
                c[2:, 1] += np.sign(c[2:, 1] - d[1]) * rng.uniform(-0.35, 0.35)
                c[0, 0] += rng.choice([-1.0, 1.0]) * rng.uniform(0.08, 0.16)
                c[1] += rng.normal(0.0, 0.08, size=2)
            else:
                c[0] += rng.normal(0.0, 0.03, size=2)
            path = _catmull_rom(c, _STEP)
            # Jittered control points can kink the spline; a moving average irons kinks out.
            k = np.ones(9) / 9.0
            padded = np.pad(path, ((4, 4), (0, 0)), mode="edge")
            path = np.column_stack([np.convolve(padded[:, 0], k, "valid"), np.convolve(padded[:, 1], k, "valid")])
            pts = _wiggle(rng, path, rng.uniform(0.01, 0.035) * (1.4 if kind == "vein" else 1.0))
            w0 = vein_w * factor * (1.0 if kind == "vein" else rng.uniform(0.66, 0.78))
            b.add(pts, w0, rng.uniform(0.35, 0.5), kind, 0)
    # Thin vessels leaving the disc nasally and towards the macula.
    for _ in range(int(rng.integers(1, 4))):
        kind = "artery" if rng.random() < 0.5 else "vein"
        b.walk(d + rng.normal(0, 0.05, 2), np.pi + rng.normal(0, 0.5), vein_w * rng.uniform(0.3, 0.5),
               rng.uniform(2.0, 4.0), kind, 1)
    for _ in range(int(rng.integers(1, 4))):
        kind = "artery" if rng.random() < 0.5 else "vein"
        b.walk(d + (0.2, rng.normal(0, 0.15)), rng.normal(0, 0.35), vein_w * rng.uniform(0.25, 0.42),
               rng.uniform(1.2, 2.4), kind, 2)
    return b.vessels


class FineCanvas:
    """A density map drawn at twice the image resolution and area-averaged down: smooth sub-pixel vessels."""

    def __init__(self, geom: FieldGeometry) -> None:
        self.geom = geom
        self.data = np.zeros((geom.height * _SS, geom.width * _SS), np.uint8)

    def points(self, pts_dd: np.ndarray) -> np.ndarray:
        """Retina-frame points -> int32 canvas coordinates with 2 fractional bits (cv2 `shift=2`)."""
        px = self.geom.to_px(pts_dd) * _SS + (_SS - 1) / 2.0
        return np.round(px * 4).astype(np.int32)

    def path(self, pts_dd: np.ndarray, widths_dd: np.ndarray, value: float | np.ndarray = 255.0) -> None:
        """Polyline whose thickness follows `widths_dd`: one cv2 call per run of equal thickness."""
        self.draw_profile(self.points(pts_dd), np.asarray(widths_dd) * self.geom.dd_px * _SS, value)

    def draw_profile(self, pts: np.ndarray, width_px: np.ndarray, value: float | np.ndarray) -> None:
        if len(pts) < 2:
            return
        thick = np.maximum(np.round(width_px).astype(np.int32), 1)
        # Below one canvas pixel, thinness shows as faintness.
        val = np.broadcast_to(np.asarray(value, np.float64), width_px.shape) * np.minimum(width_px, 1.0)
        q = np.round(val / 16).astype(np.int32)  # runs also break where faintness changes noticeably
        change = np.flatnonzero((np.diff(thick) != 0) | (np.diff(q) != 0)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(pts) - 1]])
        for a, e in zip(starts, ends, strict=True):
            if e > a:
                cv2.polylines(self.data, [pts[a : e + 1]], False, float(val[a]), int(thick[a]), cv2.LINE_AA, 2)

    def ellipse(
        self, center_px: tuple[float, float], axes_px: tuple[float, float], angle_deg: float, value: float
    ) -> None:
        c = (round((center_px[0] * _SS + (_SS - 1) / 2.0) * 4), round((center_px[1] * _SS + (_SS - 1) / 2.0) * 4))
        axes = (max(round(axes_px[0] * _SS * 4), 1), max(round(axes_px[1] * _SS * 4), 1))
        cv2.ellipse(self.data, c, axes, angle_deg, 0, 360, float(value), -1, cv2.LINE_AA, 2)

    def result(self) -> np.ndarray:
        """Float32 (H, W) density, 0..1."""
        small = cv2.resize(self.data, (self.geom.width, self.geom.height), interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) * np.float32(1.0 / 255.0)


def render_vessel_maps(vessels: list[Vessel], geom: FieldGeometry) -> VesselMaps:
    """Draw every vessel into density maps at the image's resolution (H, W), values 0..1."""
    art, vein, reflex = FineCanvas(geom), FineCanvas(geom), FineCanvas(geom)
    prepared = []
    for v in vessels:
        canvas = vein if v.kind == "vein" else art
        wpx = v.widths * geom.dd_px * _SS
        # Wider vessels hold more blood along the light path, so they absorb more.
        density = np.clip(0.25 + 8.0 * v.widths, 0.25, 0.95) * 255.0
        prepared.append((v, canvas, canvas.points(v.points), wpx, density))
    # Pass order matters: cores drawn after all bodies so a thin vessel crossing a trunk does not notch it.
    for _, canvas, pts, wpx, density in prepared:
        canvas.draw_profile(pts, wpx, density)
    for _, canvas, pts, wpx, _ in prepared:
        wide = wpx >= 3.0  # a prefix: widths only shrink along a vessel
        if wide.sum() >= 2:
            canvas.draw_profile(pts[wide], wpx[wide] * 0.5, 255.0)
    for v, _, pts, wpx, _ in prepared:
        big = wpx >= 5.0
        if big.sum() >= 2:
            strength = (255.0 if v.kind == "artery" else 150.0) * np.clip((wpx[big] - 5.0) / 4.0, 0.0, 1.0)
            reflex.draw_profile(pts[big], np.maximum(wpx[big] * 0.2, 1.0), strength)
    return VesselMaps(art.result(), vein.result(), reflex.result())


def composite_vessels(img: np.ndarray, maps: VesselMaps, reflex_strength: float) -> None:
    """Apply vessel absorbance and reflex to `img` (H, W, 3) in place."""
    a, v = maps.artery, maps.vein
    for c in range(3):
        img[..., c] *= (1.0 - a * (1.0 - ARTERY_TRANSMISSION[c])) * (1.0 - v * (1.0 - VEIN_TRANSMISSION[c]))
    if reflex_strength > 0:
        img += (maps.reflex * reflex_strength)[..., None] * np.array([0.30, 0.22, 0.20], np.float32)
