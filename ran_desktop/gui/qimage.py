"""Encoded pictures (thumbnails) to pixmaps, in the GUI thread (workers decode with OpenCV: imaging.thumbnails).

numpy arrays are `pixel_arrays`'s: this module is imported with the window, which does not need numpy to open.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QPixmap


def pixmap_from_bytes(data: bytes | None) -> QPixmap | None:
    if not data:
        return None
    pixmap = QPixmap()
    return pixmap if pixmap.loadFromData(QByteArray(data)) else None
