"""What runs the network: PyTorch (the GPU runtime, and the default where it is installed; torch_runtime.py), or ONNX
Runtime on the CPU with the bundle's inference graph (`ran-export --add-graph`), chosen with `RAN_RUNTIME=onnx` or
`ran-screen --runtime onnx`, and the only one in the CPU build, which ships without torch (installer/README.md).

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

from ran_desktop.engine.model.device import torch_installed
from ran_desktop.engine.model.manifest import GRAPH_OUTPUTS, LESION_GRAPH_INPUTS, LESION_GRAPH_OUTPUTS

RUNTIME_ENV = "RAN_RUNTIME"
TORCH, ONNX = "torch", "onnx"
RUNTIMES = (TORCH, ONNX)
TORCH_RUNTIME_NAME, ONNX_RUNTIME_NAME = "PyTorch", "ONNX Runtime"  # as results and reports name them


class Outputs(NamedTuple):
    dr: np.ndarray  # DR logits (N, 5)
    dme: np.ndarray  # DME logits (N, 3)
    features: np.ndarray  # the dilated module's map (N, C, h, w): the heat maps' source


class Runtime(Protocol):
    name: str

    def run(self, batch: np.ndarray) -> Outputs: ...


class OnnxRuntime:
    name = ONNX_RUNTIME_NAME

    def __init__(self, graph: Path, threads: int, lesion_graph: Path | None = None):
        self.options = onnxruntime.SessionOptions()
        self.options.intra_op_num_threads = threads  # the same share of the machine torch was given
        self.session = onnxruntime.InferenceSession(str(graph), self.options, providers=["CPUExecutionProvider"])
        self.lesion_graph = lesion_graph
        self._lesion_session: onnxruntime.InferenceSession | None = None

    def run(self, batch: np.ndarray) -> Outputs:
        dr, dme, features = self.session.run(list(GRAPH_OUTPUTS), {"input": np.ascontiguousarray(batch, np.float32)})
        return Outputs(dr, dme, features)

    @property
    def has_lesions(self) -> bool:
        return self.lesion_graph is not None

    def lesion_logits(self, batch: np.ndarray) -> np.ndarray:
        """The lesion head's logits (N, kinds, h, w): the graph's encoder maps through the lesion graph, loaded on
        first use. ValueError where the bundle has none."""
        if self.lesion_graph is None:
            raise ValueError("this bundle's graph has no lesion head")
        if self._lesion_session is None:
            self._lesion_session = onnxruntime.InferenceSession(str(self.lesion_graph), self.options,
                                                                providers=["CPUExecutionProvider"])
        maps = dict(zip(LESION_GRAPH_INPUTS, self.session.run(list(LESION_GRAPH_INPUTS),
                                                              {"input": np.ascontiguousarray(batch, np.float32)}),
                        strict=True))
        return self._lesion_session.run(list(LESION_GRAPH_OUTPUTS), maps)[0]


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
    """The runtime asked for: `choice`, else RAN_RUNTIME, else PyTorch where it is installed and ONNX Runtime where
    it is not (the CPU build)."""
    default = TORCH if torch_installed() else ONNX
    wanted = (choice or os.environ.get(RUNTIME_ENV) or default).strip().lower()
    if wanted not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {wanted!r}")
    return wanted
