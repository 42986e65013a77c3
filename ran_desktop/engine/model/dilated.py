"""The dilated convolution module: five parallel receptive fields over the encoder's map, fused by a 1x1 conv."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DILATION_RATES: tuple[int, int, int] = (2, 3, 5)


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> nn.Sequential:
    # padding = dilation * (k - 1) / 2 keeps the map size (14x14 for a 224 input) at every rate.
    padding = dilation * (kernel_size - 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ImagePoolingBranch(nn.Module):
    """Global average pool -> 1x1 conv -> ReLU -> bilinear upsample back to the input's size.

    The paper puts BatchNorm after this conv as after every other, but that BatchNorm would see one value per
    image per channel: it fails outright for a batch of one in training mode and is noise at the paper's batch of 8.
    The conv keeps a bias instead.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.relu(self.conv(self.pool(x)))
        return F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False)


class DilatedConvModule(nn.Module):
    """1x1, 3x3 at dilation 2, 3 and 5, and image pooling, concatenated with the input, projected by 1x1 conv.

    Defaults are the paper's: 512 in, five branches of 256, 5 * 256 + 512 = 1792 concatenated, 512 out.
    """

    def __init__(self, in_channels: int = 512, branch_channels: int = 256, out_channels: int = 512) -> None:
        super().__init__()
        self.pointwise = _conv_bn_relu(in_channels, branch_channels, kernel_size=1)
        self.dilated = nn.ModuleList(
            _conv_bn_relu(in_channels, branch_channels, kernel_size=3, dilation=rate) for rate in DILATION_RATES
        )
        self.image_pool = ImagePoolingBranch(in_channels, branch_channels)
        self.concat_channels = (2 + len(DILATION_RATES)) * branch_channels + in_channels
        self.project = _conv_bn_relu(self.concat_channels, out_channels, kernel_size=1)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.pointwise(x), *(conv(x) for conv in self.dilated), self.image_pool(x), x]
        return self.project(torch.cat(branches, dim=1))
