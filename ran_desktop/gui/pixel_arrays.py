"""numpy pixels <-> Qt images, for pictures made in workers (previews, heat maps) and for tests.

Loaded with the detail view, not with the window (the worklist's thumbnails are `qimage`'s, without numpy).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def qimage_from_array(pixels: np.ndarray) -> QImage:
    """A deep copy of a uint8 RGB (H, W, 3) or RGBA (H, W, 4) array."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected uint8 RGB or RGBA pixels, got {pixels.dtype} {pixels.shape}")
    pixels = np.ascontiguousarray(pixels)
    h, w, channels = pixels.shape
    fmt = QImage.Format.Format_RGB888 if channels == 3 else QImage.Format.Format_RGBA8888
    # copy(): the QImage must own its pixels, the array goes away with the worker's frame.
    return QImage(pixels.data, w, h, pixels.strides[0], fmt).copy()


def qimage_for_display(pixels: np.ndarray) -> QImage:
    """Like qimage_from_array, but already in the 32-bit format screen pixmaps use, for pictures made in a worker:
    QPixmap.fromImage in the GUI thread is then a copy, not a conversion of a 1536 px photograph."""
    image = qimage_from_array(pixels)
    fmt = QImage.Format.Format_ARGB32_Premultiplied if image.hasAlphaChannel() else QImage.Format.Format_RGB32
    return image.convertToFormat(fmt)


def array_from_qimage(image: QImage) -> np.ndarray:
    """RGB (H, W, 3) uint8 copy of a QImage (for tests and screenshots)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return data[:, : w * 3].reshape(h, w, 3).copy()
