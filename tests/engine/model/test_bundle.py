import json
import re

import pytest
import torch

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES
from ran_desktop.engine.imaging.preprocess import PreprocessSettings
from ran_desktop.engine.model import build_ran
from ran_desktop.engine.model.bundle import find_bundles, load_bundle, read_manifest, sha256_of
from ran_desktop.engine.model.bundle_writer import write_manifest
from ran_desktop.engine.model.manifest import MANIFEST_NAME, WEIGHTS_NAME
from ran_desktop.engine.model.untrained import create_untrained_bundle


def test_manifest_describes_the_weights(tiny_bundle):
    data = json.loads((tiny_bundle / MANIFEST_NAME).read_text())
    assert data["architecture"] == {"family": "RAN", "variant": "ran18", "kwargs": {"base_width": 8}}
    assert data["input_size"] == 64
    assert PreprocessSettings.from_dict(data["preprocessing"]).input_size == 64
    assert data["heads"] == {"dr": list(DR_GRADE_NAMES), "dme": list(DME_GRADE_NAMES)}
    assert data["trained"] is False
    assert data["weights"]["sha256"] == sha256_of(tiny_bundle / WEIGHTS_NAME)
    for key in ("training_data", "metrics", "version", "intended_use", "created"):
        assert key in data


def test_round_trip_reproduces_the_model(tiny_bundle):
    torch.manual_seed(7)
    original = build_ran("ran18", base_width=8).eval()
    loaded = load_bundle(tiny_bundle, device="cpu")
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        a, b = original(x), loaded.model(x)
    assert torch.allclose(a.dr, b.dr, atol=1e-5) and torch.allclose(a.dme, b.dme, atol=1e-5)
    assert not loaded.model.training
    assert loaded.device.device.type == "cpu"
    assert "UNTRAINED" in loaded.manifest.clinical_warning


def test_fp16_bundle_is_compact_and_close(tmp_path):
    m16 = create_untrained_bundle(tmp_path / "a", seed=1, base_width=8, input_size=64, dtype="float16")
    m32 = create_untrained_bundle(tmp_path / "b", seed=1, base_width=8, input_size=64, dtype="float32")
    assert m16.weights["bytes"] < 0.6 * m32.weights["bytes"]
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        p16 = torch.softmax(load_bundle(tmp_path / "a", "cpu").model(x).dr, 1)
        p32 = torch.softmax(load_bundle(tmp_path / "b", "cpu").model(x).dr, 1)
    assert torch.allclose(p16, p32, atol=2e-3)


def test_weights_are_safetensors_not_pickle(tiny_bundle):
    raw = (tiny_bundle / WEIGHTS_NAME).read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and json.loads(raw[8 : 8 + header_len])
    assert not raw.startswith(b"\x80") and b"PK\x03\x04" not in raw[:4]  # neither a pickle nor torch.save's zip


def test_tampered_weights_are_refused(bundle_copy):
    weights = bundle_copy / WEIGHTS_NAME
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(bundle_copy, "cpu")


def test_truncated_weights_are_refused(bundle_copy):
    weights = bundle_copy / WEIGHTS_NAME
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(BundleError, match="truncated"):
        load_bundle(bundle_copy, "cpu")


def test_swapped_weights_are_refused(bundle_copy, tmp_path):
    other = create_untrained_bundle(tmp_path / "other", seed=9, base_width=8, input_size=64, dtype="float32")
    assert other.weights["bytes"] == read_manifest(bundle_copy).weights["bytes"]
    (bundle_copy / WEIGHTS_NAME).write_bytes((tmp_path / "other" / WEIGHTS_NAME).read_bytes())
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(bundle_copy, "cpu")


def test_missing_weights_are_refused(bundle_copy):
    (bundle_copy / WEIGHTS_NAME).unlink()
    with pytest.raises(BundleError, match="missing"):
        load_bundle(bundle_copy, "cpu")


def test_architecture_mismatch_is_refused(bundle_copy):
    """A bundle sealed with a wrong architecture (made wrongly, not edited) is refused by the weights' shapes."""
    from dataclasses import replace

    manifest = read_manifest(bundle_copy)
    kwargs = {**manifest.architecture["kwargs"], "base_width": 16}
    write_manifest(bundle_copy, replace(manifest, architecture={**manifest.architecture, "kwargs": kwargs}))
    with pytest.raises(BundleError, match="do not fit"):
        load_bundle(bundle_copy, "cpu")


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["training_data"].update(synthetic=False),  # would remove the clinical warning
        lambda d: d["quality_thresholds"].update(max_brightness=254),  # within bounds, still an edit
        lambda d: d.update(trained=False),
        lambda d: d["metrics"].update(invented=1.0),
    ],
)
def test_any_edit_of_the_manifest_is_refused(bundle_copy, edit):
    """Red-team item 4: editing training_data removed the clinical warning; editing the quality thresholds turned
    the gate off. The manifest's content is sealed into the weights; an edit no longer matches."""
    path = bundle_copy / MANIFEST_NAME
    data = json.loads(path.read_text())
    data.setdefault("quality_thresholds", {"max_brightness": 200.0})
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="manifest was changed after the bundle was made"):
        load_bundle(bundle_copy, "cpu")


