"""Grad-CAM on demand for the detail view: any head, any grade, for one preprocessed image.

Holds the model's lock for the whole pass, so a running batch never shares a forward pass with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ran_desktop.engine.imaging.heatmap import overlay_heatmap, upsample_heatmap
from ran_desktop.engine.model.bundle import LoadedModel
from ran_desktop.engine.model.gradcam import GradCAM


@dataclass(frozen=True, eq=False)
class Explanation:
    head: str  # "dr" or "dme"
    class_index: int  # the grade explained
    predicted: int  # the head's own grade for this image
    heatmap: np.ndarray  # float32 (h, w) in [0, 1], feature resolution
    probs: tuple[float, ...]  # the head's class probabilities from the same pass


def explain(loaded: LoadedModel, tensor: np.ndarray, head: str = "dr", class_index: int | None = None) -> Explanation:
    x = torch.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32)).unsqueeze(0)
    with loaded.lock:
        x = x.to(loaded.device.device)
        with GradCAM(loaded.model) as cam:
            result = cam(x, head=head, class_index=class_index)
    logits = result.dr_logits if head == "dr" else result.dme_logits
    probs = torch.softmax(logits.float(), dim=1)[0].cpu().numpy()
    return Explanation(
        head=head,
        class_index=result.class_index,
        predicted=int(np.argmax(probs)),
        heatmap=result.heatmap,
        probs=tuple(float(p) for p in probs),
    )


def heat_layer(heat: np.ndarray, size: tuple[int, int], mask: np.ndarray | None = None) -> np.ndarray:
    """The colour-mapped heat map at `size` = (width, height) as RGBA uint8, transparent outside `mask`.

    Drawn opaque: the viewer blends it over the photograph at the opacity the user picks.
    """
    width, height = size
    heat = upsample_heatmap(heat, (width, height))
    colour = overlay_heatmap(np.zeros((height, width, 3), np.uint8), heat, opacity=1.0)
    alpha = np.full((height, width, 1), 255, np.uint8)
    if mask is not None:
        alpha[~mask.astype(bool)] = 0
    return np.ascontiguousarray(np.concatenate([colour, alpha], axis=2))
