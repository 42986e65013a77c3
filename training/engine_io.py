"""Running a model over a data loader: probabilities, targets and the mean loss. Shared by training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ran_desktop.engine.model import LESION_STRIDE, FocalLoss, unpack_lesion_bits


@dataclass
class Predictions:
    dr_probs: np.ndarray  # (N, 5)
    dme_probs: np.ndarray  # (N, 3)
    dr_true: np.ndarray  # (N,), MISSING where unlabelled
    dme_true: np.ndarray
    loss: float


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


@torch.inference_mode()
def predict(model: nn.Module, loader: DataLoader, device: torch.device,
            criterion: TwoHeadLoss | None = None) -> Predictions:
    model.eval()
    dr_probs, dme_probs, dr_true, dme_true = [], [], [], []
    total, count = 0.0, 0
    for x, dr, dme in loader:
        x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        dr, dme = dr.to(device), dme.to(device)
        out = model(x)
        if criterion is not None:
            total += float(criterion(out, dr, dme)) * len(x)
            count += len(x)
        dr_probs.append(torch.softmax(out.dr.float(), 1).cpu().numpy())
        dme_probs.append(torch.softmax(out.dme.float(), 1).cpu().numpy())
        dr_true.append(dr.cpu().numpy())
        dme_true.append(dme.cpu().numpy())
    if not dr_probs:
        raise ValueError("no images to evaluate")
    return Predictions(
        np.concatenate(dr_probs), np.concatenate(dme_probs), np.concatenate(dr_true), np.concatenate(dme_true),
        total / count if count else float("nan"),
    )
