"""The training objective: focal loss on both grading heads, and cross entropy plus Dice on the lesion head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ran_desktop.engine.model.lesion_head import LESION_STRIDE, unpack_lesion_bits
from ran_desktop.engine.model.losses import FocalLoss


class TwoHeadLoss(nn.Module):
    """Focal loss (cross entropy when gamma = 0) on both heads; unlabelled targets (-1) are masked out."""

    def __init__(self, gamma: float = 2.0, dme_weight: float = 1.0):
        super().__init__()
        self.dr = FocalLoss(gamma=gamma, ignore_index=-1)
        self.dme = FocalLoss(gamma=gamma, ignore_index=-1)
        self.dme_weight = dme_weight

    def forward(self, output, dr_target: torch.Tensor, dme_target: torch.Tensor) -> torch.Tensor:
        return self.dr(output.dr, dr_target) + self.dme_weight * self.dme(output.dme, dme_target)


def lesion_targets(bits: torch.Tensor, stride: int = LESION_STRIDE) -> torch.Tensor:
    """(N, size, size) lesion bits -> (N, kinds, size / stride, size / stride) 0/1 targets at the head's
    resolution: a cell is a lesion where any pixel in it is, so a microaneurysm smaller than a cell still counts."""
    return F.max_pool2d(unpack_lesion_bits(bits), stride)


class LesionLoss(nn.Module):
    """Binary cross entropy plus soft Dice per lesion kind, over the images whose masks are known.

    Cross entropy alone settles for "no lesion anywhere" (lesion cells are about 1 % of a photograph); Dice, summed
    over the batch per kind, weighs the few lesion cells as much as the many background ones.
    """

    def forward(self, logits: torch.Tensor, bits: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        if not bool(known.any()):
            return logits.sum() * 0.0
        logits = logits[known].float()
        target = lesion_targets(bits[known], bits.shape[-1] // logits.shape[-1])
        bce = F.binary_cross_entropy_with_logits(logits, target)
        p = torch.sigmoid(logits)
        overlap = (p * target).sum(dim=(0, 2, 3))
        total = p.sum(dim=(0, 2, 3)) + target.sum(dim=(0, 2, 3))
        dice = 1.0 - (2.0 * overlap + 1.0) / (total + 1.0)
        return bce + dice.mean()
