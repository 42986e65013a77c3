"""Model bundles: `models/<name>/` holds `weights.safetensors` and `manifest.json` (and, where exported,
`model.onnx`). Writing them: bundle_writer.py.

Loading checks the manifest against its schema and the weights against the manifest's sha256 before a single
tensor is read, and reads tensors with safetensors, so nothing is ever unpickled. Where torch is not installed (the
CPU build), the network is the bundle's ONNX graph and only the heads' weights are read, for the heat maps.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema
import numpy as np
from safetensors import SafetensorError, safe_open

# The PyTorch side (torch_runtime: the network, its runtime) loads through the package's lazy names, and only where
# torch is installed and chosen: the CPU build has no torch.
import ran_desktop.engine.model as ran_model
from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.imaging.preprocess import PreprocessSettings
from ran_desktop.engine.imaging.quality import QualityThresholds
from ran_desktop.engine.model import provenance
from ran_desktop.engine.model.device import DeviceChoice, choose_device, cpu_threads, torch_installed
from ran_desktop.engine.model.manifest import MANIFEST_NAME, Manifest
from ran_desktop.engine.model.runtime import TORCH, OnnxRuntime, Runtime, requested

if TYPE_CHECKING:
    from ran_desktop.engine.model.ran import RAN

HEAD_WEIGHTS = {"dr": "dr_head.weight", "dme": "dme_head.weight"}  # the heads' linear weights in the weights file


@dataclass
class LoadedModel:
    """A verified model ready for inference, with what it says about itself."""

    model: RAN | None  # the PyTorch network; None where torch is not installed (the runtime runs the ONNX graph)
    manifest: Manifest
    device: DeviceChoice
    folder: Path
    runtime: Runtime = field(repr=False)  # what runs the network (runtime.py)
    head_weights: dict[str, np.ndarray] = field(repr=False)  # "dr", "dme": (classes, channels) float32, for maps
    # Whether heat maps come from the forward pass (forward_cam.py); else Grad-CAM's backward pass, in PyTorch.
    forward_cam: bool = True
    # Held around every use of `model`: Grad-CAM's hooks must never see another thread's forward pass.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    trust_warning: str = ""  # provenance.trust_warning: '' unless anyone could have changed the bundle

    @property
    def device_text(self) -> str:
        """Where grades are computed, for results and reports: the device, and the runtime where it is not PyTorch."""
        described = self.device.description
        return described if self.runtime.name == ran_model.runtime.TORCH_RUNTIME_NAME else \
            f"{described}, {self.runtime.name}"

    @property
    def network(self) -> RAN:
        """The PyTorch network, for what only PyTorch computes (training, Grad-CAM's backward pass, the lesion head);
        BundleError in the CPU build, which has no torch."""
        if self.model is None:
            raise BundleError(self.folder, "this needs PyTorch, which this build (the CPU build) does not include")
        return self.model

    @property
    def runner(self) -> Runtime:
        """The runtime batches go through."""
        return self.runtime

    @property
    def preprocess_settings(self) -> PreprocessSettings:
        return PreprocessSettings.from_dict(self.manifest.preprocessing)

    @property
    def quality_thresholds(self) -> QualityThresholds:
        if self.manifest.quality_thresholds:
            return QualityThresholds.from_dict(self.manifest.quality_thresholds)
        return QualityThresholds()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(folder: str | Path) -> Manifest:
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise BundleError(folder, "model folder not found")
    if not path.is_file():
        raise BundleError(folder, f"no {MANIFEST_NAME}: not a model bundle")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(path, f"manifest cannot be read ({exc})") from exc
    try:
        return Manifest.from_dict(data)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise BundleError(path, f"manifest is invalid at {where}: {exc.message}") from exc


def verify_weights(folder: str | Path, manifest: Manifest) -> Path:
    """Check size and sha256 of the weights file against the manifest; returns its path."""
    weights = Path(folder) / manifest.weights["file"]
    if not weights.is_file():
        raise BundleError(weights, "weights file is missing")
    size = weights.stat().st_size
    if size != manifest.weights["bytes"]:
        raise BundleError(
            weights,
            f"weights file is {size} bytes, the manifest says {manifest.weights['bytes']}: truncated or replaced",
        )
    if sha256_of(weights) != manifest.weights["sha256"]:
        raise BundleError(weights, "weights do not match the manifest's sha256: the file was changed or is corrupt")
    return weights


def verify_graph(folder: str | Path, manifest: Manifest) -> Path | None:
    """Check the bundle's ONNX graph, where it has one, as its weights are checked (and its lesion graph, where it
    has that); returns the graph's path."""
    if not manifest.inference_graph:
        return None
    lesions = manifest.inference_graph.get("lesion_graph")
    if lesions:
        _verify_file(Path(folder) / lesions["file"], lesions, "the lesion graph")
    return _verify_file(Path(folder) / manifest.inference_graph["file"], manifest.inference_graph,
                        "the inference graph")


def lesion_graph_path(folder: str | Path, manifest: Manifest) -> Path | None:
    """The bundle's lesion graph (verified with the graph by verify_graph), where it has one."""
    lesions = (manifest.inference_graph or {}).get("lesion_graph")
    return Path(folder) / lesions["file"] if lesions else None


