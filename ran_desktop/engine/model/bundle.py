"""Model bundles: `models/<name>/` holds `weights.safetensors` and `manifest.json`.

Loading checks the manifest against its schema and the weights against the manifest's sha256 before a single
tensor is read, and reads tensors with safetensors, so nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES
from ran_desktop.engine.imaging.preprocess import PreprocessSettings
from ran_desktop.engine.imaging.quality import QualityThresholds
from ran_desktop.engine.model import provenance
from ran_desktop.engine.model.device import DeviceChoice, choose_device
from ran_desktop.engine.model.lesion_head import LESION_KINDS
from ran_desktop.engine.model.manifest import MANIFEST_NAME, WEIGHTS_NAME, Manifest
from ran_desktop.engine.model.ran import RAN, build_ran
from ran_desktop.engine.model.runtime import Runtime, TorchRuntime, open_runtime, requested

_DTYPES = {"float16": torch.float16, "float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass
class LoadedModel:
    """A verified model ready for inference, with what it says about itself."""

    model: RAN
    manifest: Manifest
    device: DeviceChoice
    folder: Path
    # Held around every use of `model`: Grad-CAM's hooks must never see another thread's forward pass.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    trust_warning: str = ""  # provenance.trust_warning: '' unless anyone could have changed the bundle
    runtime: Runtime | None = field(default=None, repr=False)  # what runs the network (runtime.py); None: PyTorch

    @property
    def device_text(self) -> str:
        """Where grades are computed, for results and reports: the device, and the runtime where it is not PyTorch."""
        runtime = self.runtime.name if self.runtime is not None else TorchRuntime.name
        described = self.device.description
        return described if runtime == TorchRuntime.name else f"{described}, {runtime}"

    @property
    def runner(self) -> Runtime:
        """The runtime batches go through: the one chosen when loaded, else PyTorch on the model's device."""
        return self.runtime if self.runtime is not None else TorchRuntime(self.model, self.device.device)

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
    """Check the bundle's ONNX graph, where it has one, as its weights are checked; returns its path."""
    if not manifest.inference_graph:
        return None
    graph = Path(folder) / manifest.inference_graph["file"]
    if not graph.is_file():
        raise BundleError(graph, "the inference graph the manifest names is missing")
    if graph.stat().st_size != manifest.inference_graph["bytes"] or sha256_of(graph) != \
            manifest.inference_graph["sha256"]:
        raise BundleError(graph, "the inference graph does not match the manifest's sha256: the file was changed or "
                                 "is corrupt")
    return graph


SEAL_KEY = "manifest_sha256"  # in the weights file's safetensors metadata


def verify_seal(weights: Path, manifest: Manifest) -> None:
    """The manifest must be the one sealed into its weights (write_manifest): an edited field (the training data,
    which decides the clinical warning; the quality gate's thresholds) is refused, naming the file."""
    try:
        with safe_open(str(weights), framework="pt") as f:
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


def write_manifest(folder: str | Path, manifest: Manifest) -> Manifest:
    """Write `manifest` into bundle `folder`, sealed: its content hash goes into the weights file's metadata, and
    the weights' new sha256 and size into the manifest. Returns the manifest as written."""
    folder = Path(folder)
    weights = folder / WEIGHTS_NAME
    with safe_open(str(weights), framework="pt") as f:
        metadata = dict(f.metadata() or {})
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    metadata[SEAL_KEY] = manifest.content_sha256()
    tmp = weights.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(weights)
    sealed = replace(manifest, weights={**manifest.weights, "sha256": sha256_of(weights),
                                        "bytes": weights.stat().st_size})
    sealed.write(folder)
    return sealed


def load_bundle(folder: str | Path, device: str | None = None, runtime: str | None = None) -> LoadedModel:
    """Verify and load a bundle onto the chosen device (see `choose_device`), in eval mode and float32, with the
    runtime asked for (`runtime.requested`: PyTorch unless ONNX Runtime is chosen)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    weights = verify_weights(folder, manifest)
    verify_seal(weights, manifest)
    verify_graph(folder, manifest)
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
    choice = choose_device(device)
    model.to(choice.device).eval()
    try:
        chosen = open_runtime(requested(runtime), model, choice.device, folder, manifest)
    except ValueError as exc:
        raise BundleError(folder, str(exc)) from exc
    return LoadedModel(model=model, manifest=manifest, device=choice, folder=folder,
                       trust_warning=provenance.trust_warning(folder), runtime=chosen)


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


def save_bundle(
    model: RAN,
    folder: str | Path,
    *,
    name: str,
    version: str,
    variant: str,
    architecture_kwargs: dict[str, Any],
    preprocessing: PreprocessSettings,
    training_data: dict[str, Any],
    trained: bool,
    metrics: dict[str, Any] | None = None,
    intended_use: str,
    quality_thresholds: QualityThresholds | None = None,
    dtype: str = "float16",
) -> Manifest:
    """Write weights (safetensors) and a manifest that describes and fingerprints them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_NAME
    tensors = {k: v.detach().to("cpu", _DTYPES[dtype]).contiguous() for k, v in model.state_dict().items()}
    # Integer buffers (BatchNorm's num_batches_tracked) must keep their type.
    for key, value in model.state_dict().items():
        if not value.is_floating_point():
            tensors[key] = value.detach().cpu().contiguous()
    tmp = weights.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"name": name, "version": version})
    tmp.replace(weights)
    manifest = Manifest(
        name=name,
        version=version,
        architecture={"family": "RAN", "variant": variant, "kwargs": dict(architecture_kwargs)},
        input_size=preprocessing.input_size,
        preprocessing=preprocessing.to_dict(),
        heads={"dr": list(DR_GRADE_NAMES), "dme": list(DME_GRADE_NAMES),
               **({"lesions": list(LESION_KINDS)} if architecture_kwargs.get("lesion_head") else {})},
        training_data=dict(training_data),
        trained=trained,
        metrics=dict(metrics or {}),
        intended_use=intended_use,
        weights={"file": WEIGHTS_NAME, "sha256": sha256_of(weights), "dtype": dtype, "bytes": weights.stat().st_size},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        quality_thresholds=quality_thresholds.to_dict() if quality_thresholds else {},
    )
    return write_manifest(folder, manifest)


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


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if len(text) == 1 else " ".join(line.strip() for line in text[:3])
