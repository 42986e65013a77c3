"""A model bundle that was changed, cut, swapped or forged is refused with a readable message, everywhere; and weights
are never read through pickle, so a bundle cannot run code on the clinic's PC.

tests/engine/model/test_bundle.py covers the engine's checks one by one; here every kind of tampering goes through
the engine, `ran-screen --model` and the app, including a weights file replaced by a pickle payload that runs code
when unpickled (with the manifest forged to match it, as an attacker shipping a whole bundle would).
"""

from __future__ import annotations

import ast
import json
import pickle
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import torch
from gui_helpers import TIMEOUT_MS, drop
from PySide6.QtWidgets import QMessageBox
from sandbox import ROOT

from ran_desktop.cli.screen import EXIT_USAGE
from ran_desktop.cli.screen import main as screen_main
from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.bundle import load_bundle, sha256_of
from ran_desktop.engine.model.manifest import MANIFEST_NAME, SCHEMA, VARIANT_NAMES, WEIGHTS_NAME
from ran_desktop.engine.model.ran import VARIANTS
from ran_desktop.engine.model.untrained import create_untrained_bundle


class _Payload:
    """Unpickling this runs code: it writes `marker`. Nothing in the app may ever unpickle it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('the payload ran')",)


def _edit_manifest(bundle: Path, edit: Callable[[dict], None]) -> None:
    path = bundle / MANIFEST_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _forge_manifest(bundle: Path) -> None:
    """Make the manifest describe whatever weights file is there now: the hash check then passes."""
    weights = bundle / WEIGHTS_NAME
    _edit_manifest(bundle, lambda d: d["weights"].update(sha256=sha256_of(weights), bytes=weights.stat().st_size))


def _flip_a_byte(bundle: Path, marker: Path) -> None:
    data = bytearray((bundle / WEIGHTS_NAME).read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / WEIGHTS_NAME).write_bytes(bytes(data))


def _truncate(bundle: Path, marker: Path) -> None:
    (bundle / WEIGHTS_NAME).write_bytes((bundle / WEIGHTS_NAME).read_bytes()[:-4096])


def _swap(bundle: Path, marker: Path) -> None:
    other = marker.parent / "other-bundle"
    create_untrained_bundle(other, seed=9, input_size=64, base_width=8, dtype="float32")
    (bundle / WEIGHTS_NAME).write_bytes((other / WEIGHTS_NAME).read_bytes())


def _pickle_payload(bundle: Path, marker: Path) -> None:
    (bundle / WEIGHTS_NAME).write_bytes(pickle.dumps({"conv1.weight": _Payload(marker)}))


def _forged_pickle_payload(bundle: Path, marker: Path) -> None:
    _pickle_payload(bundle, marker)
    _forge_manifest(bundle)


def _forged_torch_checkpoint(bundle: Path, marker: Path) -> None:
    torch.save({"state_dict": {"conv1.weight": _Payload(marker)}}, bundle / WEIGHTS_NAME)  # zip with data.pkl
    _forge_manifest(bundle)


def _forged_other_architecture(bundle: Path, marker: Path) -> None:
    _edit_manifest(bundle, lambda d: d["architecture"]["kwargs"].update(base_width=16))


def _claims_real_data(bundle: Path, marker: Path) -> None:
    def claim(d: dict) -> None:  # either would drop the warning every screen and report carries
        d["trained"] = True
        d["training_data"].update(synthetic=False, description="EyePACS, 88,702 graded photographs")

    _edit_manifest(bundle, claim)


def _gate_turned_off(bundle: Path, marker: Path) -> None:
    _edit_manifest(bundle, lambda d: d.update(quality_thresholds={"min_brightness": 1, "max_brightness": 254,
                                                                  "min_fov_diameter_px": 64}))


def _huge_network(bundle: Path, marker: Path) -> None:
    _edit_manifest(bundle, lambda d: d["architecture"]["kwargs"].update(base_width=1_000_000))


def _unknown_argument(bundle: Path, marker: Path) -> None:
    _edit_manifest(bundle, lambda d: d["architecture"]["kwargs"].update(block="__import__('os')"))


def _weights_elsewhere(bundle: Path, marker: Path) -> None:
    _edit_manifest(bundle, lambda d: d["weights"].update(file="../../model.pt"))


TAMPERING: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "changed": (_flip_a_byte, "do not match the manifest's sha256"),
    "truncated": (_truncate, "truncated or replaced"),
    "swapped": (_swap, "do not match the manifest's sha256"),
    "pickle payload": (_pickle_payload, "truncated or replaced"),
    "pickle payload, forged manifest": (_forged_pickle_payload, "weights cannot be read"),
    "torch checkpoint, forged manifest": (_forged_torch_checkpoint, "weights cannot be read"),
    "manifest for another architecture": (_forged_other_architecture, "manifest was changed after the bundle"),
    "training data edited": (_claims_real_data, "manifest was changed after the bundle"),
    "quality gate loosened": (_gate_turned_off, "manifest was changed after the bundle"),
    "manifest asks for a huge network": (_huge_network, "manifest is invalid at architecture/kwargs/base_width"),
    "manifest with an unknown argument": (_unknown_argument, "manifest is invalid at architecture/kwargs"),
    "manifest points elsewhere": (_weights_elsewhere, "manifest is invalid at weights/file"),
}


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "payload-ran.txt"


def test_the_payload_really_runs_code_when_unpickled(marker):
    """So that its never running below means something."""
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.read_text() == "the payload ran"


@pytest.mark.parametrize("kind", TAMPERING)
def test_the_engine_refuses_it_and_runs_nothing(kind, bundle_copy, marker):
    tamper, words = TAMPERING[kind]
    tamper(bundle_copy, marker)
    with pytest.raises(BundleError) as info:
        load_bundle(bundle_copy, "cpu")
    assert words in str(info.value)
    assert not marker.exists(), "the weights were unpickled: the payload ran"


@pytest.mark.parametrize("kind", TAMPERING)
def test_ran_screen_exits_2_with_the_reason(kind, bundle_copy, marker, sample_path, tmp_path, capsys):
    tamper, words = TAMPERING[kind]
    tamper(bundle_copy, marker)
    out = tmp_path / "results.csv"
    code = screen_main([str(sample_path), "--out", str(out), "--model", str(bundle_copy), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.startswith("ran-screen: cannot use the model: ") and words in err and "Traceback" not in err
    assert not out.exists() and not marker.exists()


@pytest.mark.parametrize("kind", ["pickle payload, forged manifest", "manifest asks for a huge network"])
def test_the_app_says_why_in_plain_words_and_stays_up(kind, start_window, qtbot, bundle_copy, marker, sample_path):
    tamper, words = TAMPERING[kind]
    tamper(bundle_copy, marker)
    window = start_window(models=bundle_copy.parent, ready=False)
    qtbot.waitUntil(lambda: window.controller.model_state == "failed", timeout=TIMEOUT_MS)
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert box.windowTitle() == "The model could not be loaded"
    assert words in box.text() and "Traceback" not in box.text()
    assert window.reporter.dialog is None  # a refusal, not a crash
    box.close()
    drop(window, [sample_path])  # the app is still up, and says why nothing can be screened
    refusal = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert refusal.windowTitle() == "Cannot screen" and words in refusal.text()
    assert window.results.rowCount() == 0 and not marker.exists()


def test_the_schema_names_exactly_the_variants_the_engine_builds():
    assert set(VARIANT_NAMES) == set(VARIANTS)
    kwargs = SCHEMA["properties"]["architecture"]["properties"]["kwargs"]
    jsonschema.validate({"base_width": 64, "dropout": 0.2}, kwargs)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"base_width": 64, "num_dr_classes": 7}, kwargs)  # the heads are fixed by the manifest


def test_no_code_in_the_app_can_unpickle():
    """Weights are read with safetensors only; nothing calls torch.load, pickle, joblib or numpy's pickle path."""
    forbidden_calls = {"torch.load", "pickle.load", "pickle.loads", "pickle.Unpickler", "joblib.load", "dill.load",
                       "torch.jit.load", "cloudpickle.load"}
    offenders = []
    for source in sorted((ROOT / "ran_desktop").rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{source.name}:{node.lineno} imports {n}" for n in names
                              if n and n.split(".")[0] in {"pickle", "cPickle", "joblib", "dill", "cloudpickle"}]
            elif isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in forbidden_calls:
                    offenders.append(f"{source.name}:{node.lineno} calls {name}")
                if any(k.arg == "allow_pickle" and ast.unparse(k.value) != "False" for k in node.keywords):
                    offenders.append(f"{source.name}:{node.lineno} allows pickle")
    assert offenders == []


def test_a_real_run_unpickles_nothing(cli_run, app_run):
    """Under the audit hook (recorded_runs.py), loading the model, screening and exporting unpickle no class."""
    for run in (cli_run, app_run):
        assert run.code in (0, 1), run.stderr
        assert [e for e in run.events if e["event"] == "pickle.find_class"] == []
