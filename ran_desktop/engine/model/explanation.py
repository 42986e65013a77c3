"""Grad-CAM on demand for the detail view: any head, any grade, for one preprocessed image.

Holds the model's lock for the whole pass, so a running batch never shares a forward pass with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ran_desktop.engine.imaging.heatmap import overlay_heatmap, upsample_heatmap
from ran_desktop.engine.model.bundle import LoadedModel
from ran_desktop.engine.model.forward_cam import maps_of, supports_forward_cam
from ran_desktop.engine.model.gradcam import HEADS, GradCAM
from ran_desktop.engine.model.runtime import predict


@dataclass(frozen=True, eq=False)
class Explanation:
    head: str  # "dr" or "dme"
    class_index: int  # the grade explained
    predicted: int  # the head's own grade for this image
    heatmap: np.ndarray  # float32 (h, w) in [0, 1], feature resolution
    probs: tuple[float, ...]  # the head's class probabilities from the same pass


def explain(loaded: LoadedModel, tensor: np.ndarray, head: str = "dr", class_index: int | None = None) -> Explanation:
    """The map of `class_index` (default: the head's own grade) for one preprocessed image: from the forward pass
    where the model allows it (forward_cam.py), else by Grad-CAM's backward pass."""
    x = torch.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32)).unsqueeze(0)
    if supports_forward_cam(loaded.model):
        return _explain_forward(loaded, x, head, class_index)
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


def _explain_forward(loaded: LoadedModel, x: torch.Tensor, head: str, class_index: int | None) -> Explanation:
    """The forward pass's map (forward_cam.py) through the bundle's runtime, with its probabilities computed as the
    screener computes them (flip-averaged where the bundle's operating point says so)."""
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    with loaded.lock:
        found = predict(loaded.runner, x.numpy(), loaded.manifest.flip_average)
    probs = (found.dr if head == "dr" else found.dme)[0]
    predicted = int(np.argmax(probs))
    explained = predicted if class_index is None else class_index
    if not 0 <= explained < len(probs):
        raise ValueError(f"class index {explained} out of range for {len(probs)} classes")
    weight = (loaded.model.dr_head if head == "dr" else loaded.model.dme_head).weight.detach().float().cpu().numpy()
    heat = maps_of(found.features, weight, np.array([explained]), found.mirrored)[0]
    return Explanation(head=head, class_index=explained, predicted=predicted, heatmap=heat,
                       probs=tuple(float(p) for p in probs))


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


# The model's lesion layer: each kind in its own colour, distinct from the grader's marks (lesion_marks.COLOURS).
LESION_COLOURS = {"microaneurysms": (255, 64, 129), "haemorrhages": (255, 145, 0), "hard_exudates": (0, 230, 118),
                  "soft_exudates": (41, 121, 255)}
LESION_COLOUR_NAMES = {"microaneurysms": "pink", "haemorrhages": "orange", "hard_exudates": "green",
                       "soft_exudates": "blue"}
LESION_SHOWN_FROM = 0.5  # a pixel is drawn where the head's probability for some kind reaches this


def has_lesion_head(loaded: LoadedModel) -> bool:
    return getattr(loaded.model, "lesion_head", None) is not None


def lesion_maps(loaded: LoadedModel, tensor: np.ndarray) -> np.ndarray:
    """The lesion head's probabilities, float32 (kinds, h, w) at a quarter of the input's size, in LESION_KINDS
    order. ValueError where the bundle has no lesion head."""
    if not has_lesion_head(loaded):
        raise ValueError("this model has no lesion head")
    x = torch.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32)).unsqueeze(0)
    with loaded.lock, torch.inference_mode():
        _, logits = loaded.model.forward_with_lesions(x.to(loaded.device.device))
    return torch.sigmoid(logits.float())[0].cpu().numpy()


def lesion_layer(maps: np.ndarray, kinds: tuple[str, ...], size: tuple[int, int],
                 mask: np.ndarray | None = None) -> np.ndarray:
    """The lesion maps at `size` = (width, height) as RGBA uint8: each pixel in the colour of its most probable kind
    where that probability reaches LESION_SHOWN_FROM, transparent elsewhere and outside `mask`."""
    width, height = size
    resized = np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR) for m in maps])
    strongest, kind = resized.max(axis=0), resized.argmax(axis=0)
    palette = np.array([LESION_COLOURS[k] for k in kinds], np.uint8)
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., :3] = palette[kind]
    shown = strongest >= LESION_SHOWN_FROM
    if mask is not None:
        shown &= mask.astype(bool)
    rgba[..., 3] = np.where(shown, 255, 0)
    return rgba


def lesion_counts(maps: np.ndarray, kinds: tuple[str, ...]) -> dict[str, int]:
    """Connected regions per kind where the kind is the pixel's most probable one at or above LESION_SHOWN_FROM."""
    strongest, kind = maps.max(axis=0), maps.argmax(axis=0)
    counts = {}
    for i, name in enumerate(kinds):
        region = ((kind == i) & (strongest >= LESION_SHOWN_FROM)).astype(np.uint8)
        counts[name] = int(cv2.connectedComponents(region)[0] - 1)
    return counts
