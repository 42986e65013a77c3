"""Lesion marks as pixels: drawn over a photograph (the report's picture) and rasterised into one mask per kind (for
training on what graders marked). OpenCV and numpy load with this module, never with the window."""

from __future__ import annotations

import cv2
import numpy as np

from ran_desktop.engine.records.lesion_marks import COLOURS, KINDS, POINT_RADIUS_SHARE, LesionMark


def _polygon(mark: LesionMark, scale: float) -> np.ndarray:
    return np.round(np.array(mark.points, np.float64) * scale).astype(np.int32).reshape(-1, 1, 2)


def draw_marks(rgb: np.ndarray, marks: tuple[LesionMark, ...], scale: float = 1.0) -> np.ndarray:
    """A copy of `rgb` with the marks drawn: rings for points, outlines for lassos, in each kind's colour.
    `scale`: the picture's size over the photograph's own (marks are in the photograph's pixels)."""
    out = rgb.copy()
    width = rgb.shape[1]
    radius = max(4, round(POINT_RADIUS_SHARE * width * 2))  # a ring around the lesion, not over it
    thickness = max(1, round(width / 500))
    for mark in marks:
        colour = COLOURS[mark.kind]
        if mark.shape == "point":
            x, y = (round(v * scale) for v in mark.points[0])
            cv2.circle(out, (x, y), radius, colour, thickness, cv2.LINE_AA)
        else:
            cv2.polylines(out, [_polygon(mark, scale)], True, colour, thickness, cv2.LINE_AA)
    return out


def mark_masks(marks: tuple[LesionMark, ...], size: tuple[int, int]) -> dict[str, np.ndarray]:
    """One bool mask per kind with marks, at `size` (width, height) in the photograph's pixels: outlines filled,
    points as discs of POINT_RADIUS_SHARE of the width."""
    width, height = size
    radius = max(1, round(POINT_RADIUS_SHARE * width))
    masks: dict[str, np.ndarray] = {}
    for kind in KINDS:
        chosen = [m for m in marks if m.kind == kind]
        if not chosen:
            continue
        mask = np.zeros((height, width), np.uint8)
        for mark in chosen:
            if mark.shape == "point":
                x, y = (round(v) for v in mark.points[0])
                cv2.circle(mask, (x, y), radius, 1, -1)
            else:
                cv2.fillPoly(mask, [_polygon(mark, 1.0)], 1)
        masks[kind] = mask.astype(bool)
    return masks
