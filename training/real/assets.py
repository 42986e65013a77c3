"""What `ran-real` prepared, as the generator uses it: the lesion bank and the lesion-free real backgrounds.

Loaded once per process (the generator's worker processes each load their own) and only when a generated image
asks for real lesions or a real background.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from training.fundus.camera import CameraParams
from training.fundus.geometry import FieldGeometry
from training.fundus.real_background import PhotoAnatomy, pyramid, warp_photograph
from training.real.lesion_bank import LesionBank

BANK_FILE = "lesion-bank.npz"
BACKGROUNDS = "backgrounds"


@lru_cache(maxsize=2)
def lesion_bank(folder: str) -> LesionBank:
    path = Path(folder) / BANK_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no lesion bank; make one with ran-real")
    return LesionBank.load(path)


@lru_cache(maxsize=2)
def background_index(folder: str) -> tuple[tuple[str, PhotoAnatomy], ...]:
    path = Path(folder) / BACKGROUNDS / "backgrounds.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no real backgrounds; make them with ran-real")
    entries = json.loads(path.read_text())
    return tuple((e["image"], PhotoAnatomy(e["eye"], tuple(e["fov_center"]), e["fov_radius"], tuple(e["fovea"]),
                                           e["dd_px"], tuple(e["disc_offset"]))) for e in entries)


@lru_cache(maxsize=4)
def _levels(path: str):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"{path}: background photograph not readable")
    return pyramid(np.ascontiguousarray(bgr[..., ::-1]))


def idrid_background(
    rng: np.random.Generator, cam: CameraParams, eye: str, folder: str
) -> tuple[np.ndarray, FieldGeometry, np.ndarray, list, str]:
    """A lesion-free real photograph, cropped, turned and coloured into the camera's frame: (float32 RGB,
    geometry, vessel occupancy, major veins (none traced: []), the photograph's name)."""
    index = background_index(folder)
    name, anatomy = index[int(rng.integers(len(index)))]
    levels = _levels(str(Path(folder) / BACKGROUNDS / name))
    img, geom, occupancy, _ = warp_photograph(rng, cam, eye, levels, anatomy, crop=(0.85, 0.95))
    return img, geom, occupancy, [], name
