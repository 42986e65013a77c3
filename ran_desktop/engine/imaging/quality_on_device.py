"""The quality gate's detail measurement (sharpness, vessel contrast: quality._detail) as batched tensor operations,
for a GPU workstation, where the gate's Gaussian blurs are most of the CPU's preparation time and the GPU does them
in microseconds.

The same steps as quality._detail with OpenCV's own kernels: each Gaussian blur is OpenCV's kernel
(cv2.getGaussianKernel at the size GaussianBlur picks for float images) applied along rows and columns with OpenCV's
default border (reflect-101); the lit part's erosion is a minimum over the same 25 x 25 square, the image's border
never eroding; medians and (population) standard deviations as numpy and OpenCV compute them. Only the order of
additions differs, so scores agree with the CPU's to about 1e-5 (tests/engine/imaging/test_quality_on_device.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ran_desktop.engine.imaging.quality import (
    _FINE_SIGMA,
    _LIT_ERODE,
    _LIT_FRACTION,
    _LIT_MIN_SHARE,
    _LIT_SIGMA,
    _MEDIUM_SIGMA,
    Measured,
    _interior,
)


def details(measured: Sequence[Measured], device: torch.device | str) -> list[tuple[float, float]]:
    """(sharpness, vessel contrast) of each measured photograph, computed on `device` in one batch."""
    out: list[tuple[float, float]] = [(0.0, 0.0)] * len(measured)
    todo = [i for i, m in enumerate(measured) if m.measurable]
    if not todo:
        return out
    device = torch.device(device)
    # cuDNN may round convolutions' inputs to TF32 (10 bits): scores would move by 1e-3 and decisions at a threshold.
    with torch.backends.cudnn.flags(enabled=torch.backends.cudnn.enabled, allow_tf32=False), torch.inference_mode():
        found = _details([measured[i] for i in todo], device)
    for i, one in zip(todo, found, strict=True):
        out[i] = one
    return out


def _details(measured: Sequence[Measured], device: torch.device) -> list[tuple[float, float]]:
    lum = torch.from_numpy(np.stack([m.lum for m in measured])).to(device)[:, None].float()
    masks = [_interior_on(m.key, device) for m in measured]
    mask, m = torch.stack([x[0] for x in masks]), torch.stack([x[1] for x in masks])
    den = {sigma: torch.stack([x[2][sigma] for x in masks]) for sigma in (_FINE_SIGMA, _MEDIUM_SIGMA, _LIT_SIGMA)}

    light = _blur(lum * m, _LIT_SIGMA) / den[_LIT_SIGMA]
    lit = _lit(lum, light, mask)
    flat = lum / light.clamp_min(1.0) * m
    fine_blur = _blur(flat, _FINE_SIGMA) / den[_FINE_SIGMA]
    medium_blur = _blur(flat, _MEDIUM_SIGMA) / den[_MEDIUM_SIGMA]
    fine_sd, medium_sd, vessel_sd = (_masked_std(x, lit) for x in (flat - fine_blur, fine_blur - medium_blur,
                                                                      flat - medium_blur))
    found = []
    for fine, medium, vessel in zip(fine_sd.tolist(), medium_sd.tolist(), vessel_sd.tolist(), strict=True):
        found.append((0.0, vessel) if medium < 1e-5 else (fine / medium, vessel))
    return found


@functools.lru_cache(maxsize=64)
def _kernel(sigma: float, device: torch.device) -> torch.Tensor:
    """OpenCV's Gaussian kernel for a float image: size round(8 sigma + 1) made odd, float32."""
    size = int(round(sigma * 4 * 2 + 1)) | 1
    return torch.from_numpy(cv2.getGaussianKernel(size, sigma, cv2.CV_32F).ravel().copy()).to(device)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """cv2.GaussianBlur(x, (0, 0), sigma) of each (1, H, W) image in the batch: rows, then columns, reflect-101."""
    k = _kernel(sigma, x.device)
    half = k.numel() // 2
    x = F.conv2d(F.pad(x, (half, half, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, half, half), mode="reflect"), k.view(1, 1, -1, 1))


def _lit(lum: torch.Tensor, light: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """quality._lit for the batch: the interior where the light reaches its share of the median, eroded; the whole
    interior where too little of it is lit."""
    inside = mask > 0
    medians = torch.stack([_median(lum[i][inside[i]]) for i in range(len(lum))]).view(-1, 1, 1, 1)
    lit = ((light >= _LIT_FRACTION * medians) & inside).float()
    # Erosion: the minimum over the square; max_pool pads with -inf, so outside the image never erodes.
    lit = -F.max_pool2d(-lit, _LIT_ERODE, stride=1, padding=_LIT_ERODE // 2)
    enough = lit.sum(dim=(1, 2, 3)) >= _LIT_MIN_SHARE * inside.sum(dim=(1, 2, 3))
    return torch.where(enough.view(-1, 1, 1, 1), lit > 0, inside)


def _median(values: torch.Tensor) -> torch.Tensor:
    """numpy's median: the mean of the two middle values where their number is even."""
    ordered = values.sort().values
    n = ordered.numel()
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


def _masked_std(x: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Population standard deviation over `where` per image, accumulated in float64 as cv2.meanStdDev does."""
    x, weight = x.double(), where.double()
    n = weight.sum(dim=(1, 2, 3)).clamp_min(1)
    mean = (x * weight).sum(dim=(1, 2, 3)) / n
    variance = (((x - mean.view(-1, 1, 1, 1)) ** 2) * weight).sum(dim=(1, 2, 3)) / n
    return variance.clamp_min(0).sqrt()


@functools.lru_cache(maxsize=64)
def _interior_on(key: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, dict[float, torch.Tensor]]:
    """quality._interior's mask and blurs, on `device` (cached per geometry, as there)."""
    mask, m, blurs = _interior(key)
    return (torch.from_numpy(mask.copy()).to(device)[None], torch.from_numpy(m.copy()).to(device)[None],
            {sigma: torch.from_numpy(b.copy()).to(device)[None] for sigma, b in blurs.items()})
