"""The bundle's inference graph: the network exported to ONNX beside its safetensors weights, so a CPU-only clinic
build can run it without torch (issue 22), checked against PyTorch before it is written into the manifest.

    ran-export --add-graph BUNDLE [--check-photos FOLDER]

The graph takes the preprocessed batch (N, 3, S, S) and gives both heads' logits and the dilated module's map (the
heat maps' source, engine/model/forward_cam.py). Opset pinned (OPSET): a runtime that reads the bundle knows what it
gets. The check runs both on the sample photograph, generated photographs of every grade and any photographs given,
prepared as the app prepares them: every probability within CHECK_TOLERANCE, or the graph is not written.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime
import torch
from torch import Tensor, nn

from ran_desktop.engine.atomic import write_bytes_atomically
from ran_desktop.engine.imaging.loading import iter_image_files
from ran_desktop.engine.model.bundle import LoadedModel, load_bundle, sha256_of
from ran_desktop.engine.model.bundle_writer import write_manifest
from ran_desktop.engine.model.forward_cam import supports_forward_cam
from ran_desktop.engine.model.manifest import GRAPH_NAME, GRAPH_OUTPUTS, Manifest
from ran_desktop.engine.model.ran import RAN
from ran_desktop.engine.screening.preparation import Prepared, prepare_file
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions
from training.synthetic import generate_fundus

OPSET = 18
CHECK_TOLERANCE = 1e-4  # largest difference allowed between the graph's and PyTorch's class probabilities


class _Graph(nn.Module):
    """What the graph computes: the RAN's forward pass with the map its heads pool."""

    def __init__(self, model: RAN) -> None:
        super().__init__()
        self.model = model
        self.eval()  # a fresh wrapper is in training mode, and export would leave the network in it

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        output, features = self.model.forward_with_features(x)
        return output.dr, output.dme, features


def export_graph(model: RAN, input_size: int, path: Path) -> bytes:
    """Write the ONNX graph of `model` (float32, any batch size) to `path`; returns its bytes."""
    model = model.float().eval()
    example = torch.zeros(1, 3, input_size, input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        program = torch.onnx.export(
            _Graph(model), (example,), input_names=["input"], output_names=list(GRAPH_OUTPUTS),
            dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=OPSET, dynamo=True,
            external_data=False, verbose=False,
        )
    if program is None:
        raise ValueError("the ONNX exporter gave no graph")
    program.save(str(path), external_data=False)
    return path.read_bytes()


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def check_graph(graph: bytes, model: RAN, tensors: np.ndarray, batch_size: int = 8) -> dict[str, Any]:
    """Both runtimes on the same inputs: the largest probability and feature-map differences. ValueError where a
    probability differs by more than CHECK_TOLERANCE."""
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    worst = {"probability": 0.0, "features": 0.0}
    for start in range(0, len(tensors), batch_size):
        batch = np.ascontiguousarray(tensors[start:start + batch_size], dtype=np.float32)
        dr, dme, features = session.run(list(GRAPH_OUTPUTS), {"input": batch})
        with torch.inference_mode():
            output, reference = model.float().eval().forward_with_features(torch.from_numpy(batch))
        for ours, theirs in ((dr, output.dr), (dme, output.dme)):
            worst["probability"] = max(worst["probability"],
                                       float(np.abs(_softmax(ours) - _softmax(theirs.numpy())).max()))
        worst["features"] = max(worst["features"], float(np.abs(features - reference.numpy()).max()))
    if worst["probability"] > CHECK_TOLERANCE:
        raise ValueError(f"the ONNX graph's probabilities differ from PyTorch's by up to {worst['probability']:.2g} "
                         f"(allowed {CHECK_TOLERANCE:g}): not written")
    return {"images": int(len(tensors)), "max_probability_difference": worst["probability"],
            "max_feature_difference": worst["features"], "runtime": f"onnxruntime {onnxruntime.__version__}"}


def check_photographs(loaded: LoadedModel, folder: Path, photos: Sequence[Path] = ()) -> np.ndarray:
    """Model inputs to check a graph on, prepared as the app prepares them: the photographs given, and generated
    ones of every DR grade (synthetic and real backgrounds), written to `folder`."""
    paths = list(photos)
    folder.mkdir(parents=True, exist_ok=True)
    for grade in range(5):
        sample = generate_fundus(4100 + grade, dr=grade, size=1024, background="real" if grade % 2 else "synthetic")
        path = folder / f"generated_grade{grade}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    plan = Screener(loaded, ScreeningOptions(prepare_on_device=False))._plan  # the model's input, finished here
    prepared = [e for path in paths for e in prepare_file(path, plan) if isinstance(e, Prepared)]
    return np.stack([e.tensor for e in prepared if e.tensor is not None])


def add_graph(folder: Path, photos: Sequence[Path], scratch: Path) -> Manifest:
    """Export the bundle's network, check it, write it beside the weights and name it in the (re-sealed) manifest."""
    loaded = load_bundle(folder, device="cpu")
    if not isinstance(loaded.network, RAN) or not supports_forward_cam(loaded.network):
        # The graph's feature output is where heat maps come from without torch (activation_maps.py).
        raise ValueError(f"{folder}: not a RAN bundle whose heat maps come from its forward pass")
    candidate = scratch / GRAPH_NAME
    scratch.mkdir(parents=True, exist_ok=True)
    graph = export_graph(loaded.network, loaded.manifest.input_size, candidate)
    checked = check_graph(graph, loaded.network, check_photographs(loaded, scratch, photos))
    path = folder / GRAPH_NAME
    write_bytes_atomically(path, graph)  # only a graph that passed the check
    described = {"file": GRAPH_NAME, "sha256": sha256_of(path), "bytes": path.stat().st_size, "format": "onnx",
                 "opset": OPSET, "outputs": list(GRAPH_OUTPUTS), "checked": checked}
    return write_manifest(folder, replace(loaded.manifest, inference_graph=described))


def photographs_in(folder: Path | None) -> list[Path]:
    return list(iter_image_files([folder])) if folder is not None else []
