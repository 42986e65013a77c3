"""numpy pixels <-> Qt images. QImage may be built in worker threads; QPixmap only in the GUI thread."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QByteArray
from PySide6.QtGui import QImage, QPixmap


def qimage_from_array(pixels: np.ndarray) -> QImage:
    """A deep copy of a uint8 RGB (H, W, 3) or RGBA (H, W, 4) array."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected uint8 RGB or RGBA pixels, got {pixels.dtype} {pixels.shape}")
    pixels = np.ascontiguousarray(pixels)
    h, w, channels = pixels.shape
    fmt = QImage.Format.Format_RGB888 if channels == 3 else QImage.Format.Format_RGBA8888
    # copy(): the QImage must own its pixels, the array goes away with the worker's frame.
    return QImage(pixels.data, w, h, pixels.strides[0], fmt).copy()


def array_from_qimage(image: QImage) -> np.ndarray:
    """RGB (H, W, 3) uint8 copy of a QImage (for tests and screenshots)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return data[:, : w * 3].reshape(h, w, 3).copy()


def pixmap_from_bytes(data: bytes | None) -> QPixmap | None:
    if not data:
        return None
    pixmap = QPixmap()
    return pixmap if pixmap.loadFromData(QByteArray(data)) else None
