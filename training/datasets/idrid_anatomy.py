"""Where the field of view, the optic disc and the fovea lie in a real photograph with an optic-disc mask.

The disc comes from its expert mask (centre = centroid, diameter = that of a circle of the same area). The fovea
is found from it as the app finds it (engine/imaging/macula.py: the darkest spot of the macula where anatomy puts
it), with the lesions filled in first so a haemorrhage is not taken for it.
"""

from __future__ import annotations

import numpy as np

from ran_desktop.engine.imaging.macula import find_fovea
from ran_desktop.engine.imaging.preprocess import detect_fov
from training.fundus.geometry import FieldGeometry


def disc_from_mask(mask: np.ndarray) -> tuple[tuple[float, float], float]:
    """(centre (x, y), diameter) of the optic disc in px from its mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("the optic disc mask is empty")
    return (float(xs.mean()), float(ys.mean())), float(2.0 * np.sqrt(len(xs) / np.pi))


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
