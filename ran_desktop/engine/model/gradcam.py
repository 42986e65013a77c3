"""Grad-CAM heat maps: where in the photograph the network found the evidence for a grade.

    with GradCAM(model) as cam:
        result = cam(x, head="dr")          # one forward and one backward pass
    heat = upsample_heatmap(result.heatmap, (width, height))   # heatmap.py
    picture = overlay_heatmap(rgb, heat)

The logits of that same forward pass come back with the map, so callers need no second pass to grade the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from ran_desktop.engine.grading import HEADS


@dataclass(frozen=True)
class CamResult:
    """Heat maps at the target layer's resolution, each scaled to [0, 1], with the logits of the same pass."""

    heatmaps: np.ndarray  # float32 (N, h, w)
    dr_logits: Tensor  # (N, num_dr_classes), detached
    dme_logits: Tensor  # (N, num_dme_classes), detached
    class_indices: tuple[int, ...]  # the class explained, per image
    head: str

    @property
    def heatmap(self) -> np.ndarray:
        """The single image's map, (h, w); for a batch of one."""
        self._require_single()
        return self.heatmaps[0]

    @property
    def class_index(self) -> int:
        """The single image's explained class; for a batch of one."""
        self._require_single()
        return self.class_indices[0]

    def _require_single(self) -> None:
        if len(self.class_indices) != 1:
            raise ValueError(f"this result holds {len(self.class_indices)} images; use heatmaps / class_indices")


class GradCAM:
    """Grad-CAM on one layer of a model whose output has `dr` and `dme` logits (RAN).

    Use as a context manager: the hook lives only inside the `with` block. The model's mode is left as it is
    (callers put it in eval mode for screening). Gradients are taken with respect to the layer's activation
    only, so the parameters' `.grad` are never touched, and frozen parameters work.
    """

    def __init__(self, model: nn.Module, target_layer: nn.Module | None = None) -> None:
        if target_layer is None:
            target_layer = getattr(model, "cam_layer", None)
            if not isinstance(target_layer, nn.Module):
                raise ValueError("the model has no `cam_layer`; pass target_layer")
        self.model = model
        self.target_layer = target_layer
        self._handle: RemovableHandle | None = None
        self._activation: Tensor | None = None

    def __enter__(self) -> GradCAM:
        self._handle = self.target_layer.register_forward_hook(self._capture)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._activation = None

    def _capture(self, module: nn.Module, inputs: Any, output: Tensor) -> Tensor:
        # A fresh leaf in place of the output: the backward pass stops here (no work, no grads upstream) and
        # it works even when every parameter is frozen and nothing upstream requires grad.
        self._activation = output.detach().requires_grad_(True)
        return self._activation

    def __call__(self, x: Tensor, head: str = "dr", class_index: int | Sequence[int] | None = None) -> CamResult:
        """Explain `class_index` of `head` (default: each image's predicted class) for the batch `x` (N, 3, H, W)."""
        if self._handle is None:
            raise RuntimeError("use GradCAM inside a `with` block")
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        # Grad-CAM needs autograd even when the caller runs under inference_mode or no_grad; the clone turns a
        # tensor created under inference_mode into an ordinary one.
        with torch.inference_mode(False), torch.enable_grad():
            x = x.clone()
            self._activation = None
            output = self.model(x)
            activation = self._activation
            self._activation = None
            if activation is None:
                raise RuntimeError("the target layer did not run in the model's forward pass")
            logits: Tensor = getattr(output, head)
            classes = _class_indices(logits, class_index)
            index = torch.tensor(classes, device=logits.device).unsqueeze(1)
            score = logits.gather(1, index).sum()  # images are independent, so one backward serves the batch
            (gradient,) = torch.autograd.grad(score, activation)
        heatmaps = _grad_cam(activation.detach(), gradient)
        return CamResult(
            heatmaps=heatmaps,
            dr_logits=output.dr.detach(),
            dme_logits=output.dme.detach(),
            class_indices=classes,
            head=head,
        )


def _class_indices(logits: Tensor, class_index: int | Sequence[int] | None) -> tuple[int, ...]:
    batch, num_classes = logits.shape
    if class_index is None:
        return tuple(int(k) for k in logits.detach().argmax(dim=1).tolist())
    classes = (class_index,) * batch if isinstance(class_index, int) else tuple(int(k) for k in class_index)
    if len(classes) != batch:
        raise ValueError(f"{len(classes)} class indices for a batch of {batch}")
    if any(not 0 <= k < num_classes for k in classes):
        raise ValueError(f"class indices {classes} out of range for {num_classes} classes")
    return classes


def _grad_cam(activation: Tensor, gradient: Tensor) -> np.ndarray:
    """ReLU(sum_k mean(dy/dA_k) * A_k), then min-max scaled to [0, 1] per image (all zeros where flat)."""
    weights = gradient.float().mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activation.float()).sum(dim=1))
    low = cam.amin(dim=(1, 2), keepdim=True)
    span = cam.amax(dim=(1, 2), keepdim=True) - low
    scaled = torch.where(span > 0, (cam - low) / span.clamp_min(torch.finfo(cam.dtype).tiny), torch.zeros_like(cam))
    return scaled.cpu().numpy().astype(np.float32)
