"""The real normal photograph (resources/samples/normal_fundus_OS.jpg, CC0) as a background for painted lesions,
so a model trained on the generator also sees genuine retinal texture, vessels and optic disc.

Each use takes a random circular crop of the photograph's field of view, mirrors it for a right eye, rotates and
scales it into the output camera's aperture and varies its colour; lesions are then painted with the same code
as on synthetic backgrounds, using the photograph's measured anatomy below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from training.fundus.camera import CameraParams, frame_size
from training.fundus.geometry import FieldGeometry
from training.fundus.vessels import Vessel

SAMPLE_PATH = Path(__file__).resolve().parents[2] / "resources" / "samples" / "normal_fundus_OS.jpg"

# Anatomy of the sample (1411 x 1411 px), measured once by hand and by simple image analysis:
# - field of view: bounding box of pixels brighter than 30 in any channel is x 8..1400, y 6..1400;
# - optic disc: the edges of the bright disc on a 1:1 crop with a 50 px grid (x ~125..325, y ~550..750),
#   which also matches the bright blob's connected component (x 187..315 plus the vessel-covered nasal part);
# - fovea: minimum of the green channel blurred with sigma 20 px within the central 600 px, at (707, 704).
SAMPLE_FOV_CENTER = (704.0, 703.0)
SAMPLE_FOV_RADIUS = 696.0
SAMPLE_DISC = (228.0, 652.0)
SAMPLE_DD = 190.0
SAMPLE_FOVEA = (707.0, 704.0)
# The sample's disc in its own retina frame: 2.52 DD nasal and 0.27 DD above the fovea (rotation 0 by definition).
SAMPLE_DISC_OFFSET = ((SAMPLE_DISC[0] - SAMPLE_FOVEA[0]) / SAMPLE_DD, -(SAMPLE_DISC[1] - SAMPLE_FOVEA[1]) / SAMPLE_DD)
# Centre lines of the two major temporal veins (width ~11 px): hand-placed way points snapped to the darkest
# green-channel line within 12 px across the vessel, checked on an overlay; stretches where the trace jumped at
# crossings are left out.
SAMPLE_VEINS = (
    [(332, 368), (356, 350), (380, 332), (404, 324), (431, 327), (461, 323), (491, 323), (521, 323), (550, 330),
     (579, 337), (609, 338), (639, 341), (668, 345), (697, 356), (722, 372), (745, 390), (771, 406), (798, 419),
     (827, 423), (857, 423), (887, 427), (916, 435), (946, 435), (976, 432), (1005, 426), (1033, 415), (1060, 402),
     (1086, 388), (1116, 387), (1144, 381)],
    [(173, 747), (181, 776), (192, 804), (200, 832), (210, 861), (224, 887), (237, 914), (250, 941), (258, 970),
     (263, 999)],
    [(363, 1150), (390, 1163), (417, 1178), (442, 1193), (469, 1205), (499, 1208), (529, 1212), (558, 1213),
     (586, 1216), (615, 1223), (645, 1225), (674, 1229), (704, 1229), (734, 1227), (764, 1221), (793, 1217),
     (822, 1223), (852, 1227), (882, 1229), (912, 1230), (942, 1232), (972, 1231), (1002, 1229), (1031, 1222),
     (1058, 1209), (1084, 1195), (1112, 1185), (1141, 1175), (1168, 1162), (1195, 1149)],
)
SAMPLE_VEIN_WIDTH_PX = 11.0
# Crops stay inside this fraction of the sample's aperture: its rim is vignetted and carries a notch.
_SAFE_RADIUS = 0.92


@lru_cache(maxsize=1)
def _pyramid() -> tuple[tuple[float, np.ndarray, np.ndarray], ...]:
    """The sample's pyramid, loaded once per process."""
    bgr = cv2.imread(str(SAMPLE_PATH), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"real background photograph not found: {SAMPLE_PATH}")
    return pyramid(np.ascontiguousarray(bgr[..., ::-1]))


