"""The normal fundus without vessels: choroidal background and pigment, macula and fovea, optic disc and cup.

Colours are display-space RGB in 0..1 before the camera (`camera.py`) applies illumination, white balance, gamma
and noise. They were matched by eye and by measurement to resources/samples/normal_fundus_OS.jpg (mid fundus about
(0.81, 0.33, 0.24), fovea about (0.72, 0.17, 0.09), disc cup near white-yellow) and widened to cover blond,
tessellated (tigroid) and heavily pigmented fundi.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from training.fundus.geometry import FieldGeometry
from training.fundus.noise import fractal_noise, polar_noise, smooth_noise

# Fundus base colour from light (blond) to dark (heavily pigmented) fundi; interpolated by `pigment`.
_PIGMENT_STOPS = np.array(
    [
        [0.95, 0.52, 0.36],  # blond: orange, choroid shows through
        [0.86, 0.36, 0.26],  # average Caucasian fundus (the sample)
        [0.72, 0.29, 0.17],  # darker, browner
        [0.56, 0.25, 0.13],  # heavily pigmented: brown-red
    ],
    dtype=np.float32,
)
# Choroidal vessels seen through a thin RPE (tessellation) and the pigmented spaces between them.
_CHOROID_VESSEL = np.array([0.93, 0.43, 0.27], np.float32)
_CHOROID_GAP = np.array([0.60, 0.25, 0.14], np.float32)
# Macular pigment absorbs blue and green most; these are the fractional losses at the foveal centre.
_MACULA_LOSS = np.array([0.08, 0.34, 0.45], np.float32)
_FOVEA_LOSS = np.array([0.08, 0.32, 0.36], np.float32)
# Disc colours exceed 1: on real photographs the disc saturates the red channel (the sample's cup reads
# (254, 222, 159), its rim (254, 150-200, 100-130)).
_DISC_RIM = np.array([1.2, 0.76, 0.50], np.float32)
_DISC_PALE = np.array([1.2, 0.86, 0.60], np.float32)
_DISC_CUP = np.array([1.25, 1.02, 0.76], np.float32)


@dataclass(frozen=True)
class Appearance:
    """What makes one eye's fundus look like itself (shared by a patient's two eyes where it is a trait)."""

    pigment: float  # 0 blond .. 1 heavily pigmented
    tessellation: float  # 0 none .. 1 strongly tigroid (visible choroidal vessels)
    youth: float  # 0 old .. 1 young: strength of the macular and nerve-fibre light reflexes
    macula_strength: float  # how dark the macula is relative to the fundus
    cup_disc_ratio: float  # vertical cup/disc ratio
    disc_pallor: float  # 0 pink rim .. 1 pale rim
    ppa: float  # peripapillary atrophy / pigment crescent strength, 0 none
    arcade_height: float  # scale of the temporal arcades' distance from the fovea
    disc_size: float  # disc width / its nominal 1 DD (the disc is the unit, so this only shapes the oval)


def sample_appearance(rng: np.random.Generator, pigment: float | None = None) -> Appearance:
    """A random eye; pass `pigment` to keep a patient's pigmentation in both eyes."""
    if pigment is None:
        pigment = float(rng.beta(1.3, 2.0))
    # Tessellation shows through thin, lightly pigmented RPE (myopia, age); dark fundi rarely look tigroid.
    u = rng.random()
    if u < 0.5:
        tess = 0.0
    elif u < 0.85:
        tess = float(rng.uniform(0.0, 0.3) * (1.1 - pigment))
    else:
        tess = float(rng.uniform(0.3, 0.65) * (1.2 - 0.6 * pigment))
    return Appearance(
        pigment=float(pigment),
        tessellation=min(tess, 1.0),
        youth=float(rng.uniform(0.0, 1.0)),
        macula_strength=float(rng.uniform(0.8, 1.3)),
        cup_disc_ratio=float(rng.uniform(0.15, 0.6)),
        disc_pallor=float(rng.uniform(0.0, 0.6)),
        ppa=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.35 else 0.0,
        arcade_height=float(rng.uniform(0.85, 1.2)),
        disc_size=float(rng.uniform(0.9, 1.05)),
    )


def base_colour(pigment: float) -> np.ndarray:
    t = np.clip(pigment, 0.0, 1.0) * (len(_PIGMENT_STOPS) - 1)
    i = min(int(t), len(_PIGMENT_STOPS) - 2)
    f = t - i
    return (1 - f) * _PIGMENT_STOPS[i] + f * _PIGMENT_STOPS[i + 1]


