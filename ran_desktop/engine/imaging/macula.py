"""Where the macula is on a colour fundus photograph, and the macular grid a grader reads DME on.

The optic disc is the brightest large spot of the field (the green channel, smoothed over half a disc); a disc is
about a seventh of a 45-degree field's diameter across. The fovea is the darkest spot of the macula within 1 DD of
where anatomy puts it: 2.5 DD from the disc centre towards the other side of the field, 0.3 DD below. The grid's
circles are 1/3, 1 and 2 disc diameters from the fovea (the DME rule reads "hard exudate within 1 DD of the
fovea"). A grader can drag the centre; the grid is a proposal, drawn, never a grade. Imports neither Qt nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ran_desktop.engine.imaging.field_of_view import FieldOfView

DISC_FOVEA_DD = 2.5  # disc centre to fovea, in disc diameters (anatomy textbooks: 2.3-2.7)
FOVEA_BELOW_DISC_DD = 0.3  # the fovea lies this much below the disc centre, on average
FIELD_IN_DD = 7.0  # a 45-degree field's diameter in disc diameters (12-13 mm against a 1.8 mm disc)
GRID_RADII_DD = (1 / 3, 1.0, 2.0)  # the macular grid's circles, from the fovea
_SEARCH_DD = 1.0
_WORK_WIDTH = 712
_RIM = 0.9  # the disc is looked for inside this share of the field's radius (the rim is often bright glare)


@dataclass(frozen=True)
class MacularGrid:
    """Centred on the fovea, in the photograph's pixels; `disc_diameter` sets the circles' size."""

    fovea: tuple[float, float]
    disc: tuple[float, float]
    disc_diameter: float

    @property
    def radii(self) -> tuple[float, ...]:
        return tuple(r * self.disc_diameter for r in GRID_RADII_DD)

    def scaled(self, factor: float) -> MacularGrid:
        """The same grid on the photograph shown `factor` times its size."""
        return MacularGrid((self.fovea[0] * factor, self.fovea[1] * factor),
                           (self.disc[0] * factor, self.disc[1] * factor), self.disc_diameter * factor)

    def moved_to(self, fovea: tuple[float, float]) -> MacularGrid:
        """The grid where the grader dragged it."""
        return MacularGrid((float(fovea[0]), float(fovea[1])), self.disc, self.disc_diameter)

    def within(self, point: tuple[float, float], disc_diameters: float = 1.0) -> bool:
        """Whether `point` lies within `disc_diameters` of the fovea (1: the DME rule's zone)."""
        return bool(np.hypot(point[0] - self.fovea[0], point[1] - self.fovea[1])
                    <= disc_diameters * self.disc_diameter)


def find_disc(rgb: np.ndarray, fov: FieldOfView) -> tuple[tuple[float, float], float]:
    """(centre (x, y), diameter) of the optic disc in px: the brightest smoothed green inside the field."""
    h, w = rgb.shape[:2]
    centre, radius = (fov.center, fov.radius) if fov.found else (((w - 1) / 2, (h - 1) / 2), min(h, w) / 2)
    dd = 2 * radius / FIELD_IN_DD
    scale = min(1.0, _WORK_WIDTH / w)
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    smooth = cv2.GaussianBlur(small[..., 1].astype(np.float32), (0, 0), max(0.5 * dd * scale, 1.0))
    ys, xs = np.mgrid[0:smooth.shape[0], 0:smooth.shape[1]]
    inside = np.hypot(xs / scale - centre[0], ys / scale - centre[1]) <= _RIM * radius
    y, x = np.unravel_index(int(np.argmax(np.where(inside, smooth, -np.inf))), smooth.shape)
    return (float(x / scale), float(y / scale)), float(dd)


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


def locate_grid(rgb: np.ndarray, fov: FieldOfView) -> MacularGrid:
    """The macular grid this photograph would get: disc found, fovea found from it."""
    h, w = rgb.shape[:2]
    centre = fov.center if fov.found else ((w - 1) / 2, (h - 1) / 2)
    disc, dd = find_disc(rgb, fov)
    return MacularGrid(find_fovea(rgb, disc, dd, centre), disc, dd)


def draw_grid(rgb: np.ndarray, grid: MacularGrid, colour: tuple[int, int, int] = (255, 255, 0)) -> np.ndarray:
    """A copy of `rgb` with the grid's circles and the fovea's cross drawn on it (for reports and exports)."""
    out = rgb.copy()
    thickness = max(1, round(out.shape[1] / 600))
    centre = (round(grid.fovea[0]), round(grid.fovea[1]))
    for radius in grid.radii:
        cv2.circle(out, centre, max(1, round(radius)), colour, thickness, cv2.LINE_AA)
    arm = max(3, round(grid.disc_diameter / 8))
    cv2.line(out, (centre[0] - arm, centre[1]), (centre[0] + arm, centre[1]), colour, thickness, cv2.LINE_AA)
    cv2.line(out, (centre[0], centre[1] - arm), (centre[0], centre[1] + arm), colour, thickness, cv2.LINE_AA)
    return out
