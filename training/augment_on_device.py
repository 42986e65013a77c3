"""Training's augmentation as batched tensor operations on the GPU (issue 21: training on a GPU was bound by its data
loaders, whose augmentation takes about 10 ms of CPU per sample), with preprocessing's last steps after it
(finish_on_device), so the loaders only hand over the cached squares and each sample's drawn choices.

The same augmentation as data.apply_augmentation, from the same `AugmentDraw` choices: the affine warp by kornia
(OpenCV's convention; OpenCV interpolates in fixed point, so a pixel may differ by a grey level), flips, brightness
and contrast inside the fundus with the same 8-bit rounding, hue and saturation through OpenCV's own 8-bit HSV
conversions (colour_tables), noise from a seeded generator on the device, and OpenCV's Gaussian blur.
tests/training/test_augment_on_device.py compares the two on the same choices.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from kornia.filters import gaussian_blur2d
from kornia.geometry.transform import warp_affine

from ran_desktop.engine.imaging.colour_tables import convert
from ran_desktop.engine.imaging.finish_on_device import finish_batch
from ran_desktop.engine.imaging.preprocess_settings import PreprocessSettings
from training.data import AugmentDraw, augment_matrix

DRAW_FIELDS = len(AugmentDraw._fields)


def draws_tensor(draws: list[AugmentDraw | None]) -> torch.Tensor:
    """Choices as one float64 row per sample (NaN where a sample is not augmented), as FundusDataset gives them."""
    return torch.tensor([list(d) if d is not None else [float("nan")] * DRAW_FIELDS for d in draws],
                        dtype=torch.float64)


def augment_batch(squares: torch.Tensor, draws: torch.Tensor, noise_std: float, generator: torch.Generator | None,
                  lesions: torch.Tensor | None = None, noise: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The drawn augmentation of uint8 (N, S, S, 3) squares on their device; rows of `draws` that are NaN are left
    as they are. `noise` (float32, the squares' shape) replaces the generator's, for comparisons."""
    size = squares.shape[1]
    device = squares.device
    chosen = ~torch.isnan(draws[:, 0])
    if not bool(chosen.any()):
        return squares, lesions
    rows = [AugmentDraw(*map(float, row)) for row in draws.tolist()]
    matrices = torch.tensor(np.stack([augment_matrix(r, size) if c else np.eye(2, 3) for r, c in
                                      zip(rows, chosen.tolist(), strict=True)]), dtype=torch.float32, device=device)
    nchw = squares.permute(0, 3, 1, 2).float()
    warped = warp_affine(nchw, matrices, (size, size), mode="bilinear", padding_mode="zeros", align_corners=True)
    out = warped.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    moved = None
    if lesions is not None:
        moved = warp_affine(lesions[:, None].float(), matrices, (size, size), mode="nearest", padding_mode="zeros",
                            align_corners=True)[:, 0].round().to(torch.uint8)
    hflip = torch.tensor([r.hflip > 0 for r in rows], device=device)
    vflip = torch.tensor([r.vflip > 0 for r in rows], device=device)
    out = torch.where(hflip.view(-1, 1, 1, 1), out.flip(2), out)
    out = torch.where(vflip.view(-1, 1, 1, 1), out.flip(1), out)
    if moved is not None:
        moved = torch.where(hflip.view(-1, 1, 1), moved.flip(2), moved)
        moved = torch.where(vflip.view(-1, 1, 1), moved.flip(1), moved)

    def column(name: str) -> torch.Tensor:
        return torch.tensor([getattr(r, name) for r in rows], dtype=torch.float32, device=device).view(-1, 1, 1, 1)

    mask = out.amax(dim=3, keepdim=True) > 0
    img = out.float() * column("brightness")
    inside = mask.expand_as(img)
    counts = inside.sum(dim=(1, 2, 3), keepdim=True)
    mean = torch.where(counts > 0, (img * inside).sum(dim=(1, 2, 3), keepdim=True) / counts.clamp_min(1), 0.0)
    img = ((img - mean) * column("contrast") + mean).clamp(0, 255).to(torch.uint8)
    hsv = convert(img, cv2.COLOR_RGB2HSV).float()
    hue = torch.remainder(hsv[..., 0:1] + column("hue") / 2, 180)  # OpenCV's hue is 0-180
    hsv = torch.cat([hue, hsv[..., 1:2] * column("saturation"), hsv[..., 2:3]], dim=3)
    img = convert(hsv.clamp(0, 255).to(torch.uint8), cv2.COLOR_HSV2RGB).float()
    if noise is not None:
        img = img + noise.to(device)
    elif noise_std > 0:
        img = img + torch.randn(img.shape, generator=generator, device=device) * noise_std
    for i, r in enumerate(rows):
        if r.blur_sigma > 0:
            k = int(round(r.blur_sigma * 8 + 1)) | 1  # cv2.GaussianBlur's kernel size for a float image
            one = img[i:i + 1].permute(0, 3, 1, 2)
            sigma = torch.tensor([[r.blur_sigma, r.blur_sigma]], device=device)
            img[i] = gaussian_blur2d(one, (k, k), sigma, border_type="reflect")[0].permute(1, 2, 0)
    img = torch.where(mask, img, 0.0).clamp(0, 255).to(torch.uint8)
    keep = chosen.view(-1, 1, 1, 1)
    result = torch.where(keep, img, squares)
    if moved is not None and lesions is not None:
        moved = torch.where(chosen.view(-1, 1, 1), moved, lesions)
    return result, moved


def model_inputs(squares: torch.Tensor, draws: torch.Tensor | None, settings: PreprocessSettings, noise_std: float,
                 generator: torch.Generator | None, lesions: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The model's input (float32 (N, 3, S, S)) for a batch of squares on the device: augmented where drawn, then
    finished as preprocess.finish does; and the lesion bits moved with them."""
    if draws is not None:
        squares, lesions = augment_batch(squares, draws.to(squares.device), noise_std, generator, lesions)
    return finish_batch(squares, settings)[1], lesions
