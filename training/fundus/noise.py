"""Seeded, band-limited noise fields: the raw material of every texture.

Noise is drawn on a coarse grid and upsampled with bicubic interpolation, which costs a few milliseconds for a
whole image and gives smooth, natural-looking variation at a chosen feature size.
"""

from __future__ import annotations

import cv2
import numpy as np


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell_px: float) -> np.ndarray:
    """Float32 (H, W) noise with features about `cell_px` pixels across, mean ~0, standard deviation ~1."""
    cell_px = max(float(cell_px), 1.0)
    gh, gw = int(height / cell_px) + 3, int(width / cell_px) + 3
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    big = cv2.resize(grid, (int(round(gw * cell_px)), int(round(gh * cell_px))), interpolation=cv2.INTER_CUBIC)
    # Offsetting by one cell hides the grid's border, where cubic interpolation is one-sided.
    o = int(cell_px)
    out = big[o : o + height, o : o + width]
    if out.shape != (height, width):
        out = cv2.resize(big, (width, height), interpolation=cv2.INTER_LINEAR)
    sd = float(grid.std()) or 1.0
    # Bicubic interpolation of white noise keeps roughly 60 % of its standard deviation.
    return out * (1.0 / (0.6 * sd))


def fractal_noise(
    rng: np.random.Generator, height: int, width: int, cell_px: float, octaves: int = 3, persistence: float = 0.5
) -> np.ndarray:
    """Sum of `octaves` smooth-noise layers, each half the feature size and `persistence` times the amplitude."""
    total = np.zeros((height, width), np.float32)
    amp, norm = 1.0, 0.0
    for k in range(octaves):
        total += amp * smooth_noise(rng, height, width, cell_px / (2**k))
        norm += amp * amp
        amp *= persistence
    return total * (1.0 / np.sqrt(norm))


def polar_noise(
    rng: np.random.Generator,
    height: int,
    width: int,
    center: tuple[float, float],
    n_angle: int,
    radial_cell_px: float,
) -> np.ndarray:
    """Float32 (H, W) noise streaked radially from `center`: `n_angle` features around, `radial_cell_px` long.

    Radial streaks mimic structures that fan out from one point: nerve-fibre striations from the disc,
    choroidal vessels running from the posterior pole to the vortex veins.
    """
    max_r = float(np.hypot(max(center[0], width - center[0]), max(center[1], height - center[1]))) + 2.0
    n_r = int(max_r / max(radial_cell_px, 1.0)) + 4
    grid = rng.standard_normal((n_r, n_angle), dtype=np.float32)
    # Upsample in (radius, angle) space first, so the remap below only needs bilinear lookups.
    up_a, up_r = n_angle * 4, n_r * 4
    fine = cv2.resize(grid, (up_a, up_r), interpolation=cv2.INTER_CUBIC)
    xs = np.arange(width, dtype=np.float32) - center[0]
    ys = np.arange(height, dtype=np.float32) - center[1]
    gx, gy = np.meshgrid(xs, ys)
    angle = cv2.phase(gx, gy)  # 0..2pi, much faster than np.arctan2
    radius = cv2.magnitude(gx, gy)
    map_x = angle * np.float32(up_a / (2 * np.pi))
    map_y = radius * np.float32(up_r / max_r)
    out = cv2.remap(fine, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return out * (1.0 / (0.6 * (float(grid.std()) or 1.0)))
