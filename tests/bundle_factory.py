"""Bundles the tests make from the tiny seeded one: trained-looking, and with an operating point."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import torch

from ran_desktop.engine.model.bundle import load_bundle, read_manifest
from ran_desktop.engine.model.bundle_writer import save_bundle, write_manifest

CREDIT = "Test Data Set (CC BY 4.0), credit as its licence asks"


def hesitant(tiny_bundle: Path, folder: Path) -> Path:
    """The tiny seeded network with its heads scaled down: an untrained network is sure of everything (its
    probabilities are 0 or 1), this one gives every grade some probability, as a trained one does."""
    loaded = load_bundle(tiny_bundle, device="cpu")
    model = loaded.model
    with torch.no_grad():
        for head in (model.dr_head, model.dme_head):
            head.weight.mul_(0.002)
            head.bias.mul_(0.002)
    m = loaded.manifest
    save_bundle(model, folder, name=m.name, version=m.version, variant=m.architecture["variant"],
                architecture_kwargs=m.architecture["kwargs"], preprocessing=loaded.preprocess_settings,
                training_data={**m.training_data, "real": True, "credits": [CREDIT]}, trained=True,
                intended_use=m.intended_use, dtype="float32")
    return folder


def with_threshold(source: Path, folder: Path, threshold: float) -> Path:
    """A copy of the bundle at `source` whose manifest carries an operating point at `threshold`."""
    shutil.copytree(source, folder)
    m = read_manifest(folder)
    operating_point = {"referable_threshold": threshold, "chosen_on": "a calibration set"}
    write_manifest(folder, replace(m, operating_point=operating_point))
    return folder
