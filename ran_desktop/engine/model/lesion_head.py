"""The lesion head: a small segmentation output (microaneurysms, haemorrhages, hard and soft exudates) on the encoder.

It fuses the dilated module's map (stride 16: what the grading heads see) with the first attention stage's map
(stride 4: fine enough for a microaneurysm at 320 px), so training it pulls the shared encoder towards the lesions
the ICDR grade is made of. Its logits are at a quarter of the input's size; one channel per lesion kind, each an
independent yes/no (a haemorrhage and an exudate may touch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Channel order of the head's output and the bit order of the lesion masks training writes (bit i: LESION_KINDS[i]).
LESION_KINDS: tuple[str, ...] = ("microaneurysms", "haemorrhages", "hard_exudates", "soft_exudates")
LESION_STRIDE = 4


class LesionHead(nn.Module):
    """(fine map at stride 4, coarse map at stride 16) -> lesion logits (N, kinds, H / 4, W / 4)."""

    def __init__(self, fine_channels: int, coarse_channels: int, kinds: int = len(LESION_KINDS),
                 width: int | None = None) -> None:
        super().__init__()
        width = width or max(fine_channels, 16)
        self.coarse = nn.Sequential(
            nn.Conv2d(coarse_channels, width, kernel_size=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        self.fuse = nn.Sequential(
            nn.Conv2d(fine_channels + width, width, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.classify = nn.Conv2d(width, kinds, kernel_size=1)
        self.init_prior()

    def init_prior(self, probability: float = 0.01) -> None:
        """Lesion pixels are rare: every output starts near `probability`, so the first steps are not spent
        unlearning 0.5 (RAN calls this again after its own initialisation zeroes conv biases)."""
        nn.init.normal_(self.classify.weight, std=0.01)
        assert self.classify.bias is not None  # built with bias=True
        nn.init.constant_(self.classify.bias, float(torch.logit(torch.tensor(probability))))

    def forward(self, fine: Tensor, coarse: Tensor) -> Tensor:
        up = F.interpolate(self.coarse(coarse), size=fine.shape[-2:], mode="bilinear", align_corners=False)
        return self.classify(self.fuse(torch.cat([fine, up], dim=1)))


def unpack_lesion_bits(packed: Tensor, kinds: int = len(LESION_KINDS)) -> Tensor:
    """(N, H, W) uint8 bit masks -> (N, kinds, H, W) float 0/1 targets."""
    bits = torch.arange(kinds, device=packed.device, dtype=torch.uint8)
    return ((packed.unsqueeze(1) >> bits.view(1, -1, 1, 1)) & 1).float()
