"""preprocess.finish as batched tensor operations on the model's device: CLAHE on the L*a*b* lightness, then
per-image standardisation, for a GPU workstation's screener and for training on a GPU, where these run for every
photograph and every augmented sample.

The result is OpenCV's, not an approximation of it: the colour conversions are OpenCV's own, read from tables
(colour_tables.py: every 8-bit colour converted once by cv2.cvtColor, 100 MB on the device for both ways); CLAHE is
OpenCV's algorithm step for step (tile histograms, clipping with the same integer redistribution, the same rounded
look-up tables, bilinear interpolation between tiles in float32 in OpenCV's order);
standardisation uses means and deviations accumulated in float64 as cv2.meanStdDev does. On every photograph
tested (tests/engine/imaging/test_finish_on_device.py) the enhanced image and the model's input are OpenCV's bit for
bit; were a float rounding ever to fall the other way at a half grey level, a pixel would differ by one level.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ran_desktop.engine.imaging.colour_tables import convert
from ran_desktop.engine.imaging.preprocess_settings import PreprocessSettings

HIST_SIZE = 256
_STD_FLOOR = 1.0  # preprocess.standardise's floor, in grey levels


def finish_batch(squares: torch.Tensor, settings: PreprocessSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """`preprocess.finish` of a batch of resized field-of-view squares, uint8 (N, S, S, 3) RGB on any device:
    (enhanced uint8 (N, S, S, 3), model input float32 (N, 3, S, S))."""
    if squares.dtype != torch.uint8 or squares.ndim != 4 or squares.shape[-1] != 3:
        raise ValueError(f"expected uint8 (N, H, W, 3) RGB squares, got {tuple(squares.shape)} {squares.dtype}")
    enhanced = clahe_rgb(squares, settings.clahe_clip_limit, settings.clahe_tile_grid) if settings.clahe else squares
    return enhanced, standardise(enhanced)


def finish_numpy(squares: np.ndarray, settings: PreprocessSettings, device: torch.device | str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """`finish_batch` of numpy squares (N, S, S, 3) on `device`, the results back as numpy."""
    with torch.inference_mode():
        enhanced, tensors = finish_batch(torch.from_numpy(np.ascontiguousarray(squares)).to(device), settings)
    return enhanced.cpu().numpy(), tensors.cpu().numpy()


def clahe_rgb(rgb: torch.Tensor, clip_limit: float, grid: int) -> torch.Tensor:
    """preprocess.apply_clahe of each image: CLAHE on the L of OpenCV's 8-bit L*a*b*, converted back."""
    lab = convert(rgb, cv2.COLOR_RGB2LAB)
    lightness = clahe(lab[..., 0], clip_limit, grid)
    return convert(torch.stack([lightness, lab[..., 1], lab[..., 2]], dim=-1), cv2.COLOR_LAB2RGB)


def clahe(grey: torch.Tensor, clip_limit: float, grid: int) -> torch.Tensor:
    """cv2.createCLAHE(clip_limit, (grid, grid)).apply of each uint8 (H, W) image of a batch (N, H, W)."""
    n, height, width = grey.shape
    extended = grey
    if height % grid or width % grid:
        # OpenCV pads to whole tiles, mirroring (reflect-101), and then pads both sides by grid - (size % grid): a
        # side that divided already grows by a whole `grid` pixels, and its tiles with it.
        pad_y, pad_x = grid - height % grid, grid - width % grid
        extended = F.pad(grey[:, None].float(), (0, pad_x, 0, pad_y), mode="reflect")[:, 0].to(torch.uint8)
    tile_h, tile_w = extended.shape[1] // grid, extended.shape[2] // grid
    luts = _tile_luts(extended, grid, tile_h, tile_w, clip_limit)  # (N, grid, grid, 256) uint8
    return _interpolate(grey, luts.float(), grid, tile_h, tile_w)


