"""The two attention mechanisms of RAN: channel attention (the paper's AGM) and the residual attention module."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Builds one residual unit that keeps both the channel count and the resolution of its input.
UnitFactory = Callable[[int], nn.Module]


class ChannelAttention(nn.Module):
    """Attention guided module (AGM): squeeze to 1x1xC, excite through C/r, rescale each channel by a (0, 1) gate."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be positive, got {channels} and {reduction}")
        # Narrow maps (tiny test variants) would otherwise get zero hidden channels.
        self.hidden_channels = max(1, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.squeeze = nn.Conv2d(channels, self.hidden_channels, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.excite = nn.Conv2d(self.hidden_channels, channels, kernel_size=1)
        self.gate = nn.Sigmoid()

    def channel_weights(self, x: Tensor) -> Tensor:
        """The per-channel gates, shape (N, C, 1, 1), each in (0, 1)."""
        return self.gate(self.excite(self.relu(self.squeeze(self.pool(x)))))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.channel_weights(x)


def soft_mask_depth(size: int, min_size: int = 7) -> int:
    """How many stride-2 max-pools take a `size` map down to no less than `min_size` (at least one).

    56 -> 3, 28 -> 2, 14 -> 1 with the default 7: the stage 1-3 maps of a 224 input, as in Wang et al. 2017.
    """
    depth = 0
    while (size + 1) // 2 >= min_size:  # a 3x3, stride 2, padding 1 pool gives ceil(size / 2)
        size = (size + 1) // 2
        depth += 1
    return max(1, depth)


def _resize_to(x: Tensor, like: Tensor) -> Tensor:
    # Upsample to the exact size of the other map: pooling odd sizes makes fixed scale factors drift.
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class SoftMaskBranch(nn.Module):
    """Bottom-up max-pools to a coarse map, then a symmetric top-down path with skips; sigmoid mask in (0, 1).

    The output has the input's shape: one weight per channel and position ("mixed" attention).
    """

    def __init__(self, channels: int, depth: int, unit: UnitFactory) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"soft-mask depth must be at least 1, got {depth}")
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.down = nn.ModuleList(unit(channels) for _ in range(depth))
        self.skips = nn.ModuleList(unit(channels) for _ in range(depth - 1))
        # A second unit at the coarsest level, so the bottom of the hourglass gets two like every other level.
        self.bottom = unit(channels)
        self.up = nn.ModuleList(unit(channels) for _ in range(depth - 1))
        self.head = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size=1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        skips: list[Tensor] = []
        h = x
        for level, down in enumerate(self.down):
            h = down(self.pool(h))
            if level < len(self.skips):
                skips.append(self.skips[level](h))
        h = self.bottom(h)
        for up, skip in zip(self.up, reversed(skips), strict=True):
            h = up(_resize_to(h, skip) + skip)
        return self.head(_resize_to(h, x))


class ResidualAttentionModule(nn.Module):
    """Trunk T and soft mask M on the same input; H = (1 + M) * T (attention-residual learning).

    With a plain H = M * T, stacked masks in (0, 1) shrink features layer after layer; adding the identity keeps
    T's signal and lets the mask only emphasise, which is what makes deep stacks trainable.
    """

    def __init__(self, channels: int, unit: UnitFactory, mask_depth: int = 1, trunk_units: int = 2) -> None:
        super().__init__()
        if trunk_units < 1:
            raise ValueError(f"the trunk needs at least one residual unit, got {trunk_units}")
        self.trunk = nn.Sequential(*(unit(channels) for _ in range(trunk_units)))
        self.mask = SoftMaskBranch(channels, mask_depth, unit)

    def forward(self, x: Tensor) -> Tensor:
        trunk = self.trunk(x)
        mask = self.mask(x)
        return torch.addcmul(trunk, mask, trunk)  # trunk + mask * trunk == (1 + mask) * trunk
