"""The app's session database as training data (issue 19, item 3's data side): `ran-train --data session:DIR`
fine-tunes on the images the clinic's graders reviewed, with the grader's grades as labels."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import pytest
from training_data import write_dotted_dataset

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.engine.records.review_session import ReviewSession
from ran_desktop.engine.records.storage import DATABASE_NAME, Storage
from ran_desktop.engine.screening.batch import BatchRun
from training.datasets import detect_dataset, load_dataset
from training.datasets import session as session_source
from training.train import main as train_main


@pytest.fixture
def clinic(tmp_path, tiny_bundle):
    """Twenty photographs screened by the app's own batch, sixteen graded by a grader, one called ungradable, three
    left unreviewed; one graded file is replaced afterwards."""
    data = write_dotted_dataset(tmp_path / "photos", count=20, size=320)
    truth = {row["image"].split("/")[-1]: (int(row["dr"]), int(row["dme"]), row["patient"])
             for row in csv.DictReader(open(data / "labels.csv"))}
    folder = tmp_path / "clinic"
    folder.mkdir()
    storage = Storage(folder / DATABASE_NAME)
    session = ReviewSession(storage, storage.current_session())
    stored = []
    BatchRun(load_bundle(tiny_bundle, device="cpu"), folder / DATABASE_NAME, session.session_id,
             [data / "images"]).run(lambda n: None, lambda r, d, t: stored.append(r))
    by_name = {r.result.path.name: r for r in stored}
    names = sorted(by_name)
    for name in names[:16]:
        dr, dme, patient = truth[name]
        session.record_decision(by_name[name], GraderDecision(dr, dme, patient_id=patient), "Dr A")
    session.record_decision(by_name[names[16]], GraderDecision(None, None), "Dr A")
    storage.close()
    (data / "images" / names[0]).write_bytes((data / "images" / names[1]).read_bytes())  # another photograph now
    return folder, truth, names


def test_reviewed_gradable_unchanged_images_with_the_graders_grades(clinic):
    folder, truth, names = clinic
    assert detect_dataset(folder) == "session"
    records = load_dataset("session", folder, min_images=1)
    assert sorted(r.image.name for r in records) == names[1:16]
    for r in records:
        assert (r.dr, r.dme) == truth[r.image.name][:2] and r.source == "session"
        assert truth[r.image.name][2] not in r.patient  # the patient's ID is not carried, only a grouping key
    both_eyes = {r.patient for r in records if truth[r.image.name][2] == truth[names[2]][2]}
    assert len(both_eyes) == 1  # a patient's two eyes share the key: the split keeps them together
    assert any("no longer holds the photograph that was graded" in w for w in records.warnings)


def test_too_few_reviewed_images_are_refused_with_the_reason(clinic):
    folder, _, _ = clinic
    with pytest.raises(ValueError, match=r"only 15 reviewed, gradable image\(s\); a fine-tune needs at least 200"):
        load_dataset("session", folder)


def test_ran_train_fine_tunes_on_a_session_end_to_end(clinic, tiny_bundle, tmp_path, monkeypatch):
    folder, _, _ = clinic
    monkeypatch.setattr(session_source, "MIN_IMAGES", 4)
    run = tmp_path / "run"
    assert train_main(["--data", f"session:{folder}", "--finetune", str(tiny_bundle), "--out", str(run),
                       "--base-width", "8", "--input-size", "64", "--epochs", "1", "--workers", "0",
                       "--batch-size", "2"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert (run / "best.safetensors").is_file() and summary["sources"][0]["kind"] == "session"
    assert summary["sources"][0]["images"] == 15


def test_a_local_bundle_is_fine_tuned_compared_with_its_parent_and_names_no_one(clinic, tiny_bundle):
    """ran-finetune end to end at a tiny size: the local bundle under the data folder, loadable, its manifest naming
    the parent and the held-out comparison, its training data the parent's (credits and all) plus this clinic's by
    count, and no patient ID or file name anywhere in the bundle."""
    from ran_desktop.engine.model.catalogue import local_models_dir
    from training.local_bundle import main as finetune_main

    folder, truth, names = clinic
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = finetune_main(["--data-dir", str(folder), "--parent", str(tiny_bundle), "--epochs", "2",
                              "--workers", "0", "--batch-size", "2", "--min-images", "4", "--json-progress"])
    assert code == 0
    events = [json.loads(line) for line in printed.getvalue().splitlines()]
    stages = [e["stage"] for e in events]
    assert stages[0] == "checking" and stages[-1] == "done" and "exporting" in stages and "comparing" in stages
    training = [e for e in events if e["stage"] == "training"]
    assert training and training[-1]["epoch"] == 2 and all(1 <= e["batch"] <= e["batches"] for e in training)

    result = events[-1]["result"]
    bundle = load_bundle(result["bundle"], device="cpu")
    assert bundle.folder.parent == local_models_dir(folder)
    parent = load_bundle(tiny_bundle, device="cpu").manifest
    local = bundle.manifest.metrics["local"]
    assert local["parent"]["sha256"] == parent.weights["sha256"] and bundle.manifest.name == f"{parent.name}-local"
    assert sum(local["clinic_images"].values()) == 15 and isinstance(local["worse_than_parent"], bool)
    assert set(local["held_out"]) == {"parent", "local"}
    assert bundle.manifest.training_data["synthetic"] == parent.training_data["synthetic"]
    assert bundle.manifest.training_data.get("credits", []) == parent.training_data.get("credits", [])
    assert "fine-tuned on 15 images graded at this clinic" in bundle.manifest.training_data["description"]
    assert bundle.manifest.intended_use == parent.intended_use
    assert bundle.manifest.referable_threshold is not None
    card = (bundle.folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "Against its parent" in card and parent.title in card
    shipped = " ".join(p.read_text(errors="ignore") for p in bundle.folder.iterdir() if p.suffix in {".md", ".json"})
    for name in names:
        assert name not in shipped
    for _, _, patient in truth.values():
        assert patient not in shipped
    assert not (folder / "finetune-runs").exists()  # the run's decoded photographs and file names went with it


def test_worse_than_parent_means_fewer_referable_eyes_found_ranked_worse_or_more_sent_for_nothing():
    from training.local_bundle import worse_than_parent

    def figures(sensitivity: float, auc: float) -> dict:
        return {"referable": {"sensitivity": sensitivity, "specificity": 0.8, "auc": auc}}

    assert worse_than_parent(figures(1.0, 1.0), figures(0.923, 1.0))  # the bench's case: one referable eye missed
    assert worse_than_parent(figures(0.9, 0.95), figures(0.95, 0.93))
    assert not worse_than_parent(figures(0.9, 0.9), figures(0.9, 0.92))
    same_found_more_sent = {"referable": {"sensitivity": 1.0, "specificity": 0.5, "auc": 1.0}}
    assert worse_than_parent(figures(1.0, 1.0), same_found_more_sent)  # the screenshot's case
    traded = {"referable": {"sensitivity": 0.95, "specificity": 0.7, "auc": 0.93}}
    assert not worse_than_parent(figures(0.9, 0.93), traded)  # more found, fewer spared, same AUC: a trade-off
    assert not worse_than_parent(figures(float("nan"), 0.9), figures(0.8, 0.9))  # nothing to compare on
    assert not worse_than_parent({}, figures(0.5, 0.5))
