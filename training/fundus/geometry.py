"""Where things are: the retina's own frame, the photograph's pixels, and the camera's aperture.

Retina frame: origin at the fovea, unit = one optic-disc diameter (DD), +x temporal, +y superior. Anatomy and
lesions are planned in this frame, so laterality (mirror), camera rotation and image scale are one mapping
(`FieldGeometry.to_px`) instead of special cases in every drawing function.

Fundus photographs are shown upright, as the examiner sees the retina: superior retina at the top of the image,
and in a right eye (OD) the optic disc lies to the viewer's RIGHT of the fovea (nasal retina is on the right);
in a left eye (OS) to the LEFT. The sample photograph resources/samples/normal_fundus_OS.jpg confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

QUADRANTS = ("superotemporal", "superonasal", "inferotemporal", "inferonasal")
EYES = ("OD", "OS")

# Lesions are placed only this far inside the aperture: the outermost rim is vignetted, notched and clipped.
VISIBLE_RADIUS = 0.92


@dataclass(frozen=True)
class FieldGeometry:
    """One photograph's frame: image size, aperture, and where the retina lies in it.

    Quadrants are taken about the centre of the field of view (not the fovea): a single 45-degree field shows
    neither the whole posterior pole nor ETDRS fields 4-7, so a grader applying the 4-2-1 rule splits what the
    photograph shows along the retina's horizontal meridian and its perpendicular.
    """

    width: int
    height: int
    eye: str  # "OD" or "OS"
    fov_center: tuple[float, float]  # px (x, y)
    fov_radius: float  # px
    notch_angle_deg: float | None  # small square notch in the aperture rim (camera orientation mark); None: none
    fovea: tuple[float, float]  # px
    dd_px: float  # optic disc diameter in px
    rotation_deg: float  # counter-clockwise rotation of the retina in the image
    disc_offset: tuple[float, float]  # disc centre in the retina frame (DD), e.g. (-2.5, 0.3)

    def __post_init__(self) -> None:
        if self.eye not in EYES:
            raise ValueError(f"eye must be 'OD' or 'OS', not {self.eye!r}")

    @cached_property
    def basis(self) -> np.ndarray:
        """2x2 matrix taking retina-frame DD vectors to image px vectors (columns: image of +x, image of +y)."""
        t = np.deg2rad(self.rotation_deg)
        c, s = np.cos(t), np.sin(t)
        sx = 1.0 if self.eye == "OS" else -1.0  # temporal points right in a left eye, left in a right eye
        # Image y grows downwards: superior (+y) is image -y, and an on-screen counter-clockwise turn by t
        # takes (u, v) to (u c + v s, -u s + v c).
        ex = np.array([c * sx, -s * sx])
        ey = np.array([-s, -c])
        return self.dd_px * np.column_stack([ex, ey])

    def to_px(self, pts: np.ndarray) -> np.ndarray:
        """Retina-frame points (N, 2) in DD -> image points (N, 2) in px."""
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        return pts @ self.basis.T + np.asarray(self.fovea)

    @cached_property
    def inverse(self) -> np.ndarray:
        return np.linalg.inv(self.basis)

    def to_retina(self, pts: np.ndarray) -> np.ndarray:
        """Image points (N, 2) in px -> retina-frame points (N, 2) in DD."""
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        return (pts - np.asarray(self.fovea)) @ self.inverse.T

    def direction_px(self, vec: np.ndarray) -> np.ndarray:
        """Retina-frame direction vectors (N, 2) -> image direction vectors (N, 2), same length in DD units."""
        return np.asarray(vec, dtype=np.float64).reshape(-1, 2) @ (self.basis / self.dd_px).T

    @property
    def disc(self) -> tuple[float, float]:
        x, y = self.to_px(np.array([self.disc_offset]))[0]
        return float(x), float(y)

    def fov_relative(self, pts_px: np.ndarray) -> np.ndarray:
        """Retina-frame offsets (N, 2), in DD, of image points from the field-of-view centre (+x temporal, +y up)."""
        return self.to_retina(pts_px) - self.to_retina(np.array([self.fov_center]))

    def quadrant_indices(self, pts_px: np.ndarray) -> np.ndarray:
        """Index into QUADRANTS of each image point's retinal quadrant, about the field-of-view centre."""
        rel = self.fov_relative(pts_px)
        return (rel[:, 1] < 0).astype(np.int64) * 2 + (rel[:, 0] < 0).astype(np.int64)

    def quadrants_of(self, pts_px: np.ndarray) -> list[str]:
        """Retinal quadrant name of each image point (see the class docstring)."""
        return [QUADRANTS[i] for i in self.quadrant_indices(pts_px)]

    def visible(self, pts_px: np.ndarray, margin_px: float = 0.0) -> np.ndarray:
        """True where a point (N, 2) lies well inside the aperture and the frame, `margin_px` from any edge."""
        p = np.asarray(pts_px, dtype=np.float64).reshape(-1, 2)
        cx, cy = self.fov_center
        r = np.hypot(p[:, 0] - cx, p[:, 1] - cy)
        ok = r <= VISIBLE_RADIUS * self.fov_radius - margin_px
        ok &= (p[:, 0] >= margin_px + 2) & (p[:, 0] <= self.width - 3 - margin_px)
        ok &= (p[:, 1] >= margin_px + 2) & (p[:, 1] <= self.height - 3 - margin_px)
        return ok

    def aperture_mask(self) -> np.ndarray:
        """Float32 (H, W) mask of the camera's aperture, 1 inside, 0 on the black surround, edge anti-aliased."""
        mask = np.zeros((self.height, self.width), np.uint8)
        cx, cy = self.fov_center
        cv2.circle(mask, (round(cx * 16), round(cy * 16)), round(self.fov_radius * 16), 255, -1, cv2.LINE_AA, 4)
        if self.notch_angle_deg is not None:
            a = np.deg2rad(self.notch_angle_deg)
            side = 0.09 * self.fov_radius
            centre = (cx + np.cos(a) * self.fov_radius, cy - np.sin(a) * self.fov_radius)
            box = cv2.boxPoints((centre, (side, side), -self.notch_angle_deg))
            cv2.fillConvexPoly(mask, np.round(box * 16).astype(np.int32), 0, cv2.LINE_AA, 4)
        return mask.astype(np.float32) * (1.0 / 255.0)

    def radius_map(self, scale: int = 1) -> np.ndarray:
        """Float32 (H/scale, W/scale) distance from the field-of-view centre in units of its radius."""
        h, w = -(-self.height // scale), -(-self.width // scale)
        cx, cy = self.fov_center
        xs = (np.arange(w, dtype=np.float32) * scale - cx) / self.fov_radius
        ys = (np.arange(h, dtype=np.float32) * scale - cy) / self.fov_radius
        return np.sqrt(xs[None, :] ** 2 + ys[:, None] ** 2)

    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "eye": self.eye,
            "fov_center": list(self.fov_center),
            "fov_radius": self.fov_radius,
            "fovea": list(self.fovea),
            "disc": list(self.disc),
            "dd_px": self.dd_px,
            "rotation_deg": self.rotation_deg,
        }
