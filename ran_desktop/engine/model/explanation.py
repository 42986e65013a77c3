"""Grad-CAM on demand for the detail view: any head, any grade, for one preprocessed image.

Holds the model's lock for the whole pass, so a running batch never shares a forward pass with it. The maps come
from the forward pass through the bundle's runtime (activation_maps.py), so the CPU build, without torch, draws them
too; only a model whose maps need the backward pass (and the lesion head) needs PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Grad-CAM's backward pass and the lesion head (torch) load through the package's lazy names, only where used.
import ran_desktop.engine.model as ran_model
from ran_desktop.engine.grading import HEADS
from ran_desktop.engine.imaging.heatmap import overlay_heatmap, upsample_heatmap
from ran_desktop.engine.model.activation_maps import maps_of
from ran_desktop.engine.model.bundle import LoadedModel
from ran_desktop.engine.model.runtime import OnnxRuntime, predict, softmax


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
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    x = np.ascontiguousarray(tensor, dtype=np.float32)[None]
    if loaded.forward_cam:
        return _explain_forward(loaded, x, head, class_index)
    with loaded.lock:
        result = ran_model.torch_runtime.backward_map(loaded.network, x[0], loaded.device.device, head, class_index)
    probs = softmax((result.dr_logits if head == "dr" else result.dme_logits).astype(np.float64))[0]
    return Explanation(
        head=head,
        class_index=result.class_index,
        predicted=int(np.argmax(probs)),
        heatmap=result.heatmap,
        probs=tuple(float(p) for p in probs),
    )


def _explain_forward(loaded: LoadedModel, x: np.ndarray, head: str, class_index: int | None) -> Explanation:
    """The forward pass's map (activation_maps.py) through the bundle's runtime, with its probabilities computed as
    the screener computes them (flip-averaged where the bundle's operating point says so)."""
    with loaded.lock:
        found = predict(loaded.runner, x, loaded.manifest.flip_average)
    probs = (found.dr if head == "dr" else found.dme)[0]
    predicted = int(np.argmax(probs))
    explained = predicted if class_index is None else class_index
    if not 0 <= explained < len(probs):
        raise ValueError(f"class index {explained} out of range for {len(probs)} classes")
    heat = maps_of(found.features, loaded.head_weights[head], np.array([explained]), found.mirrored)[0]
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
    """Whether the model's lesion layer can be drawn: a bundle with a lesion head, in PyTorch or (the CPU build) as
    its lesion graph."""
    if loaded.model is not None:
        return getattr(loaded.model, "lesion_head", None) is not None
    return isinstance(loaded.runtime, OnnxRuntime) and loaded.runtime.has_lesions


def lesion_maps(loaded: LoadedModel, tensor: np.ndarray) -> np.ndarray:
    """The lesion head's probabilities, float32 (kinds, h, w) at a quarter of the input's size, in LESION_KINDS
    order. ValueError where the bundle has no lesion head."""
    if not has_lesion_head(loaded):
        raise ValueError("this model has no lesion head")
    runtime = loaded.runtime
    with loaded.lock:
        if loaded.model is None and isinstance(runtime, OnnxRuntime):  # the CPU build: the lesion graph
            logits = runtime.lesion_logits(np.ascontiguousarray(tensor, dtype=np.float32)[None])
            return (1 / (1 + np.exp(-logits.astype(np.float32))))[0]
        return ran_model.torch_runtime.lesion_probabilities(loaded.network, tensor, loaded.device.device)


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
