"""Heat maps from the forward pass: the class activation maps of every DR and DME class, with no backward pass.

The RAN's heads are global average pooling -> dropout (identity at inference) -> linear, on the dilated module's
output A, which is Grad-CAM's target layer. There the gradient of class c's logit with respect to A_k at every
position is W_ck / (h * w), so Grad-CAM's channel weights are W_ck / (h * w) and its map relu(sum_k W_ck A_k) / (h*w):
the class activation map up to a constant, which per-image min-max scaling removes. So the maps of every class come
out of the forward pass itself, inside batched inference (tests/engine/model/test_forward_cam.py checks them against
the autograd Grad-CAM and the grad-cam package). Where a model does not have that shape, callers keep Grad-CAM.
The maps of any runtime's outputs are drawn in numpy (activation_maps.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from ran_desktop.engine.model.activation_maps import scale_maps
from ran_desktop.engine.model.ran import RAN, RANOutput


class ForwardCams(NamedTuple):
    output: RANOutput  # both heads' logits
    dr: Tensor  # (N, DR classes, h, w): relu(sum_k W_ck A_k), unscaled
    dme: Tensor  # (N, DME classes, h, w)


def supports_forward_cam(model: nn.Module) -> bool:
    """Whether Grad-CAM on this model's `cam_layer` equals its class activation maps: a RAN whose heads are a linear
    layer on the globally averaged dilated-module output (nothing in between but dropout)."""
    return (isinstance(model, RAN) and model.cam_layer is model.dilated and isinstance(model.pool, nn.AdaptiveAvgPool2d)
            and model.pool.output_size in (1, (1, 1)) and isinstance(model.dr_head, nn.Linear)
            and isinstance(model.dme_head, nn.Linear) and not model.training)


def class_maps(features: Tensor, head: nn.Linear) -> Tensor:
    """relu(sum_k W_ck A_k) for every class c of `head`: (N, classes, h, w), float32."""
    return torch.relu(torch.einsum("nkhw,ck->nchw", features.float(), head.weight.float()))


def forward_cams(model: RAN, x: Tensor) -> ForwardCams:
    """One forward pass: the logits and every class's map. Call under torch.inference_mode (or no_grad)."""
    output, features = model.forward_with_features(x)
    return ForwardCams(output, class_maps(features, model.dr_head), class_maps(features, model.dme_head))


def scale(maps: Tensor) -> np.ndarray:
    """Each (h, w) map min-max scaled to [0, 1] (all zeros where flat), float32, as Grad-CAM's are."""
    return scale_maps(maps.detach().float().cpu().numpy())


def chosen(maps: Tensor, classes: Tensor) -> Tensor:
    """The map of each image's class: (N, h, w) from (N, C, h, w) and (N,) class indices."""
    return maps[torch.arange(maps.shape[0], device=maps.device), classes.to(maps.device)]
