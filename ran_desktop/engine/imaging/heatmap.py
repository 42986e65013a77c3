"""Heat maps on pictures: scaled to an image, put back on the whole photograph, blended over it in colour.

One overlay, with one opacity, for the window, the CLI and the reports. Imports neither Qt nor torch.
"""

from __future__ import annotations

import cv2
import numpy as np

from ran_desktop.engine.imaging.views import HEAT_OPACITY

__all__ = ["HEAT_OPACITY", "heatmap_on_photo", "overlay_heatmap", "upsample_heatmap"]


def upsample_heatmap(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D map to `size` = (width, height), bilinearly, as float32."""
    if heat.ndim != 2:
        raise ValueError(f"expected a 2-D heat map, got shape {heat.shape}")
    width, height = size
    return cv2.resize(np.asarray(heat, dtype=np.float32), (int(width), int(height)), interpolation=cv2.INTER_LINEAR)


def overlay_heatmap(
    rgb: np.ndarray, heat: np.ndarray, opacity: float = HEAT_OPACITY, colormap: int = cv2.COLORMAP_JET
) -> np.ndarray:
    """Blend a colour-mapped [0, 1] heat map over an RGB uint8 image; the map is resized to the image if needed."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    height, width = rgb.shape[:2]
    if heat.shape != (height, width):
        heat = upsample_heatmap(heat, (width, height))
    levels = np.clip(np.rint(np.asarray(heat, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(levels, colormap), cv2.COLOR_BGR2RGB)  # OpenCV colour maps are BGR
    blended = (1.0 - opacity) * rgb.astype(np.float32) + opacity * colour.astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def heatmap_on_photo(heat: np.ndarray, square: tuple[int, int, int], photo_size: tuple[int, int]) -> np.ndarray:
    """Put a map computed on the field-of-view square (see `preprocess.fov_square`) back on the whole photograph.

    `photo_size` is (width, height) of the photograph's pixels; outside the square the map is 0.
    """
    x0, y0, side = square
    width, height = photo_size
    placed = np.zeros((height, width), np.float32)
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(width, x0 + side), min(height, y0 + side)
    if cx1 > cx0 and cy1 > cy0:
        scaled = upsample_heatmap(heat, (side, side))
        placed[cy0:cy1, cx0:cx1] = scaled[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    return placed