def _as_made_before_the_seal(bundle) -> dict:
    """Strip the seal from the weights' metadata and fingerprint them in the manifest, as bundles were written before
    manifests were sealed; returns the manifest's data."""
    from safetensors.torch import load_file, save_file

    weights = bundle / WEIGHTS_NAME
    save_file(load_file(str(weights)), str(weights))
    data = json.loads((bundle / MANIFEST_NAME).read_text())
    data["weights"].update(sha256=sha256_of(weights), bytes=weights.stat().st_size)
    (bundle / MANIFEST_NAME).write_text(json.dumps(data))
    return data


def test_an_unsealed_bundle_is_refused(bundle_copy):
    _as_made_before_the_seal(bundle_copy)
    with pytest.raises(BundleError, match="not sealed"):
        load_bundle(bundle_copy, "cpu")


@pytest.mark.parametrize("edit, where", [
    (lambda d: d["preprocessing"].update(input_size=3008), "preprocessing/input_size"),
    (lambda d: d.update(input_size=3008), "input_size"),
    (lambda d: d["preprocessing"].update(clahe_tile_grid=100000), "preprocessing/clahe_tile_grid"),
    (lambda d: d.setdefault("quality_thresholds", {}).update(max_brightness=1e9), "quality_thresholds/max_brightness"),
    (lambda d: d.setdefault("quality_thresholds", {}).update(min_sharpness=0), "quality_thresholds/min_sharpness"),
])
def test_preprocessing_and_quality_fields_are_bounded(bundle_copy, edit, where):
    """Even a bundle built (and sealed) with them: 3008 px input took 4.9 GB for one image."""
    path = bundle_copy / MANIFEST_NAME
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="manifest is invalid at " + re.escape(where)):
        load_bundle(bundle_copy, "cpu")


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda d: d.pop("weights"), "(top level)"),
        (lambda d: d.update(input_size="224"), "input_size"),
        (lambda d: d["heads"].update(dr=["a", "b"]), "heads/dr"),
        (lambda d: d["weights"].update(sha256="not-a-hash"), "weights/sha256"),
        (lambda d: d.update(unexpected=1), "(top level)"),
        (lambda d: d.update(format_version=99), "format_version"),
        # One input size: the network's and preprocessing's must agree (each alone is within bounds).
        (lambda d: d["preprocessing"].update(input_size=d["input_size"] + 16), "preprocessing/input_size: "),
        # Classes in the grading rules' order: a bundle whose class 3 meant something else would be misread.
        (lambda d: d["heads"]["dme"].reverse(), "heads/dme: ['DME at or near the fovea'"),
    ],
)
def test_invalid_manifest_is_refused_with_the_field(bundle_copy, edit, where):
    path = bundle_copy / MANIFEST_NAME
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="manifest is invalid at " + re.escape(where)):
        load_bundle(bundle_copy, "cpu")


def test_unreadable_manifest_and_missing_folder(bundle_copy, tmp_path):
    (bundle_copy / MANIFEST_NAME).write_text("{ not json")
    with pytest.raises(BundleError, match="cannot be read"):
        load_bundle(bundle_copy, "cpu")
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nowhere", "cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="not a model bundle"):
        load_bundle(tmp_path / "empty", "cpu")


def test_find_bundles_prefers_trained_weights(tmp_path, tiny_bundle):
    import shutil

    shutil.copytree(tiny_bundle, tmp_path / "a-untrained")
    shutil.copytree(tiny_bundle, tmp_path / "b-trained")
    from dataclasses import replace

    write_manifest(tmp_path / "b-trained", replace(read_manifest(tmp_path / "b-trained"), trained=True))
    (tmp_path / "not-a-bundle").mkdir()
    assert find_bundles(tmp_path) == [tmp_path / "b-trained", tmp_path / "a-untrained"]
    assert find_bundles(tmp_path / "missing") == []


def test_a_bundle_from_before_the_seal_can_be_sealed_after_its_weights_are_checked(bundle_copy):
    """0.3.0, in the repository's history, was made before manifests were sealed: ran-export --seal-old-bundle lets
    it load again (to fine-tune from), but only while its weights are the ones its manifest names."""
    from safetensors.torch import load_file, save_file

    from training.export import main as export_main

    data = _as_made_before_the_seal(bundle_copy)
    weights = bundle_copy / WEIGHTS_NAME
    with pytest.raises(BundleError, match="not sealed"):
        load_bundle(bundle_copy, "cpu")
    assert export_main(["--seal-old-bundle", str(bundle_copy)]) == 0
    assert load_bundle(bundle_copy, "cpu").manifest.name == data["name"]
    # weights that no longer match their manifest are not sealed
    save_file({k: v + 1 for k, v in load_file(str(weights)).items() if v.is_floating_point()}, str(weights))
    assert export_main(["--seal-old-bundle", str(bundle_copy)]) == 2
