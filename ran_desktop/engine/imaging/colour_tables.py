"""OpenCV's 8-bit colour conversions as look-up tables on a torch device: a conversion's result for every 8-bit
colour, made once per process and device with cv2.cvtColor itself (16.7 million entries, 50 MB each), so tensor code
converts exactly as OpenCV does (finish_on_device.py, training's augmentation on the GPU)."""

from __future__ import annotations

import functools
import threading

import cv2
import numpy as np
import torch

_LOCK = threading.Lock()


def convert(pixels: torch.Tensor, code: int) -> torch.Tensor:
    """cv2.cvtColor(pixels, code) for uint8 (..., 3) pixels on any device (a 3-channel to 3-channel code)."""
    with _LOCK:
        table = _table(code, str(pixels.device))
    return table[index(pixels)]


def index(pixels: torch.Tensor) -> torch.Tensor:
    """Each 3-channel uint8 pixel as one number, (c0 << 16) | (c1 << 8) | c2: its row in a table."""
    x = pixels.long()
    return (x[..., 0] << 16) | (x[..., 1] << 8) | x[..., 2]


@functools.lru_cache(maxsize=8)
def _table(code: int, device: str) -> torch.Tensor:
    every = np.arange(1 << 24, dtype=np.uint32)
    colours = np.stack([(every >> 16) & 255, (every >> 8) & 255, every & 255], axis=-1).astype(np.uint8)
    converted = cv2.cvtColor(colours.reshape(4096, 4096, 3), code)
    if converted.ndim != 3 or converted.shape[2] != 3:
        raise ValueError(f"colour conversion {code} does not give 3 channels")
    return torch.from_numpy(converted.reshape(-1, 3)).to(device)
