"""Heat maps from any runtime's outputs, in numpy: each image's class activation map from the dilated module's features
and the head's linear weights (why these equal Grad-CAM: forward_cam.py). Needs no torch, so the CPU build draws the
same maps as the PyTorch runtime."""

from __future__ import annotations

import numpy as np


def scale_maps(maps: np.ndarray) -> np.ndarray:
    """Each (h, w) map min-max scaled to [0, 1] (all zeros where flat), float32, as Grad-CAM's are."""
    maps = maps.astype(np.float32, copy=False)
    low = maps.min(axis=(-2, -1), keepdims=True)
    span = maps.max(axis=(-2, -1), keepdims=True) - low
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (maps - low) / np.maximum(span, np.finfo(np.float32).tiny), 0)
    return scaled.astype(np.float32)


def maps_of(features: np.ndarray, weight: np.ndarray, classes: np.ndarray,
            mirrored: np.ndarray | None = None) -> np.ndarray:
    """Each image's map of its class, (N, h, w) scaled to [0, 1]. `weight`: the head's linear weights (classes,
    channels); `mirrored`: the mirror images' features, whose maps are flipped back and averaged in (flip-averaged
    probabilities, runtime.predict)."""
    rows = weight[classes].astype(np.float32)
    maps = np.maximum(np.einsum("nkhw,nk->nhw", features.astype(np.float32), rows), 0)
    if mirrored is not None:
        maps = (maps + np.maximum(np.einsum("nkhw,nk->nhw", mirrored.astype(np.float32), rows), 0)[..., ::-1]) / 2
    return scale_maps(maps)
