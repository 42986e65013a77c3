"""What runs the network: PyTorch (the GPU runtime and the default), or ONNX Runtime on the CPU with the bundle's
inference graph (`ran-export --add-graph`), chosen with `RAN_RUNTIME=onnx` or `ran-screen --runtime onnx`.

Both take the preprocessed batch as numpy and give both heads' logits and the dilated module's map, so everything
above them (grading rules, operating point, heat maps from the forward pass) is the same code. The graph was checked
against PyTorch when it was written (probabilities within 1e-4, recorded in the manifest).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import onnxruntime
import torch

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.manifest import GRAPH_OUTPUTS, Manifest
from ran_desktop.engine.model.ran import RAN

RUNTIME_ENV = "RAN_RUNTIME"
TORCH, ONNX = "torch", "onnx"
RUNTIMES = (TORCH, ONNX)


class Outputs(NamedTuple):
    dr: np.ndarray  # DR logits (N, 5)
    dme: np.ndarray  # DME logits (N, 3)
    features: np.ndarray  # the dilated module's map (N, C, h, w): the heat maps' source


class Runtime(Protocol):
    name: str

    def run(self, batch: np.ndarray) -> Outputs: ...


class TorchRuntime:
    name = "PyTorch"

    def __init__(self, model: RAN, device: torch.device):
        self.model, self.device = model, device

    def run(self, batch: np.ndarray) -> Outputs:
        # Channels-last lets oneDNN (and cuDNN) run their fastest convolutions: 1.35x on a 2-core CPU.
        x = torch.from_numpy(batch).to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            output, features = self.model.forward_with_features(x)
        return Outputs(output.dr.float().cpu().numpy(), output.dme.float().cpu().numpy(),
                       features.float().cpu().numpy())


class OnnxRuntime:
    name = "ONNX Runtime"

    def __init__(self, graph: Path, threads: int):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # the same share of the machine torch was given
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def run(self, batch: np.ndarray) -> Outputs:
        dr, dme, features = self.session.run(list(GRAPH_OUTPUTS), {"input": np.ascontiguousarray(batch, np.float32)})
        return Outputs(dr, dme, features)


class Predicted(NamedTuple):
    dr: np.ndarray  # DR probabilities (N, 5)
    dme: np.ndarray  # DME probabilities (N, 3)
    features: np.ndarray  # the dilated module's map of each photograph
    mirrored: np.ndarray | None  # ... and of its mirror image, where probabilities are flip-averaged


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def predict(runner: Runtime, batch: np.ndarray, flip_average: bool = False) -> Predicted:
    """Class probabilities of a preprocessed batch; with `flip_average`, the mean of each photograph's and its mirror
    image's (one pass over both), as the bundle's operating point was chosen (Manifest.flip_average)."""
    n = len(batch)
    x = np.concatenate([batch, batch[..., ::-1]]) if flip_average else batch
    out = runner.run(np.ascontiguousarray(x, dtype=np.float32))
    dr, dme = softmax(out.dr.astype(np.float64)), softmax(out.dme.astype(np.float64))
    if not flip_average:
        return Predicted(dr, dme, out.features, None)
    return Predicted((dr[:n] + dr[n:]) / 2, (dme[:n] + dme[n:]) / 2, out.features[:n], out.features[n:])


def requested(choice: str | None = None) -> str:
    """The runtime asked for: `choice`, else RAN_RUNTIME, else PyTorch."""
    wanted = (choice or os.environ.get(RUNTIME_ENV) or TORCH).strip().lower()
    if wanted not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {wanted!r}")
    return wanted


def open_runtime(choice: str, model: RAN, device: torch.device, folder: Path, manifest: Manifest) -> Runtime:
    if choice == TORCH:
        return TorchRuntime(model, device)
    if device.type != "cpu":
        raise BundleError(folder, "ONNX Runtime runs on the CPU here; use --device cpu (or the PyTorch runtime)")
    if not manifest.inference_graph:
        raise BundleError(folder, "this bundle has no inference graph for ONNX Runtime: add one with "
                                  "`ran-export --add-graph`, or use the PyTorch runtime")
    return OnnxRuntime(folder / manifest.inference_graph["file"], torch.get_num_threads())
