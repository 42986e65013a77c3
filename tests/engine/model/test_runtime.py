"""ONNX Runtime as the CPU runtime (engine/model/runtime.py): with the bundle's inference graph it gives the grades,
probabilities and heat maps PyTorch gives, the results say which runtime made them, and a bundle without a graph
is refused with a clear message."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ran_desktop.cli.screen import main as ran_screen
from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.model.runtime import RUNTIME_ENV, OnnxRuntime
from ran_desktop.engine.model.torch_runtime import TorchRuntime
from ran_desktop.engine.model.untrained import create_untrained_bundle
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions
from training.export import main as ran_export


@pytest.fixture(scope="module")
def with_graph(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundles") / "tiny-graph"
    create_untrained_bundle(folder, seed=11, input_size=64, base_width=8, dtype="float32")
    assert ran_export(["--add-graph", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def photos(sample_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(5):
        (folder / f"eye{i}_OD.jpg").write_bytes(sample_path.read_bytes() + bytes([i]))
    (folder / "notes.jpg").write_text("not a photograph", encoding="utf-8")
    return sorted(folder.iterdir())


def test_onnx_runtime_gives_what_pytorch_gives(with_graph, photos):
    torch_model = load_bundle(with_graph, device="cpu")
    onnx_model = load_bundle(with_graph, device="cpu", runtime="onnx")
    assert isinstance(torch_model.runner, TorchRuntime) and isinstance(onnx_model.runner, OnnxRuntime)
    options = ScreeningOptions(batch_size=4, heatmaps=True)
    expected = list(Screener(torch_model, options).screen_files(photos))
    found = list(Screener(onnx_model, options).screen_files(photos))
    assert [(r.key, r.status, r.dr_grade, r.dme_grade) for r in found] == \
        [(r.key, r.status, r.dr_grade, r.dme_grade) for r in expected]
    for a, b in zip(found, expected, strict=True):
        if b.dr_probs is not None:
            assert np.allclose(a.dr_probs, b.dr_probs, atol=1e-4) and np.allclose(a.dme_probs, b.dme_probs, atol=1e-4)
            np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-3)
    assert found[0].model.device.startswith("CPU (") and found[0].model.device.endswith("threads), ONNX Runtime")
    assert expected[0].model.device.endswith("threads)")  # PyTorch: the device alone, as before


def test_the_cli_chooses_the_runtime_and_says_so(with_graph, photos, tmp_path, monkeypatch):
    out = tmp_path / "onnx.csv"
    assert ran_screen([str(photos[0].parent), "--out", str(out), "--model", str(with_graph), "--quiet",
                       "--runtime", "onnx"]) == 1  # 1: one file is not a photograph
    with open(out, newline="", encoding="utf-8") as fh:
        assert {row["device"].split(", ")[-1] for row in csv.DictReader(fh)} == {"ONNX Runtime"}
    monkeypatch.setenv(RUNTIME_ENV, "onnx")
    assert isinstance(load_bundle(with_graph, device="cpu").runner, OnnxRuntime)


def test_a_bundle_without_a_graph_is_refused_for_onnx(tiny_bundle, monkeypatch):
    with pytest.raises(BundleError, match="no inference graph for ONNX Runtime"):
        load_bundle(tiny_bundle, device="cpu", runtime="onnx")
    monkeypatch.setenv(RUNTIME_ENV, "tensorflow")
    with pytest.raises(BundleError, match="runtime must be one of torch, onnx"):
        load_bundle(tiny_bundle, device="cpu")
