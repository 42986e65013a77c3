"""The PyTorch side of a bundle: the network built from its manifest and weights, the runtime that runs it (the GPU
runtime, and the default where torch is installed), and what only PyTorch can compute: Grad-CAM's backward pass for a
model whose maps are not its forward pass's, and the lesion head. The CPU build has no torch and never loads this."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.gradcam import GradCAM
from ran_desktop.engine.model.manifest import Manifest
from ran_desktop.engine.model.ran import RAN, build_ran
from ran_desktop.engine.model.runtime import TORCH_RUNTIME_NAME, Outputs


class TorchRuntime:
    name = TORCH_RUNTIME_NAME

    def __init__(self, model: RAN, device: torch.device):
        self.model, self.device = model, device

    def run(self, batch: np.ndarray) -> Outputs:
        # Channels-last lets oneDNN (and cuDNN) run their fastest convolutions: 1.35x on a 2-core CPU.
        x = torch.from_numpy(batch).to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            output, features = self.model.forward_with_features(x)
        return Outputs(output.dr.float().cpu().numpy(), output.dme.float().cpu().numpy(),
                       features.float().cpu().numpy())


def build_network(folder: Path, manifest: Manifest, weights: Path, device: torch.device) -> RAN:
    """The manifest's architecture with the (verified) weights, float32, in eval mode on `device`."""
    try:
        model = build_ran(manifest.architecture["variant"], **manifest.architecture["kwargs"])
    except (TypeError, ValueError) as exc:
        raise BundleError(folder, f"manifest describes an architecture this version cannot build ({exc})") from exc
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise BundleError(weights, f"weights cannot be read ({exc})") from exc
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise BundleError(weights, f"weights do not fit the manifest's architecture ({_first_line(exc)})") from exc
    return model.to(device).eval()


class BackwardMap(NamedTuple):
    dr_logits: np.ndarray  # (1, 5)
    dme_logits: np.ndarray  # (1, 3)
    heatmap: np.ndarray  # (h, w) in [0, 1]
    class_index: int  # the class explained


def backward_map(model: RAN, tensor: np.ndarray, device: torch.device, head: str = "dr",
                 class_index: int | None = None) -> BackwardMap:
    """Grad-CAM of one preprocessed image (3, H, W) by autograd: for models whose maps are not the forward pass's
    (forward_cam.supports_forward_cam). The caller holds the model's lock."""
    x = torch.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32)).unsqueeze(0).to(device)
    with GradCAM(model) as cam:
        result = cam(x, head=head, class_index=class_index)
    return BackwardMap(result.dr_logits.float().cpu().numpy(), result.dme_logits.float().cpu().numpy(),
                       result.heatmap, result.class_index)


def lesion_probabilities(model: RAN, tensor: np.ndarray, device: torch.device) -> np.ndarray:
    """The lesion head's probabilities for one preprocessed image: float32 (kinds, h, w). The caller holds the
    model's lock."""
    x = torch.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32)).unsqueeze(0).to(device)
    with torch.inference_mode():
        _, logits = model.forward_with_lesions(x)
    return torch.sigmoid(logits.float())[0].cpu().numpy()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if len(text) == 1 else " ".join(line.strip() for line in text[:3])
