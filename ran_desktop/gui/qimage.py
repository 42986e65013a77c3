"""Encoded pictures (thumbnails) <-> Qt images. QImage may be built in worker threads; QPixmap only in the GUI thread.

numpy arrays are `pixel_arrays`'s: this module is imported with the window, which does not need numpy to open.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QImage, QPixmap


def qimage_from_bytes(data: bytes | None) -> QImage | None:
    """An encoded picture (a JPEG thumbnail) decoded; unlike QPixmap, this may run in a worker thread."""
    if not data:
        return None
    image = QImage.fromData(QByteArray(data))
    return None if image.isNull() else image


def pixmap_from_bytes(data: bytes | None) -> QPixmap | None:
    if not data:
        return None
    pixmap = QPixmap()
    return pixmap if pixmap.loadFromData(QByteArray(data)) else None