def _retina_grid(geom: FieldGeometry, x0: int, y0: int, x1: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
    """Retina-frame coordinates (DD) of every pixel in the box [x0, x1) x [y0, y1)."""
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    inv = geom.inverse.astype(np.float32)
    dx, dy = gx - np.float32(geom.fovea[0]), gy - np.float32(geom.fovea[1])
    return inv[0, 0] * dx + inv[0, 1] * dy, inv[1, 0] * dx + inv[1, 1] * dy


def render_background(geom: FieldGeometry, app: Appearance, rng: np.random.Generator) -> np.ndarray:
    """Float32 (H, W, 3) fundus reflectance with choroidal texture, macula and fovea, but no disc or vessels."""
    h, w = geom.height, geom.width
    dd = geom.dd_px
    # Textures at half resolution: they are smooth, and this halves the cost of the biggest arrays.
    hs, ws = -(-h // 2), -(-w // 2)
    low = fractal_noise(rng, hs, ws, cell_px=dd * 1.2, octaves=3)
    # Choroidal vessels fan out from the posterior pole towards the vortex veins at the equator.
    pole = np.array(geom.to_px(np.array([[geom.disc_offset[0] * 0.5, 0.0]]))[0]) / 2.0
    chor = polar_noise(rng, hs, ws, (float(pole[0]), float(pole[1])), n_angle=int(rng.integers(40, 70)),
                       radial_cell_px=dd * 1.8 / 2)
    chor += 0.25 * smooth_noise(rng, hs, ws, dd * 0.5 / 2)
    # Zero crossings of the noise form a network of wavy, mostly radial bands: the choroidal vessels.
    vessels = _smoothstep(1.4, 0.2, np.abs(chor))
    r = geom.radius_map(scale=2)
    # Tessellation is most visible away from the macula, around the disc and in the periphery.
    fx, fy = np.array(geom.fovea) / 2.0
    yy, xx = np.mgrid[0:hs, 0:ws].astype(np.float32)
    dfov = np.sqrt((xx - fx) ** 2 + (yy - fy) ** 2) * (2.0 / dd)
    tess_w = app.tessellation * np.clip((dfov - 0.6) / 2.0, 0.0, 1.0)
    base = base_colour(app.pigment)
    img = np.empty((hs, ws, 3), np.float32)
    # The periphery is a little lighter (less macular pigment) and the retina around the disc brighter still
    # (the sample: (243, 113, 78) one disc diameter from the disc against (209, 80, 58) mid-periphery).
    dx_, dy_ = np.array(geom.disc) / 2.0
    ddisc = np.sqrt((xx - dx_) ** 2 + (yy - dy_) ** 2) * (2.0 / dd)
    shade = 1.0 + 0.05 * low + 0.05 * r * r + 0.16 * np.exp(-0.5 * (ddisc / 1.3) ** 2)
    for c in range(3):
        tess_c = _CHOROID_GAP[c] + (_CHOROID_VESSEL[c] - _CHOROID_GAP[c]) * vessels
        img[..., c] = (base[c] * (1.0 - tess_w) + tess_c * tess_w) * shade
    # Macula: a broad darkening and a small, darker foveal pit.
    sig_m = 0.5 + 0.25 * app.macula_strength / 1.3
    m = np.exp(-0.5 * (dfov / sig_m) ** 2) * app.macula_strength
    f = np.exp(-0.5 * (dfov / 0.16) ** 2)
    for c in range(3):
        img[..., c] *= (1.0 - _MACULA_LOSS[c] * m) * (1.0 - _FOVEA_LOSS[c] * f * app.macula_strength)
    if app.youth > 0.4:
        # Young retinas reflect light at the foveal pit and in a ring around the macula.
        ring = np.exp(-0.5 * ((dfov - rng.uniform(1.0, 1.4)) / 0.09) ** 2) * (app.youth - 0.4) * 0.07
        spot = np.exp(-0.5 * (dfov / 0.025) ** 2) * (app.youth - 0.4) * 0.35
        img += (ring + spot)[..., None] * np.array([0.9, 0.8, 0.8], np.float32)
    img = _resize(img, w, h)
    # Fine granular RPE mottling at full resolution.
    grain = smooth_noise(rng, h, w, max(1.2, dd / 45.0)) * np.float32(0.012)
    img *= (1.0 + grain)[..., None]
    return img


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)


def render_disc(img: np.ndarray, geom: FieldGeometry, app: Appearance, rng: np.random.Generator) -> None:
    """Paint the optic disc, cup, scleral ring and any peripapillary atrophy onto `img` in place."""
    h, w = img.shape[:2]
    dcx, dcy = geom.disc
    half = int(geom.dd_px * 1.3) + 2
    x0, y0 = max(int(dcx) - half, 0), max(int(dcy) - half, 0)
    x1, y1 = min(int(dcx) + half, w), min(int(dcy) + half, h)
    if x1 <= x0 or y1 <= y0:
        return
    u, v = _retina_grid(geom, x0, y0, x1, y1)
    u -= np.float32(geom.disc_offset[0])
    v -= np.float32(geom.disc_offset[1])
    # The disc is slightly taller than wide; r = 1 on its margin.
    rx, ry = 0.5 * app.disc_size, 0.5 * app.disc_size * rng.uniform(1.02, 1.12)
    ang = np.arctan2(v, u)
    wobble = 1.0 + 0.03 * np.sin(3 * ang + rng.uniform(0, 6.3)) + 0.02 * np.sin(5 * ang + rng.uniform(0, 6.3))
    r = np.sqrt((u / rx) ** 2 + (v / ry) ** 2) / wobble
    roi = img[y0:y1, x0:x1]
    tex = 1.0 + 0.05 * smooth_noise(rng, y1 - y0, x1 - x0, geom.dd_px * 0.12)
    edge = 0.04 + 0.03 * rng.random()
    disc_a = _smoothstep(1.0 + edge, 1.0 - edge, r)
    rim = _DISC_RIM * (1 - app.disc_pallor) + _DISC_PALE * app.disc_pallor
    # The rim is pinker nasally, where more nerve fibres enter (neuroretinal rim thickest nasal/inferior).
    nasal = np.clip(-u / rx, 0.0, 1.0) * 0.12
    for c in range(3):
        colour = rim[c] * tex * (1.0 - nasal * (0.0 if c == 0 else 1.0))
        roi[..., c] = roi[..., c] * (1 - disc_a) + colour * disc_a
    # Cup: a brighter, paler depression, usually a little temporal of centre, with a gradual slope.
    cu = u - rng.uniform(0.02, 0.09)
    cv_ = v - rng.uniform(-0.03, 0.03)
    cr = np.sqrt((cu / (rx * app.cup_disc_ratio * 0.95)) ** 2 + (cv_ / (ry * app.cup_disc_ratio)) ** 2)
    cup_a = _smoothstep(1.15, 0.6, cr) * rng.uniform(0.6, 0.9)
    for c in range(3):
        roi[..., c] = roi[..., c] * (1 - cup_a) + _DISC_CUP[c] * cup_a
    # Scleral ring: a thin pale line on the disc margin.
    ring = np.exp(-0.5 * ((r - 1.02) / 0.035) ** 2) * rng.uniform(0.0, 0.35)
    roi += ring[..., None] * np.array([0.25, 0.22, 0.18], np.float32)
    # Peripheral glow: light scattered in the tissue makes the retina just around the disc brighter.
    glow = np.exp(-0.5 * ((r - 1.0).clip(0) / 0.45) ** 2) * (r > 1.0) * 0.10
    roi *= 1.0 + glow[..., None]
    if app.ppa > 0:
        # Temporal crescent: pale atrophic zone with clumped pigment along its outer border.
        temporal = np.clip(np.cos(ang) * 1.6 - 0.4, 0.0, 1.0)
        width = rng.uniform(0.15, 0.45)
        zone = _smoothstep(1.0, 1.05, r) * _smoothstep(1.0 + width + 0.05, 1.0 + width, r) * temporal
        pig_noise = smooth_noise(rng, y1 - y0, x1 - x0, geom.dd_px * 0.05)
        pigment = np.exp(-0.5 * ((r - 1.0 - width * 0.8) / (0.06 + width * 0.3)) ** 2) * temporal
        pigment *= np.clip(0.6 + 0.6 * pig_noise, 0, 1.2)
        pale = zone * app.ppa * 0.5
        for c in range(3):
            roi[..., c] = roi[..., c] * (1 - pale) + np.float32([0.95, 0.72, 0.55][c]) * pale
        roi *= (1.0 - np.clip(pigment * app.ppa * 0.4, 0, 0.6))[..., None]


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)