def _verify_file(path: Path, described: dict, what: str) -> Path:
    if not path.is_file():
        raise BundleError(path, f"{what} the manifest names is missing")
    if path.stat().st_size != described["bytes"] or sha256_of(path) != described["sha256"]:
        raise BundleError(path, f"{what} does not match the manifest's sha256: the file was changed or is corrupt")
    return path


SEAL_KEY = "manifest_sha256"  # in the weights file's safetensors metadata


def verify_seal(weights: Path, manifest: Manifest) -> None:
    """The manifest must be the one sealed into its weights (write_manifest): an edited field (the training data,
    which decides the clinical warning; the quality gate's thresholds) is refused, naming the file."""
    try:
        with safe_open(str(weights), framework="numpy") as f:
            sealed = (f.metadata() or {}).get(SEAL_KEY)
    except (SafetensorError, OSError) as exc:
        raise BundleError(weights, f"weights cannot be read ({exc})") from exc
    if sealed is None:
        raise BundleError(weights.parent / MANIFEST_NAME, "the manifest is not sealed into the weights (a bundle made "
                          "before manifests were sealed, or one rebuilt by hand): it cannot be trusted; export the "
                          "bundle again")
    if sealed != manifest.content_sha256():
        raise BundleError(weights.parent / MANIFEST_NAME, "the manifest was changed after the bundle was made (it no "
                          "longer matches the fingerprint sealed into the weights): refused; restore the bundle from "
                          "its source")


def load_bundle(folder: str | Path, device: str | None = None, runtime: str | None = None) -> LoadedModel:
    """Verify and load a bundle onto the chosen device (see `choose_device`), in eval mode and float32, with the
    runtime asked for (`runtime.requested`: PyTorch where it is installed unless ONNX Runtime is chosen)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    weights = verify_weights(folder, manifest)
    verify_seal(weights, manifest)
    graph = verify_graph(folder, manifest)
    try:
        choice = requested(runtime)
    except ValueError as exc:
        raise BundleError(folder, str(exc)) from exc
    if choice == TORCH and not torch_installed():
        raise BundleError(folder, "the PyTorch runtime was asked for, but this is the CPU build (no PyTorch): use the "
                                  "ONNX runtime (RAN_RUNTIME=onnx)")
    placed = choose_device(device)
    model = ran_model.torch_runtime.build_network(folder, manifest, weights, placed.device) if torch_installed() \
        else None
    if choice == TORCH and model is not None:
        chosen: Runtime = ran_model.torch_runtime.TorchRuntime(model, placed.device)
    else:
        if placed.kind != "cpu":
            raise BundleError(folder, "ONNX Runtime runs on the CPU here; use --device cpu (or the PyTorch runtime)")
        if graph is None:
            raise BundleError(folder, "this bundle has no inference graph for ONNX Runtime: add one with `ran-export "
                              "--add-graph`" + (", or use the PyTorch runtime" if model is not None else
                                                 " (this CPU build has no PyTorch to run it otherwise)"))
        chosen = OnnxRuntime(graph, cpu_threads(), lesion_graph_path(folder, manifest))
    # The graph's outputs exist only for networks whose maps come from the forward pass (inference_graph.add_graph).
    forward = ran_model.forward_cam.supports_forward_cam(model) if model is not None else True
    return LoadedModel(model=model, manifest=manifest, device=placed, folder=folder, runtime=chosen,
                       head_weights=read_head_weights(weights), forward_cam=forward,
                       trust_warning=provenance.trust_warning(folder))


def read_head_weights(weights: Path) -> dict[str, np.ndarray]:
    """The DR and DME heads' linear weights as float32 numpy, read from the (verified) weights file."""
    try:
        with safe_open(str(weights), framework="numpy") as f:
            return {head: f.get_tensor(key).astype(np.float32) for head, key in HEAD_WEIGHTS.items()}
    except (SafetensorError, OSError, KeyError) as exc:
        raise BundleError(weights, f"weights cannot be read ({exc})") from exc


def choose_bundle(models_folder: str | Path, also_known: Iterable[str | Path] = ()) -> Path | None:
    """The bundle the app uses from `models_folder` (find_bundles' first), None when there is none. BundleError when
    another bundle there, or in `also_known` folders (the installation's own), shares its name and version but not
    its weights."""
    bundles = find_bundles(models_folder)
    if not bundles:
        return None
    known = [*bundles, *(b for folder in also_known for b in find_bundles(folder))]
    provenance.check_unambiguous(bundles[0], known)
    return bundles[0]


def find_bundles(models_folder: str | Path) -> list[Path]:
    """Bundle folders under `models_folder`, trained ones first, then by name."""
    root = Path(models_folder)
    if not root.is_dir():
        return []
    found = [p for p in sorted(root.iterdir()) if (p / MANIFEST_NAME).is_file()]

    def untrained(path: Path) -> bool:
        try:
            return not json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8")).get("trained", False)
        except (OSError, ValueError):
            return True

    return sorted(found, key=untrained)
