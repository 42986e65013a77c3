"""Lesion masks as training reads and writes them: one 8-bit PNG per photograph, bit i set where lesion kind i is
(`LESION_KINDS`: microaneurysms, haemorrhages, hard exudates, soft exudates), at the photograph's own size.

Shrinking keeps every lesion (a pixel is set where any pixel it covers was), so a microaneurysm a few pixels wide in
the photograph is still there at the model's input size; cropping follows the photograph's own field of view.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from ran_desktop.engine.imaging.preprocess import FieldOfView, PreprocessSettings, crop_to_fov
from ran_desktop.engine.model import LESION_KINDS

# IDRiD's and the lesion bank's short names, in LESION_KINDS order.
SHORT_NAMES: tuple[str, ...] = ("MA", "HE", "EX", "SE")
BIT = {name: i for i, name in enumerate(SHORT_NAMES)}


def pack(masks: Mapping[str, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """{short name: bool (H, W)} -> uint8 (H, W) bits; kinds missing from `masks` stay 0."""
    bits = np.zeros(shape, np.uint8)
    for name, mask in masks.items():
        bits[np.asarray(mask, bool)] |= np.uint8(1 << BIT[name])
    return bits


def unpack(bits: np.ndarray) -> np.ndarray:
    """uint8 (..., H, W) bits -> bool (..., kinds, H, W)."""
    shifts = np.arange(len(LESION_KINDS), dtype=np.uint8).reshape(-1, 1, 1)
    return ((bits[..., None, :, :] >> shifts) & 1).astype(bool)


def write(path: Path, bits: np.ndarray) -> None:
    """Write a bit mask as PNG, atomically (a half-written mask never carries the final name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", bits, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def read(path: Path) -> np.ndarray:
    bits = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if bits is None or bits.ndim != 2 or bits.dtype != np.uint8:
        raise ValueError(f"{path}: not an 8-bit single-channel lesion mask")
    return bits


def resize(bits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (width, height): shrinking keeps a lesion wherever it covered any part of a pixel."""
    w, h = size
    if (bits.shape[1], bits.shape[0]) == (w, h):
        return bits.copy()
    if w >= bits.shape[1] and h >= bits.shape[0]:
        return cv2.resize(bits, (w, h), interpolation=cv2.INTER_NEAREST)
    out = np.zeros((h, w), np.uint8)
    for bit in range(len(LESION_KINDS)):
        layer = ((bits >> bit) & 1).astype(np.float32)
        if layer.any():
            out[cv2.resize(layer, (w, h), interpolation=cv2.INTER_AREA) > 0] |= np.uint8(1 << bit)
    return out


def square(bits: np.ndarray, image_shape: Sequence[int], fov: FieldOfView, settings: PreprocessSettings) -> np.ndarray:
    """The mask cut exactly as `crop_to_fov` + `resize_square` cut its photograph (decoded at `image_shape`)."""
    h, w = int(image_shape[0]), int(image_shape[1])
    fitted = resize(bits, (w, h))
    as_rgb = np.zeros((h, w, 3), np.uint8)
    as_rgb[..., 0] = fitted
    cropped = crop_to_fov(as_rgb, fov, settings)[..., 0]
    return resize(cropped, (settings.input_size, settings.input_size))