def _tile_luts(grey: torch.Tensor, grid: int, tile_h: int, tile_w: int, clip_limit: float) -> torch.Tensor:
    n = grey.shape[0]
    tiles = grey.view(n, grid, tile_h, grid, tile_w).permute(0, 1, 3, 2, 4).reshape(n * grid * grid, -1).long()
    offsets = torch.arange(tiles.shape[0], device=grey.device)[:, None] * HIST_SIZE
    hist = torch.bincount((tiles + offsets).ravel(), minlength=tiles.shape[0] * HIST_SIZE).view(-1, HIST_SIZE)
    area = tile_h * tile_w
    limit = max(int(clip_limit * area / HIST_SIZE), 1) if clip_limit > 0 else 0
    if limit > 0:
        clipped = (hist - limit).clamp_min(0).sum(dim=1, keepdim=True)
        hist = hist.clamp_max(limit)
        batch = clipped // HIST_SIZE
        residual = clipped - batch * HIST_SIZE
        hist = hist + batch
        # OpenCV adds the residual one count each to bins 0, step, 2 step, ... (step = 256 // residual).
        step = (HIST_SIZE // residual.clamp_min(1)).clamp_min(1)
        bins = torch.arange(HIST_SIZE, device=grey.device)[None]
        hist = hist + ((bins % step == 0) & (bins // step < residual)).long()
    scale = torch.tensor((HIST_SIZE - 1) / area, dtype=torch.float32, device=grey.device)
    lut = torch.round(hist.cumsum(dim=1).float() * scale).clamp(0, 255).to(torch.uint8)  # cvRound: half to even
    return lut.view(n, grid, grid, HIST_SIZE)


def _interpolate(grey: torch.Tensor, luts: torch.Tensor, grid: int, tile_h: int, tile_w: int) -> torch.Tensor:
    """Each pixel from the look-up tables of the four tiles around it, weighted by distance (float32, OpenCV's
    order of operations), rounded half to even."""
    n, height, width = grey.shape
    device = grey.device

    def axis(size: int, tile: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        inverse = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(float(tile), dtype=torch.float32)
        position = torch.arange(size, dtype=torch.float32) * inverse - torch.tensor(0.5, dtype=torch.float32)
        first = torch.floor(position)
        weight = position - first
        first = first.long()
        return (first.clamp_min(0).to(device), (first + 1).clamp_max(grid - 1).to(device), weight.to(device),
                (torch.tensor(1.0) - weight).to(device))

    x1, x2, xa, xa1 = axis(width, tile_w)
    y1, y2, ya, ya1 = axis(height, tile_h)
    values = grey.long()
    batch = torch.arange(n, device=device)[:, None, None]

    def lut(ty: torch.Tensor, tx: torch.Tensor) -> torch.Tensor:
        return luts[batch, ty[None, :, None], tx[None, None, :], values]

    top = lut(y1, x1) * xa1 + lut(y1, x2) * xa
    bottom = lut(y2, x1) * xa1 + lut(y2, x2) * xa
    result = top * ya1[None, :, None] + bottom * ya[None, :, None]
    return torch.round(result).clamp(0, 255).to(torch.uint8)


def standardise(rgb: torch.Tensor) -> torch.Tensor:
    """preprocess.standardise of each uint8 (H, W, 3) image: per channel (I - m) / s, float32 (N, 3, H, W), with
    m and s from float64 sums as cv2.meanStdDev computes them, s floored at one grey level."""
    x = rgb.double()
    count = rgb.shape[1] * rgb.shape[2]
    mean = x.sum(dim=(1, 2)) / count
    variance = ((x * x).sum(dim=(1, 2)) / count - mean * mean).clamp_min(0)
    std = variance.sqrt().clamp_min(_STD_FLOOR)
    chw = rgb.permute(0, 3, 1, 2).float()
    return (chw - mean.float()[:, :, None, None]) / std.float()[:, :, None, None]
