"""Small JPEG thumbnails for the worklist, made where the pixels already are (the screening worker).

Imports neither Qt nor torch. The batch reaches it through the imaging package's lazy names, so OpenCV loads in the
screening worker, not with the window.
"""

from __future__ import annotations

import cv2
import numpy as np

# 128 px stays sharp in a table row at 200 % display scaling yet costs about 5 KB in the database.
THUMBNAIL_SIDE = 128


def make_thumbnail(rgb: np.ndarray, max_side: int = THUMBNAIL_SIDE, quality: int = 85) -> bytes:
    """The image shrunk to fit `max_side` (never enlarged), as JPEG bytes."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB image (H, W, 3), got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the thumbnail could not be encoded")
    return encoded.tobytes()


def decode_thumbnail(data: bytes | None) -> np.ndarray | None:
    """A stored thumbnail's RGB pixels (None when there is none or it cannot be read). OpenCV decodes without the
    interpreter lock: Qt's own decoder, run in a worker, deadlocked against the GUI thread (it takes a Qt lock while
    holding the interpreter's)."""
    if not data:
        return None
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
