"""Where the field of view, the optic disc and the fovea lie in a real photograph with an optic-disc mask.

The disc comes from its expert mask (centre = centroid, diameter = that of a circle of the same area). The fovea
is found as the darkest spot of the macula (the green channel, smoothed over a quarter disc diameter, lesions
filled in first so a haemorrhage is not taken for it) within 1 DD of where anatomy puts it: 2.5 DD from the disc
centre towards the middle of the field (macula-centred photographs), slightly below the disc.
"""

from __future__ import annotations

import cv2
import numpy as np

from ran_desktop.engine.imaging.preprocess import detect_fov
from training.fundus.geometry import FieldGeometry

DISC_FOVEA_DD = 2.5  # disc centre to fovea, in disc diameters (anatomy textbooks: 2.3-2.7)
FOVEA_BELOW_DISC_DD = 0.3  # the fovea lies this much below the disc centre, on average
_SEARCH_DD = 1.0
_WORK_WIDTH = 712


def disc_from_mask(mask: np.ndarray) -> tuple[tuple[float, float], float]:
    """(centre (x, y), diameter) of the optic disc in px from its mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("the optic disc mask is empty")
    return (float(xs.mean()), float(ys.mean())), float(2.0 * np.sqrt(len(xs) / np.pi))


def find_fovea(rgb: np.ndarray, disc: tuple[float, float], dd: float, fov_center: tuple[float, float],
               lesions: np.ndarray | None = None) -> tuple[float, float]:
    """The fovea in px: the darkest smoothed green within `_SEARCH_DD` of where anatomy expects it."""
    scale = min(1.0, _WORK_WIDTH / rgb.shape[1])
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    green = small[..., 1].copy()
    if lesions is not None and lesions.any():
        area = cv2.resize(lesions.astype(np.float32), (green.shape[1], green.shape[0]), interpolation=cv2.INTER_AREA)
        holes = cv2.dilate((area > 0).astype(np.uint8), np.ones((5, 5), np.uint8))  # any lesion pixel, and a rim
        green = cv2.inpaint(green, holes, 5, cv2.INPAINT_TELEA)
    smooth = cv2.GaussianBlur(green.astype(np.float32), (0, 0), max(0.25 * dd * scale, 1.0))
    toward = np.array(fov_center) - np.array(disc)
    toward[1] = 0.0  # along the horizontal: the fovea is temporal to the disc, not towards the frame's centre
    if np.hypot(*toward) < 1e-6:
        toward = np.array([1.0, 0.0])
    toward /= np.hypot(*toward)
    expected = np.array(disc) + DISC_FOVEA_DD * dd * toward + np.array([0.0, FOVEA_BELOW_DISC_DD * dd])
    h, w = smooth.shape
    ys, xs = np.mgrid[0:h, 0:w]
    near = np.hypot(xs / scale - expected[0], ys / scale - expected[1]) <= _SEARCH_DD * dd
    if not near.any():
        return float(expected[0]), float(expected[1])
    flat = np.where(near, smooth, np.inf)
    y, x = np.unravel_index(int(np.argmin(flat)), flat.shape)
    return float(x / scale), float(y / scale)


def real_geometry(rgb: np.ndarray, disc_mask: np.ndarray, lesions: np.ndarray | None = None) -> FieldGeometry:
    """The photograph's frame in the generator's terms: aperture, eye (from the disc's side), fovea, disc, DD."""
    h, w = rgb.shape[:2]
    fov = detect_fov(rgb)
    if fov.found:
        fov_center, fov_radius = fov.center, fov.radius
    else:
        fov_center, fov_radius = ((w - 1) / 2.0, (h - 1) / 2.0), min(h, w) / 2.0
    disc, dd = disc_from_mask(disc_mask)
    fovea = find_fovea(rgb, disc, dd, fov_center, lesions)
    eye = "OS" if disc[0] < fovea[0] else "OD"  # a left eye's disc is to the viewer's left of its fovea
    probe = FieldGeometry(w, h, eye, fov_center, fov_radius, None, fovea, dd, 0.0, (0.0, 0.0))
    disc_offset = probe.to_retina(np.array([disc]))[0]
    return FieldGeometry(w, h, eye, fov_center, fov_radius, None, fovea, dd, 0.0,
                         (float(disc_offset[0]), float(disc_offset[1])))
