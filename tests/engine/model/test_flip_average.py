"""Test-time flip: where a bundle's operating point was chosen on probabilities averaged over each photograph and its
mirror image (Manifest.flip_average), the screener, the detail view's explanation and the training's evaluation
all compute them that way; a bundle without it is unchanged."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from ran_desktop.engine.model.activation_maps import maps_of
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.model.bundle_writer import write_manifest
from ran_desktop.engine.model.explanation import explain
from ran_desktop.engine.model.runtime import softmax
from ran_desktop.engine.screening.preparation import prepare_file
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions
from training.predict import predict as training_predict


@pytest.fixture
def flipped(tiny_bundle, tmp_path):
    folder = shutil.copytree(tiny_bundle, tmp_path / "flip-bundle")
    manifest = load_bundle(folder, device="cpu").manifest
    write_manifest(folder, replace(manifest, operating_point={"referable_threshold": 0.5, "flip_average": True}))
    return load_bundle(folder, device="cpu")


def _separately(loaded, tensor):
    """Probabilities and the map of the predicted DR grade, from the photograph and its mirror image run one by one."""
    plain, mirror = (loaded.runner.run(t[None]) for t in (tensor, np.ascontiguousarray(tensor[..., ::-1])))
    dr = (softmax(plain.dr) + softmax(mirror.dr)) / 2
    dme = (softmax(plain.dme) + softmax(mirror.dme)) / 2
    weight = loaded.model.dr_head.weight.detach().numpy()
    heat = maps_of(plain.features, weight, dr.argmax(axis=1), mirror.features)[0]
    return dr[0], dme[0], heat


def test_the_screener_averages_over_the_mirror_image(flipped, tiny_bundle, sample_path, tmp_path):
    assert flipped.manifest.flip_average and not load_bundle(tiny_bundle, device="cpu").manifest.flip_average
    files = []
    for i in range(3):
        files.append(tmp_path / f"eye{i}.jpg")
        files[-1].write_bytes(sample_path.read_bytes() + bytes([i]))
    screener = Screener(flipped, ScreeningOptions(batch_size=3, heatmaps=True))
    for result in screener.screen_files(files):
        tensor = prepare_file(result.path, screener._plan)[0].tensor
        dr, dme, heat = _separately(flipped, tensor)
        np.testing.assert_allclose(result.dr_probs, dr, atol=1e-5)
        np.testing.assert_allclose(result.dme_probs, dme, atol=1e-5)
        np.testing.assert_allclose(result.heatmap, heat, atol=1e-4)
        explained = explain(flipped, tensor)  # the detail view's map and probabilities, computed the same way
        np.testing.assert_allclose(explained.probs, dr, atol=1e-5)
        np.testing.assert_allclose(explained.heatmap, heat, atol=1e-4)


def test_training_evaluates_the_way_the_app_computes(flipped):
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(4, 3, 64, 64)).astype(np.float32))
    loader = DataLoader(TensorDataset(x, torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long)),
                        batch_size=2)
    averaged = training_predict(flipped.model, loader, torch.device("cpu"), flip_average=True)
    plain = training_predict(flipped.model, loader, torch.device("cpu"))
    for i in range(4):
        dr, _, _ = _separately(flipped, x[i].numpy())
        np.testing.assert_allclose(averaged.dr_probs[i], dr, atol=1e-5)
    assert not np.array_equal(averaged.dr_probs, plain.dr_probs)  # the mirror image does change them
