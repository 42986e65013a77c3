"""The bundle's inference graph: the network exported to ONNX beside its safetensors weights, so a CPU-only clinic
build can run it without torch (issue 22), checked against PyTorch before it is written into the manifest.

    ran-export --add-graph BUNDLE [--check-photos FOLDER]

The graph takes the preprocessed batch (N, 3, S, S) and gives both heads' logits and the dilated module's map (the
heat maps' source, engine/model/forward_cam.py). For a bundle with a lesion head it also gives the encoder's stride-4
map, and a second, small graph (lesions.onnx) turns that map and the features into the lesion head's logits: the
model's lesion layer without torch, computed only when asked for. Opset pinned (OPSET): a runtime that reads the
bundle knows what it gets. The check runs both on the sample photograph, generated photographs of every grade and any
photographs given, prepared as the app prepares them: every probability (and lesion probability) within
CHECK_TOLERANCE, or nothing is written.
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
from ran_desktop.engine.model.manifest import (
    FINE_OUTPUT,
    GRAPH_NAME,
    GRAPH_OUTPUTS,
    LESION_GRAPH_INPUTS,
    LESION_GRAPH_NAME,
    LESION_GRAPH_OUTPUTS,
    Manifest,
)
from ran_desktop.engine.model.ran import RAN
from ran_desktop.engine.screening.preparation import Prepared, prepare_file
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions
from training.synthetic import generate_fundus

OPSET = 18
CHECK_TOLERANCE = 1e-4  # largest difference allowed between the graph's and PyTorch's class probabilities


class _Graph(nn.Module):
    """What the graph computes: the RAN's forward pass with the map its heads pool (and, with a lesion head, the
    encoder's stride-4 map the lesion head also reads)."""

    def __init__(self, model: RAN) -> None:
        super().__init__()
        self.model = model
        self.eval()  # a fresh wrapper is in training mode, and export would leave the network in it

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        output, features, fine = self.model.forward_with_maps(x)
        if self.model.lesion_head is None:
            return output.dr, output.dme, features
        return output.dr, output.dme, features, fine


class _LesionGraph(nn.Module):
    """The lesion head alone, from the two maps the graph gives."""

    def __init__(self, model: RAN) -> None:
        super().__init__()
        if model.lesion_head is None:
            raise ValueError("this RAN has no lesion head")
        self.head: nn.Module = model.lesion_head
        self.eval()

    def forward(self, fine: Tensor, features: Tensor) -> Tensor:
        return self.head(fine, features)


def graph_outputs(model: RAN) -> list[str]:
    return [*GRAPH_OUTPUTS, FINE_OUTPUT] if model.lesion_head is not None else list(GRAPH_OUTPUTS)


def export_graph(model: RAN, input_size: int, path: Path) -> bytes:
    """Write the ONNX graph of `model` (float32, any batch size) to `path`; returns its bytes."""
    model = model.float().eval()
    example = torch.zeros(1, 3, input_size, input_size)
    return _export(_Graph(model), (example,), ["input"], graph_outputs(model), path)


def export_lesion_graph(model: RAN, input_size: int, path: Path) -> bytes:
    """Write the lesion head's ONNX graph (from the graph's FINE_OUTPUT and features) to `path`; returns its bytes."""
    model = model.float().eval()
    with torch.inference_mode():
        _, features, fine = model.forward_with_maps(torch.zeros(1, 3, input_size, input_size))
    return _export(_LesionGraph(model), (fine, features), list(LESION_GRAPH_INPUTS), list(LESION_GRAPH_OUTPUTS), path)


def _export(module: nn.Module, example: tuple, inputs: list[str], outputs: list[str], path: Path) -> bytes:
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        program = torch.onnx.export(
            module, example, input_names=inputs, output_names=outputs,
            dynamic_shapes=tuple({0: batch} for _ in example), opset_version=OPSET, dynamo=True,
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


def check_lesion_graph(graph: bytes, lesion_graph: bytes, model: RAN, tensors: np.ndarray,
                       batch_size: int = 8) -> dict[str, Any]:
    """The lesion probabilities through both graphs against PyTorch's lesion head: ValueError beyond
    CHECK_TOLERANCE."""
    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    lesions = onnxruntime.InferenceSession(lesion_graph, providers=["CPUExecutionProvider"])
    worst = 0.0
    for start in range(0, len(tensors), batch_size):
        batch = np.ascontiguousarray(tensors[start:start + batch_size], dtype=np.float32)
        maps = dict(zip(LESION_GRAPH_INPUTS, session.run(list(LESION_GRAPH_INPUTS), {"input": batch}), strict=True))
        logits = lesions.run(list(LESION_GRAPH_OUTPUTS), maps)[0]
        with torch.inference_mode():
            _, reference = model.float().eval().forward_with_lesions(torch.from_numpy(batch))
        worst = max(worst, float(np.abs(_sigmoid(logits) - torch.sigmoid(reference).numpy()).max()))
    if worst > CHECK_TOLERANCE:
        raise ValueError(f"the lesion graph's probabilities differ from PyTorch's by up to {worst:.2g} "
                         f"(allowed {CHECK_TOLERANCE:g}): not written")
    return {"images": int(len(tensors)), "max_probability_difference": worst}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x.astype(np.float64)))


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
    model, size = loaded.network, loaded.manifest.input_size
    scratch.mkdir(parents=True, exist_ok=True)
    graph = export_graph(model, size, scratch / GRAPH_NAME)
    tensors = check_photographs(loaded, scratch, photos)
    checked = check_graph(graph, model, tensors)
    lesion_graph = None
    if model.lesion_head is not None:
        lesion_graph = export_lesion_graph(model, size, scratch / LESION_GRAPH_NAME)
        lesions_checked = check_lesion_graph(graph, lesion_graph, model, tensors)
    path = folder / GRAPH_NAME
    write_bytes_atomically(path, graph)  # only a graph that passed the check
    described: dict[str, Any] = {"file": GRAPH_NAME, "sha256": sha256_of(path), "bytes": path.stat().st_size,
                                 "format": "onnx", "opset": OPSET, "outputs": graph_outputs(model), "checked": checked}
    if lesion_graph is not None:
        lesion_path = folder / LESION_GRAPH_NAME
        write_bytes_atomically(lesion_path, lesion_graph)
        described["lesion_graph"] = {
            "file": LESION_GRAPH_NAME, "sha256": sha256_of(lesion_path), "bytes": lesion_path.stat().st_size,
            "inputs": list(LESION_GRAPH_INPUTS), "outputs": list(LESION_GRAPH_OUTPUTS), "checked": lesions_checked}
    return write_manifest(folder, replace(loaded.manifest, inference_graph=described))


def photographs_in(folder: Path | None) -> list[Path]:
    return list(iter_image_files([folder])) if folder is not None else []