def _resample(points: np.ndarray, step: float) -> np.ndarray:
    seg = np.hypot(*np.diff(points, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.arange(0.0, s[-1], step)
    return np.column_stack([np.interp(t, s, points[:, 0]), np.interp(t, s, points[:, 1])])


def vessel_density(rgb: np.ndarray) -> np.ndarray:
    """Where the vessels are, 0..1: black top-hat of the green channel (dark, thin structures), for keeping
    lesions off them."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (23, 23))
    hat = cv2.morphologyEx(cv2.GaussianBlur(rgb[..., 1].copy(), (0, 0), 1.5), cv2.MORPH_BLACKHAT, kernel)
    return np.clip((hat.astype(np.float32) - 6.0) / 10.0, 0.0, 1.0)


def pyramid(rgb: np.ndarray) -> tuple[tuple[float, np.ndarray, np.ndarray], ...]:
    """(scale, float32 RGB 0..1, vessel density) at full, 1/2 and 1/4 size."""
    vessels = vessel_density(rgb)
    img: np.ndarray = rgb.astype(np.float32) * np.float32(1.0 / 255.0)
    levels = []
    scale = 1.0
    for _ in range(3):
        levels.append((scale, img, vessels))
        size = (img.shape[1] // 2, img.shape[0] // 2)
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        vessels = cv2.resize(vessels, size, interpolation=cv2.INTER_AREA)
        scale /= 2.0
    return tuple(levels)


@dataclass(frozen=True)
class PhotoAnatomy:
    """A real photograph's aperture and anatomy, in its own pixels; rotation 0 by definition."""

    eye: str
    fov_center: tuple[float, float]
    fov_radius: float
    fovea: tuple[float, float]
    dd_px: float
    disc_offset: tuple[float, float]  # retina frame, DD


SAMPLE_ANATOMY = PhotoAnatomy("OS", SAMPLE_FOV_CENTER, SAMPLE_FOV_RADIUS, SAMPLE_FOVEA, SAMPLE_DD, SAMPLE_DISC_OFFSET)


def warp_photograph(
    rng: np.random.Generator, cam: CameraParams, eye: str, levels, anatomy: PhotoAnatomy,
    crop: tuple[float, float] = (0.8, 0.91),
) -> tuple[np.ndarray, FieldGeometry, np.ndarray, np.ndarray]:
    """A varied crop of a real photograph in the camera's frame: (float32 RGB, geometry, vessel occupancy, the
    linear map from the photograph's pixels to the output's, with its offset as a 2x3 matrix)."""
    width, height, radius = frame_size(cam)
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    src_r = rng.uniform(*crop) * anatomy.fov_radius
    room = max(_SAFE_RADIUS * anatomy.fov_radius - src_r, 0.0)
    off_r, off_a = room * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
    src_c = np.array(anatomy.fov_center) + off_r * np.array([np.cos(off_a), np.sin(off_a)])
    scale = radius / src_r
    # On-screen counter-clockwise rotation, as in FieldGeometry; the other eye is this one mirrored.
    t = np.deg2rad(cam.rotation_deg)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    mirror = np.diag([-1.0, 1.0]) if eye != anatomy.eye else np.eye(2)
    lin = scale * rot @ mirror
    to_out = np.hstack([lin, (np.array(centre) - lin @ src_c)[:, None]])
    # Warp from the pyramid level closest above the output scale: downscaling by warpAffine alone would alias.
    level_scale, src, vessel_src = next((lv for lv in reversed(levels) if lv[0] >= scale * 0.99), levels[0])
    m = np.hstack([lin / level_scale, to_out[:, 2:]])
    img: np.ndarray = cv2.warpAffine(src, m, (width, height), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT)
    occupancy = cv2.warpAffine(vessel_src, m, (width, height), flags=cv2.INTER_LINEAR)
    # Colour and pigmentation changes a different eye or patient would show.
    gains = np.array([rng.uniform(0.88, 1.04), rng.uniform(0.78, 1.15), rng.uniform(0.72, 1.2)], np.float32)
    img *= gains * np.float32(rng.uniform(0.8, 1.05))
    fovea = np.array(anatomy.fovea) @ lin.T + to_out[:, 2]
    geom = FieldGeometry(
        width=width,
        height=height,
        eye=eye,
        fov_center=centre,
        fov_radius=radius,
        notch_angle_deg=cam.notch_angle,
        fovea=(float(fovea[0]), float(fovea[1])),
        dd_px=anatomy.dd_px * scale,
        rotation_deg=cam.rotation_deg,
        disc_offset=anatomy.disc_offset,
    )
    return img, geom, occupancy, to_out


def real_background(
    rng: np.random.Generator, cam: CameraParams, eye: str
) -> tuple[np.ndarray, FieldGeometry, np.ndarray, list[Vessel]]:
    """A varied crop of the sample in the camera's frame: (float32 RGB, geometry, vessel occupancy, major veins)."""
    img, geom, occupancy, to_out_m = warp_photograph(rng, cam, eye, _pyramid(), SAMPLE_ANATOMY)

    def to_out(p: np.ndarray) -> np.ndarray:
        return np.asarray(p, np.float64).reshape(-1, 2) @ to_out_m[:, :2].T + to_out_m[:, 2]

    veins = []
    step_px = 0.05 * SAMPLE_DD
    for line in SAMPLE_VEINS:
        pts = _resample(np.array(line, np.float64), step_px)
        ret = geom.to_retina(to_out(pts))
        veins.append(Vessel(ret, np.full(len(ret), SAMPLE_VEIN_WIDTH_PX / SAMPLE_DD), "vein", 0))
    return img, geom, occupancy, veins
