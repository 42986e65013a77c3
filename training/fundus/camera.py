"""Acquisition: what a fundus camera does to the retina's light before the file is written.

`sample_camera` draws one camera set-up from a family: "train" covers the ranges training should see,
"heldout" is a different family (other colour casts, wider field, stronger compression, in-camera sharpening,
different frame shape) kept apart so evaluation can measure generalisation to an unseen camera. Some ranges
are disjoint by design: white balance green/red gain ratio below 1.22 (train) against above 1.27 (heldout),
JPEG quality 60-95 against 40-59, disc diameter / aperture radius 0.22-0.30 against 0.17-0.22.

`apply_camera` applies lens flare / haze, then exposure, white balance and saturation (one colour matrix), then
illumination (vignetting, uneven illumination, eyelash shadows), dust on the optics and the aperture's black
surround (one map), defocus blur, sensor resolution, sensor noise, the tone curve (gamma), in-camera sharpening,
and JPEG compression.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from training.fundus.geometry import FieldGeometry

FAMILIES = ("train", "heldout")
SIZE_RANGE = (384, 1024)


@dataclass(frozen=True)
class CameraParams:
    family: str
    width: int  # output width in px; the height is width * aspect
    aspect: float  # height / width
    fov_fill: float  # aperture radius / half the width
    clip: float | None  # frame height cuts the aperture at this fraction of its radius above and below the centre
    notch_angle: float | None  # degrees, position of the aperture's orientation notch
    dd_ratio: float  # optic disc diameter / aperture radius (about 0.27 for a 45-degree camera)
    rotation_deg: float
    white_balance: tuple[float, float, float]
    exposure: float
    gamma: float
    saturation: float
    vignette: float
    vignette_power: float
    vignette_offset: tuple[float, float]  # illumination centre offset, in aperture radii
    gradient: float  # strength of a linear illumination gradient across the field
    gradient_angle: float
    blur_sigma: float  # defocus, px at 512 px width
    noise: float  # sensor noise standard deviation, 0..1 scale
    chroma_noise: float
    resolution: float  # effective sensor resolution / output resolution (1 = full)
    sharpen: float  # in-camera unsharp-mask amount
    haze: float  # lens flare / corneal reflex strength
    haze_kind: str  # "centre", "edge" or "ring"
    haze_angle: float
    dust: int  # dust specks on the optics
    eyelash: float  # eyelash shadow strength
    jpeg_quality: int | None  # None: written without JPEG compression

    def to_dict(self) -> dict:
        return asdict(self)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _either(rng: np.random.Generator, a: tuple[float, float], b: tuple[float, float]) -> float:
    return _u(rng, *(a if rng.random() < 0.5 else b))


def sample_camera(rng: np.random.Generator, family: str = "train", size: int | None = None) -> CameraParams:
    """One camera set-up from `family`; `size` fixes the output width, None draws one from SIZE_RANGE."""
    if family not in FAMILIES:
        raise ValueError(f"camera family must be one of {FAMILIES}, not {family!r}")
    width = int(size) if size is not None else int(rng.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1))
    if width < 64:
        raise ValueError(f"image size must be at least 64 px, not {width}")
    if family == "train":
        return CameraParams(
            family=family,
            width=width,
            aspect=1.0 if rng.random() < 0.55 else _u(rng, 0.70, 0.92),
            fov_fill=_u(rng, 0.88, 0.99),
            clip=_u(rng, 0.80, 0.95) if rng.random() < 0.2 else None,
            notch_angle=_either(rng, (20, 70), (110, 160)) if rng.random() < 0.15 else None,
            dd_ratio=_u(rng, 0.22, 0.30),
            rotation_deg=float(np.clip(rng.normal(0, 4), -12, 12)),
            white_balance=(_u(rng, 0.92, 1.08), _u(rng, 0.85, 1.12), _u(rng, 0.75, 1.15)),
            exposure=float(np.exp(rng.uniform(np.log(0.85), np.log(1.35)))),
            gamma=_u(rng, 0.85, 1.2),
            saturation=_u(rng, 0.85, 1.2),
            vignette=_u(rng, 0.1, 0.4),
            vignette_power=_u(rng, 2.0, 4.0),
            vignette_offset=(float(rng.normal(0, 0.08)), float(rng.normal(0, 0.08))),
            gradient=_u(rng, 0.0, 0.25),
            gradient_angle=_u(rng, 0, 360),
            blur_sigma=_u(rng, 0.3, 1.1) if rng.random() < 0.5 else 0.0,
            noise=_u(rng, 0.002, 0.01),
            chroma_noise=_u(rng, 0.0, 0.005),
            resolution=_u(rng, 0.6, 0.9) if rng.random() < 0.3 else 1.0,
            sharpen=0.0,
            haze=_u(rng, 0.05, 0.25) if rng.random() < 0.2 else 0.0,
            haze_kind="centre" if rng.random() < 0.5 else "edge",
            haze_angle=_u(rng, 0, 360),
            dust=int(rng.integers(1, 6)) if rng.random() < 0.25 else 0,
            eyelash=_u(rng, 0.2, 0.5) if rng.random() < 0.08 else 0.0,
            jpeg_quality=int(rng.integers(60, 96)) if rng.random() < 0.8 else None,
        )
    return CameraParams(
        family=family,
        width=width,
        aspect=1.0 if rng.random() < 0.3 else _u(rng, 0.62, 0.75),
        fov_fill=_u(rng, 0.80, 0.90),
        clip=_u(rng, 0.75, 0.86) if rng.random() < 0.5 else None,
        notch_angle=_either(rng, (-70, -20), (200, 250)) if rng.random() < 0.5 else None,
        dd_ratio=_u(rng, 0.17, 0.22),
        rotation_deg=float(np.clip(rng.normal(0, 6), -15, 15)),
        white_balance=(_u(rng, 0.78, 0.90), _u(rng, 1.15, 1.35), _u(rng, 0.90, 1.35)),
        exposure=_either(rng, (0.6, 0.75), (1.3, 1.5)),
        gamma=_either(rng, (0.72, 0.85), (1.2, 1.35)),
        saturation=_u(rng, 0.6, 0.85),
        vignette=_u(rng, 0.35, 0.55),
        vignette_power=_u(rng, 1.5, 2.5),
        vignette_offset=(float(rng.normal(0, 0.15)), float(rng.normal(0, 0.15))),
        gradient=_u(rng, 0.2, 0.4),
        gradient_angle=_u(rng, 0, 360),
        blur_sigma=_u(rng, 0.6, 1.3),
        noise=_u(rng, 0.01, 0.025),
        chroma_noise=_u(rng, 0.006, 0.015),
        resolution=_u(rng, 0.45, 0.65),
        sharpen=_u(rng, 0.4, 1.0),
        haze=_u(rng, 0.1, 0.3) if rng.random() < 0.5 else 0.0,
        haze_kind=str(rng.choice(["centre", "edge", "ring"])),
        haze_angle=_u(rng, 0, 360),
        dust=int(rng.integers(3, 11)) if rng.random() < 0.5 else 0,
        eyelash=_u(rng, 0.3, 0.6) if rng.random() < 0.2 else 0.0,
        jpeg_quality=int(rng.integers(40, 60)),
    )


def frame_size(cam: CameraParams) -> tuple[int, int, float]:
    """(width, height, aperture radius) in px. The aperture fits the width; a wide frame, or `clip`, cuts it at the
    top and bottom (never by more than ~22 % of its radius), as on many cameras."""
    width = cam.width
    height = int(round(width * cam.aspect))
    radius = min(width / 2 * cam.fov_fill, height / 2 / 0.78)
    if cam.clip is not None:
        height = min(height, int(round(2 * cam.clip * radius)))
    return width, height, radius


def _illumination(geom: FieldGeometry, cam: CameraParams, rng: np.random.Generator) -> np.ndarray:
    """Float32 (H, W) illumination: vignetting, gradient and eyelash shadows, computed at 1/4 size (it is smooth)."""
    q = 4
    hs, ws = -(-geom.height // q), -(-geom.width // q)
    cx = geom.fov_center[0] + cam.vignette_offset[0] * geom.fov_radius
    cy = geom.fov_center[1] + cam.vignette_offset[1] * geom.fov_radius
    xs = (np.arange(ws, dtype=np.float32) * q - cx) / geom.fov_radius
    ys = (np.arange(hs, dtype=np.float32) * q - cy) / geom.fov_radius
    r = np.sqrt(xs[None, :] ** 2 + ys[:, None] ** 2)
    a = np.deg2rad(cam.gradient_angle)
    illum = (1.0 - cam.vignette * np.clip(r, 0, 1.3) ** cam.vignette_power) * (
        1.0 + cam.gradient * (np.cos(a) * xs[None, :] + np.sin(a) * ys[:, None])
    )
    if cam.eyelash > 0:
        # Eyelashes near the lens: a few dark, out-of-focus curved bands entering from the top or bottom.
        shadow: np.ndarray = np.zeros((hs, ws), np.uint8)
        top = rng.random() < 0.65
        for _ in range(int(rng.integers(2, 6))):
            x0 = rng.uniform(0.1, 0.9) * ws
            y0 = 0 if top else hs - 1
            length = rng.uniform(0.2, 0.45) * hs
            bend = rng.uniform(-0.3, 0.3) * length
            t = np.linspace(0, 1, 12)
            xsl = x0 + bend * t**2 + rng.uniform(-0.15, 0.15) * length * t
            ysl = y0 + (1 if top else -1) * length * t
            pts = np.round(np.column_stack([xsl, ysl])).astype(np.int32)
            cv2.polylines(shadow, [pts], False, 255, max(int(geom.fov_radius / q * rng.uniform(0.03, 0.07)), 1))
        shadow = cv2.GaussianBlur(shadow, (0, 0), geom.fov_radius / q * 0.05)
        illum *= 1.0 - cam.eyelash * shadow.astype(np.float32) / 255.0
    return cv2.resize(illum.astype(np.float32), (geom.width, geom.height), interpolation=cv2.INTER_LINEAR)


def _haze(geom: FieldGeometry, cam: CameraParams, rng: np.random.Generator) -> np.ndarray:
    """Float32 (H, W, 3) additive flare: a corneal/objective reflex near the centre, an edge crescent or a ring."""
    q = 4
    hs, ws = -(-geom.height // q), -(-geom.width // q)
    a = np.deg2rad(cam.haze_angle)
    xs = (np.arange(ws, dtype=np.float32) * q - geom.fov_center[0]) / geom.fov_radius
    ys = (np.arange(hs, dtype=np.float32) * q - geom.fov_center[1]) / geom.fov_radius
    gx, gy = np.meshgrid(xs, ys)
    if cam.haze_kind == "centre":
        ox, oy = rng.normal(0, 0.15, 2)
        sig = rng.uniform(0.12, 0.35)
        field = np.exp(-0.5 * ((gx - ox) ** 2 + (gy - oy) ** 2) / sig**2)
        colour = np.array([0.75, 0.85, 1.0], np.float32)
    elif cam.haze_kind == "edge":
        r = np.sqrt(gx**2 + gy**2)
        toward = np.clip(np.cos(np.arctan2(gy, gx) - a), 0, 1) ** 2
        field = np.exp(-0.5 * ((r - 1.0) / rng.uniform(0.12, 0.25)) ** 2) * toward
        colour = np.array([1.0, 0.9, 0.65], np.float32)
    else:
        r = np.sqrt(gx**2 + gy**2)
        field = np.exp(-0.5 * ((r - rng.uniform(0.4, 0.7)) / 0.06) ** 2) * 0.6
        colour = np.array([0.8, 0.9, 1.0], np.float32)
    field = cv2.resize(field.astype(np.float32), (geom.width, geom.height), interpolation=cv2.INTER_LINEAR)
    return field[..., None] * (colour * cam.haze)


def _dust(geom: FieldGeometry, cam: CameraParams, rng: np.random.Generator) -> np.ndarray:
    """Float32 (H, W) transmission of dust specks: soft grey blobs, out of focus, bigger than microaneurysms."""
    layer = np.zeros((geom.height, geom.width), np.uint8)
    for _ in range(cam.dust):
        rad = geom.fov_radius * 0.9 * np.sqrt(rng.random())
        ang = rng.uniform(0, 2 * np.pi)
        c = (int(geom.fov_center[0] + rad * np.cos(ang)), int(geom.fov_center[1] + rad * np.sin(ang)))
        size = max(int(geom.fov_radius * rng.uniform(0.015, 0.04)), 2)
        cv2.circle(layer, c, size, int(rng.integers(25, 90)), -1, cv2.LINE_AA)
    soft = cv2.GaussianBlur(layer, (0, 0), max(geom.fov_radius * 0.018, 1.0))
    return 1.0 - soft.astype(np.float32) / 255.0


def apply_camera(img: np.ndarray, geom: FieldGeometry, cam: CameraParams, rng: np.random.Generator) -> np.ndarray:
    """Float32 (H, W, 3) retina reflectance -> uint8 RGB photograph as the camera would write it.

    `img` may be modified in place.
    """
    h, w = img.shape[:2]
    scale = w / 512.0
    # Everything that scales a pixel equally in all channels, as one map.
    light = _illumination(geom, cam, rng) * geom.aperture_mask()
    if cam.dust > 0:
        light *= _dust(geom, cam, rng)
    if cam.haze > 0:
        img += _haze(geom, cam, rng)
    # Exposure, white balance and saturation are one 3x3 colour matrix.
    lum = np.array([0.299, 0.587, 0.114], np.float32)
    sat = np.float32(cam.saturation)
    matrix = (sat * np.eye(3, dtype=np.float32) + (1 - sat) * np.outer(np.ones(3, np.float32), lum))
    matrix = matrix @ np.diag(np.asarray(cam.white_balance, np.float32) * np.float32(cam.exposure))
    img = np.asarray(cv2.transform(img, matrix), np.float32)
    img *= light[..., None]
    if cam.blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), cam.blur_sigma * scale)
    if cam.resolution < 0.999:
        small = cv2.resize(img, (max(int(w * cam.resolution), 8), max(int(h * cam.resolution), 8)),
                           interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    # Sensor noise, before the tone curve as in a real camera: luminance plus coarser colour noise.
    noise = rng.standard_normal((h, w), dtype=np.float32) * np.float32(cam.noise)
    img += noise[..., None]
    if cam.chroma_noise > 0:
        chroma = rng.standard_normal((max(h // 2, 1), max(w // 2, 1), 3), dtype=np.float32)
        img += cv2.resize(chroma * np.float32(cam.chroma_noise), (w, h), interpolation=cv2.INTER_LINEAR)
    # Quantise, then the tone curve through a lookup table (np.power per pixel would cost more than all else).
    out = cv2.convertScaleAbs(img, alpha=255.0)  # |x| then saturate: values are >= 0 but for noise in the black
    lut = np.clip(np.round(255.0 * (np.arange(256) / 255.0) ** cam.gamma), 0, 255).astype(np.uint8)
    out = cv2.LUT(out, lut)
    if cam.sharpen > 0:
        soft = cv2.GaussianBlur(out, (0, 0), 1.2 * scale)
        out = cv2.addWeighted(out, 1.0 + cam.sharpen, soft, -cam.sharpen, 0.0)
    if cam.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(cam.jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if decoded is None:
            raise RuntimeError("JPEG decoding failed")
        out = decoded[..., ::-1]
    return np.ascontiguousarray(out)
