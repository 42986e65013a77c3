"""The bundle's ONNX inference graph (training/inference_graph.py, `ran-export --add-graph`): written only after
ONNX Runtime agrees with PyTorch on real-looking photographs, named in the sealed manifest, checked when the bundle
is loaded, any batch size."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnxruntime
import pytest
import torch

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.model.manifest import GRAPH_NAME, LESION_GRAPH_NAME
from ran_desktop.engine.model.untrained import create_untrained_bundle
from training.export import main as ran_export
from training.inference_graph import CHECK_TOLERANCE, OPSET, check_graph, check_photographs, export_graph


@pytest.fixture
def bundle(tmp_path):
    folder = tmp_path / "tiny-lesions"
    create_untrained_bundle(folder, seed=5, input_size=64, base_width=8, dtype="float32", lesion_head=True)
    return folder


def test_the_graph_is_written_checked_and_sealed(bundle, sample_path, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(sample_path, photos / sample_path.name)
    assert ran_export(["--add-graph", str(bundle), "--check-photos", str(photos)]) == 0
    assert "checked on 6 photographs" in capsys.readouterr().out  # the sample and five generated grades
    manifest = json.loads((bundle / "manifest.json").read_text())
    graph = manifest["inference_graph"]
    assert graph["file"] == GRAPH_NAME and graph["opset"] == OPSET
    assert graph["outputs"] == ["dr", "dme", "features", "fine"]  # with a lesion head, its stride-4 map too
    assert graph["checked"]["max_probability_difference"] <= CHECK_TOLERANCE
    lesions = graph["lesion_graph"]  # the lesion head's own small graph, checked against PyTorch as well
    assert lesions["file"] == LESION_GRAPH_NAME and (bundle / LESION_GRAPH_NAME).stat().st_size == lesions["bytes"]
    assert lesions["checked"]["max_probability_difference"] <= CHECK_TOLERANCE
    assert lesions["bytes"] < graph["bytes"] / 10
    loaded = load_bundle(bundle, device="cpu")  # sealed: the manifest with the graph is the one the weights name

    session = onnxruntime.InferenceSession(str(bundle / GRAPH_NAME), providers=["CPUExecutionProvider"])
    # Another batch size than exported, of photographs prepared as the app prepares them.
    x = torch.from_numpy(check_photographs(loaded, tmp_path / "again", [sample_path])[:3])
    dr, dme, features = session.run(["dr", "dme", "features"], {"input": x.numpy()})
    with torch.inference_mode():
        output, reference = loaded.model.forward_with_features(x)
    # The map is compared looser: an untrained network's random weights amplify float rounding (the trained one's
    # maps differ by about 1e-5); its probabilities, which the check holds to 1e-4, are held to that here too.
    np.testing.assert_allclose(features, reference.numpy(), rtol=1e-3, atol=1e-2)
    probabilities = [torch.softmax(torch.from_numpy(a), 1) - torch.softmax(b, 1) for a, b in
                     ((dr, output.dr), (dme, output.dme))]
    assert max(float(d.abs().max()) for d in probabilities) <= CHECK_TOLERANCE


def test_a_changed_graph_is_refused_when_the_bundle_loads(bundle, tmp_path):
    assert ran_export(["--add-graph", str(bundle)]) == 0
    data = bytearray((bundle / GRAPH_NAME).read_bytes())
    data[-10] ^= 0xFF
    (bundle / GRAPH_NAME).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="inference graph does not match"):
        load_bundle(bundle, device="cpu")
    (bundle / GRAPH_NAME).unlink()
    with pytest.raises(BundleError, match="inference graph the manifest names is missing"):
        load_bundle(bundle, device="cpu")


def test_a_changed_lesion_graph_is_refused_when_the_bundle_loads(bundle):
    assert ran_export(["--add-graph", str(bundle)]) == 0
    data = bytearray((bundle / LESION_GRAPH_NAME).read_bytes())
    data[-10] ^= 0xFF
    (bundle / LESION_GRAPH_NAME).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="lesion graph does not match"):
        load_bundle(bundle, device="cpu")


def test_a_bundle_without_a_lesion_head_gets_the_graph_alone(tmp_path):
    folder = tmp_path / "plain"
    create_untrained_bundle(folder, seed=5, input_size=64, base_width=8, dtype="float32")
    assert ran_export(["--add-graph", str(folder)]) == 0
    graph = json.loads((folder / "manifest.json").read_text())["inference_graph"]
    assert graph["outputs"] == ["dr", "dme", "features"] and "lesion_graph" not in graph
    assert not (folder / LESION_GRAPH_NAME).exists()


def test_a_graph_that_disagrees_with_pytorch_is_not_written(bundle, tmp_path):
    other = tmp_path / "other"
    create_untrained_bundle(other, seed=6, input_size=64, base_width=8, dtype="float32", lesion_head=True)
    wrong = export_graph(load_bundle(other, device="cpu").model, 64, tmp_path / "wrong.onnx")
    inputs = np.random.default_rng(0).normal(size=(4, 3, 64, 64)).astype(np.float32)
    with pytest.raises(ValueError, match="differ from PyTorch's"):
        check_graph(wrong, load_bundle(bundle, device="cpu").model, inputs)
    assert not (bundle / GRAPH_NAME).exists()
