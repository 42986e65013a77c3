"""`ran-export --heldout`: a data set kept out of training is measured through the exported bundle and reported
in the manifest and the model card, with the settings that make it again."""

import json

import numpy as np
import pytest
from training_data import write_dotted_dataset

from ran_desktop.engine.model.bundle import load_bundle
from training.evaluate import main as evaluate_main
from training.evaluate import predict_records
from training.export import export_run
from training.export import main as export_main
from training.metrics import choose_threshold, referable_scores
from training.sources import load_sources
from training.train import TrainConfig, Trainer


def _train(data, out, **kw):
    cfg = dict(data=[f"csv:{data}"], out=out, base_width=8, input_size=64, epochs=1, batch_size=8, workers=0,
               augment=False, seed=1, checkpoint_minutes=60.0)
    cfg.update(kw)
    Trainer(TrainConfig(**cfg)).fit()
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout")
    data = write_dotted_dataset(root / "train", count=30)
    held = write_dotted_dataset(root / "held", count=20, seed=5)
    # A generated set carries its generator's settings; the card must say how to make it again.
    (held / "synthetic.json").write_text(json.dumps({"generator": "training.synthetic", "count": 20, "seed": 5,
                                                     "size": None, "camera_family": "heldout",
                                                     "real_background_fraction": 0.3}))
    return root, data, held, _train(data, root / "run")


def test_heldout_metrics_go_into_manifest_and_card_and_evaluate_reproduces_them(trained, tmp_path):
    root, _, held, run = trained
    bundle = tmp_path / "bundle"
    export_run(run, bundle, name="held-test", version="0.1.0", workers=0, heldout=[f"csv:{held}"],
               heldout_cache=tmp_path / "cache")
    manifest = load_bundle(bundle, device="cpu").manifest
    got = manifest.metrics["heldout"]
    assert got["dr"]["n"] == 20 and got["referable_dr"]["n"] == 20
    assert "ran-synth --count 20 --seed 5 --size 0 --camera-family heldout" in got["data"][0]
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "## Held-out set" in card and f"kappa {got['dr']['quadratic_kappa']:.3f}" in card
    assert ("met" in card) and {"heldout_roc.png", "heldout_confusion_dr.png"} <= {p.name for p in bundle.iterdir()}
    assert not (bundle / "heldout").exists()

    out = tmp_path / "eval"
    assert evaluate_main(["--model", str(bundle), "--data", f"csv:{held}", "--out", str(out), "--workers", "0"]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["dr"]["quadratic_kappa"] == pytest.approx(got["dr"]["quadratic_kappa"])
    assert again["dme"]["auc"] == pytest.approx(got["dme"]["auc"])


def test_a_fine_tuned_run_names_its_starting_weights(trained, tmp_path):
    root, data, _, run = trained
    first = tmp_path / "first"
    assert export_main(["--run", str(run), "--out", str(first), "--name", "first-stage", "--version", "0.0.1",
                        "--workers", "0"]) == 0
    tuned = _train(data, tmp_path / "tuned", finetune=first, split_file=run / "split.json")
    bundle = tmp_path / "bundle"
    export_run(tuned, bundle, name="second-stage", version="0.0.2", workers=0)
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "Started (`--finetune`) from the weights of `first-stage 0.0.1` (best epoch 1 of its run" in card
    assert "Held-out set" not in card  # none asked for


def test_the_operating_point_is_chosen_on_calibration_data_and_used_on_the_real_validation_set(trained, tmp_path):
    root, _, held, run = trained
    calibration = write_dotted_dataset(root / "calibration", count=24, seed=7)
    validation = write_dotted_dataset(root / "validation", count=20, seed=9)
    (validation / "real.json").write_text(json.dumps({"dataset": "Test photographs", "licence": "CC BY 4.0",
                                                      "credit": "Test credit"}))
    probe = tmp_path / "probe.json"
    probe.write_text(json.dumps({"auc": 0.55, "n_train": 10, "n_test": 8, "verdict": "near chance",
                                 "description": "A test probe."}))
    bundle = tmp_path / "bundle"
    export_run(run, bundle, name="op-test", version="0.1.0", workers=0, calibrate=[f"csv:{calibration}"],
               target_sensitivity=0.9, real_validation=[f"csv:{validation}"], probe=probe)
    loaded = load_bundle(bundle, device="cpu")
    m = loaded.manifest
    point = m.operating_point
    assert m.referable_threshold == pytest.approx(point["referable_threshold"]) and 0 < m.referable_threshold <= 1
    assert point["on_that_data"]["sensitivity"] >= 0.9  # what it was chosen for, on the data it was chosen on
    assert "calibration" in point["chosen_on"]
    real = m.metrics["real_validation"]
    assert real["referable"]["n"] == 20 and "Test photographs" in real["data"][0]
    assert m.metrics["shortcut_probe"]["auc"] == 0.55
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "## Operating point" in card and f"{m.referable_threshold:.4f}" in card
    assert "## Real validation set" in card and "## Shortcut probe" in card
    # ran-evaluate applies the same threshold: its numbers are the card's
    out = tmp_path / "eval"
    assert evaluate_main(["--model", str(bundle), "--data", f"csv:{validation}", "--out", str(out),
                          "--workers", "0"]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["referable"]["sensitivity"] == pytest.approx(real["referable"]["sensitivity"])
    assert again["referable"]["threshold"] == pytest.approx(m.referable_threshold)


def test_a_flip_averaged_operating_point_is_chosen_and_measured_the_way_the_app_computes(trained, tmp_path):
    root, _, _, run = trained
    calibration = write_dotted_dataset(root / "calibration-flip", count=24, seed=7)
    bundle = tmp_path / "flip-bundle"
    export_run(run, bundle, name="flip-test", version="0.1.0", workers=0, calibrate=[f"csv:{calibration}"],
               target_sensitivity=0.9, flip_average=True)
    loaded = load_bundle(bundle, device="cpu")
    assert loaded.manifest.flip_average and loaded.manifest.operating_point["flip_average"] is True
    assert "mirror image" in (bundle / "MODEL_CARD.md").read_text()
    # Every later measurement through the bundle computes the probabilities as the threshold was chosen on them.
    records, _ = load_sources([f"csv:{calibration}"])
    measured, _, _ = predict_records(loaded, records, tmp_path / "a", workers=0)
    mirrored, _, _ = predict_records(loaded, records, tmp_path / "b", workers=0, flip_average=True)
    plain, _, _ = predict_records(loaded, records, tmp_path / "c", workers=0, flip_average=False)
    np.testing.assert_array_equal(measured.dr_probs, mirrored.dr_probs)
    assert not np.array_equal(measured.dr_probs, plain.dr_probs)
    truth = (measured.dr_true >= 2) | (measured.dme_true >= 1)
    threshold = choose_threshold(truth, referable_scores(measured.dr_probs, measured.dme_probs), 0.9)
    assert loaded.manifest.referable_threshold == pytest.approx(threshold, abs=1e-6)
    with pytest.raises(ValueError, match="give --calibrate too"):
        export_run(run, tmp_path / "no-calibration", name="x", version="0.1.0", workers=0, flip_average=True)
