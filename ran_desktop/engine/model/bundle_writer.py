"""Writing model bundles (training, `ran-export`, the untrained bundle): weights as safetensors and a manifest that
describes and fingerprints them, sealed into each other (bundle.verify_seal). Needs torch; reading does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES
from ran_desktop.engine.imaging.preprocess import PreprocessSettings
from ran_desktop.engine.imaging.quality import QualityThresholds
from ran_desktop.engine.model.bundle import SEAL_KEY, sha256_of
from ran_desktop.engine.model.lesion_head import LESION_KINDS
from ran_desktop.engine.model.manifest import WEIGHTS_NAME, Manifest
from ran_desktop.engine.model.ran import RAN

_DTYPES = {"float16": torch.float16, "float32": torch.float32, "bfloat16": torch.bfloat16}


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
