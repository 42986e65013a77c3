"""Focal loss for imbalanced grades (most fundus photographs show no retinopathy)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_REDUCTIONS = ("mean", "sum", "none")


class FocalLoss(nn.Module):
    """FL(p_t) = -(1 - p_t)^gamma * log(p_t), from logits (N, C, ...) and integer targets (N, ...).

    `weight` and `ignore_index` behave as in `F.cross_entropy` (weighted mean divides by the summed weights of the
    kept targets), so gamma = 0 gives exactly cross entropy. A batch whose targets are all ignored (no DME label in
    any image) gives 0 with a gradient of zeros instead of cross entropy's NaN.
    """

    def __init__(
        self, gamma: float = 2.0, weight: Tensor | None = None, ignore_index: int = -1, reduction: str = "mean"
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.gamma = float(gamma)
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.weight: Tensor | None
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        keep = target != self.ignore_index
        safe_target = torch.where(keep, target, torch.zeros_like(target)).unsqueeze(1)
        log_pt = F.log_softmax(logits, dim=1).gather(1, safe_target).squeeze(1)
        loss = -log_pt
        if self.gamma > 0:
            # 1 - p_t through expm1 stays accurate when p_t is close to 1, where the loss matters least but
            # a rounded-to-zero base would make pow's gradient NaN for gamma < 1.
            one_minus_pt = (-torch.expm1(log_pt)).clamp_min(torch.finfo(log_pt.dtype).tiny)
            loss = one_minus_pt.pow(self.gamma) * loss
        weights = keep.to(loss.dtype)
        if self.weight is not None:
            weights = weights * self.weight.to(loss.dtype)[safe_target.squeeze(1)]
        loss = torch.where(keep, loss * weights, torch.zeros_like(loss))
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        total_weight = weights.sum()
        # Dividing an all-ignored (zero) sum by 1 instead of 0 gives 0 with a graph, not NaN, and needs no
        # host-device sync as an `if` on the tensor would.
        return loss.sum() / torch.where(total_weight > 0, total_weight, torch.ones_like(total_weight))
