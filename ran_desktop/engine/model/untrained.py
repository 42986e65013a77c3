"""Seeded, randomly initialised bundles: for tests, and for a checkout before trained weights exist.

Such a bundle says `trained: false` in its manifest, and everything that shows its grades says they are meaningless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ran_desktop.engine.imaging.preprocess import PreprocessSettings
from ran_desktop.engine.model.bundle_writer import save_bundle
from ran_desktop.engine.model.manifest import Manifest
from ran_desktop.engine.model.ran import build_ran


def create_untrained_bundle(
    folder: str | Path,
    *,
    variant: str = "ran18",
    seed: int = 0,
    input_size: int = 224,
    name: str | None = None,
    dtype: str = "float16",
    **architecture_kwargs: Any,
) -> Manifest:
    torch.manual_seed(seed)
    model = build_ran(variant, **architecture_kwargs)
    return save_bundle(
        model,
        folder,
        name=name or f"{variant}-untrained",
        version=f"0.0.0+seed{seed}",
        variant=variant,
        architecture_kwargs=architecture_kwargs,
        preprocessing=PreprocessSettings(input_size=input_size),
        training_data={
            "description": f"none: weights randomly initialised with seed {seed}",
            "synthetic": False,
            "datasets": [],
        },
        trained=False,
        intended_use="Software testing only. Not for screening: the weights are untrained.",
        dtype=dtype,
    )
