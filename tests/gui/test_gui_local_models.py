"""Review > Fine-tune on this clinic's images and Review > Models on this workstation (issue 19, item 3): the fine-tune
runs as its own process with progress and cancel; the new bundle is listed beside the installation's, flagged where
it is worse than its parent, and screens only once a person chooses it; results made before keep their model."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from gui_helpers import TIMEOUT_MS, drop, wait_idle
from training_data import write_dotted_dataset

from ran_desktop.engine.model.bundle import load_bundle, read_manifest
from ran_desktop.engine.model.bundle_writer import write_manifest
from ran_desktop.engine.model.catalogue import list_bundles, local_models_dir
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.engine.records.review_session import ReviewSession
from ran_desktop.engine.records.storage import DATABASE_NAME, Storage
from ran_desktop.engine.screening.batch import BatchRun
from ran_desktop.engine.validation.finetune_policy import MIN_IMAGES
from ran_desktop.gui.finetune_dialog import FinetuneDialog
from ran_desktop.gui.models_dialog import ModelsDialog

TINY_RUN = ("--min-images", "4", "--epochs", "2", "--workers", "0", "--batch-size", "2")


def _clinic(folder: Path, bundle: Path, photos: Path, reviewed: int) -> Path:
    """A data folder whose session database holds photographs screened by the app's batch, `reviewed` of them graded
    (the dotted data set's known grades) through the review service."""
    data = write_dotted_dataset(photos, count=reviewed + 2, size=320)
    truth = {Path(row["image"]).name: (int(row["dr"]), int(row["dme"]), row["patient"])
             for row in csv.DictReader(open(data / "labels.csv", encoding="utf-8"))}
    folder.mkdir(parents=True, exist_ok=True)
    storage = Storage(folder / DATABASE_NAME)
    session = ReviewSession(storage, storage.current_session())
    stored: list = []
    BatchRun(load_bundle(bundle, device="cpu"), folder / DATABASE_NAME, session.session_id,
             [data / "images"]).run(lambda n: None, lambda r, d, t: stored.append(r))
    for record in sorted(stored, key=lambda r: r.result.path.name)[:reviewed]:
        dr, dme, patient = truth[record.result.path.name]
        session.record_decision(record, GraderDecision(dr, dme, patient_id=patient), "Dr A")
    storage.close()
    return folder


def _local_copy(bundle: Path, data_dir: Path, worse: bool) -> Path:
    """A local bundle as ran-finetune leaves one (its manifest's metrics["local"]), made from `bundle`'s files."""
    target = local_models_dir(data_dir) / f"tiny-local-{'worse' if worse else 'better'}"
    shutil.copytree(bundle, target)
    manifest = read_manifest(target)
    parent = {"name": manifest.name, "version": manifest.version, "sha256": manifest.weights["sha256"],
              "title": manifest.title}
    local = {"parent": parent, "clinic_images": {"train": 140, "val": 20, "test": 40},
             "held_out": {"parent": {"referable": {"sensitivity": 0.9, "specificity": 0.7, "auc": 0.85}},
                          "local": {"referable": {"sensitivity": 0.8 if worse else 0.95, "specificity": 0.75,
                                                  "auc": 0.86}}},
             "worse_than_parent": worse}
    write_manifest(target, replace(manifest, name=f"tiny-local-{'worse' if worse else 'better'}",
                                   metrics={**manifest.metrics, "local": local}))
    return target


def test_the_models_are_listed_the_worse_one_flagged_and_switching_is_a_persons_choice(open_window, qtbot, photos,
                                                                                          tiny_bundle, data_dir):
    window = open_window()
    drop(window, [photos(1, nested=False)])
    wait_idle(qtbot, window, 1)
    before = window.results.records()[0]
    parent = read_manifest(tiny_bundle).name
    assert before.result.model.name == parent
    better = _local_copy(tiny_bundle, data_dir, worse=False)
    worse = _local_copy(tiny_bundle, data_dir, worse=True)

    window.commands.models.trigger()
    qtbot.waitUntil(lambda: window.findChild(ModelsDialog) is not None, timeout=TIMEOUT_MS)
    dialog = window.findChild(ModelsDialog)
    titles = [dialog.table.item(row, 0).text() for row in range(dialog.table.rowCount())]
    assert titles[0].startswith(f"{parent} ")
    assert {t.split()[0] for t in titles[1:]} == {"tiny-local-better", "tiny-local-worse"}
    row_of = {dialog.entries[row].folder.name: row for row in range(len(dialog.entries))}
    assert "in use" in dialog.table.item(0, 4).text()
    assert dialog.table.item(row_of[worse.name], 4).text() == "worse than its parent"
    assert dialog.table.item(row_of[worse.name], 0).foreground().color().name() == "#a00000"
    assert "sensitivity 0.90 -> 0.80" in dialog.table.item(row_of[worse.name], 3).text()
    dialog.select_folder(worse)
    assert "not offered as the model to use" in dialog.note.text()

    dialog.select_folder(better)
    with qtbot.waitSignal(window.controller.modelReady, timeout=TIMEOUT_MS):
        dialog.use_button.click()
    assert window.controller.loaded.folder.resolve() == better.resolve()
    assert window.settings.model_bundle == str(better)
    drop(window, [photos(2, name="later", nested=False)])
    wait_idle(qtbot, window, 3)
    made = {r.result.path.parent.name: r.result.model.name for r in window.results.records()}
    assert made["photos"] == parent and made["later"] == "tiny-local-better"  # the earlier result keeps its


def test_the_choice_is_remembered_and_a_vanished_bundle_falls_back_to_the_installations(open_window, qtbot,
                                                                                          tiny_bundle, data_dir):
    better = _local_copy(tiny_bundle, data_dir, worse=False)
    from ran_desktop.gui.settings import AppSettings

    AppSettings(data_dir).model_bundle = str(better)
    window = open_window()
    assert window.controller.loaded.folder.resolve() == better.resolve()
    window.close()
    shutil.rmtree(better)
    again = open_window()
    assert again.controller.loaded.folder.resolve() == tiny_bundle.resolve()
    assert [e.folder.name for e in list_bundles(tiny_bundle.parent, data_dir)] == [tiny_bundle.name]


def test_too_few_reviewed_images_say_how_many_more_and_start_nothing(qtbot, tmp_path, tiny_bundle):
    folder = _clinic(tmp_path / "clinic", tiny_bundle, tmp_path / "photos", reviewed=3)
    dialog = FinetuneDialog(folder, tiny_bundle, folder / DATABASE_NAME)
    qtbot.addWidget(dialog)
    assert dialog.reviewed == 3 and not dialog.start_button.isEnabled()
    assert f"a fine-tune needs at least {MIN_IMAGES}" in dialog.intro.text()
    assert f"Review {MIN_IMAGES - 3} more first" in dialog.intro.text()


@pytest.mark.parametrize("cancel", [False, True])
def test_the_fine_tune_runs_in_its_own_process_with_progress_and_can_be_cancelled(qtbot, tmp_path, tiny_bundle,
                                                                                   monkeypatch, cancel):
    monkeypatch.setattr("ran_desktop.gui.finetune_dialog.MIN_IMAGES", 4)
    folder = _clinic(tmp_path / "clinic", tiny_bundle, tmp_path / "photos", reviewed=30)
    # Cancelled: a run too long to finish first (a tiny one could end between "preparing" and the click).
    run = (*TINY_RUN, "--epochs", "200") if cancel else TINY_RUN
    dialog = FinetuneDialog(folder, tiny_bundle, folder / DATABASE_NAME, extra_args=run)
    qtbot.addWidget(dialog)
    assert dialog.start_button.isEnabled()
    seen: list[str] = []
    original = dialog.show_event
    dialog.show_event = lambda event: (seen.append(event["stage"]), original(event))[1]
    with qtbot.waitSignal(dialog.finishedRun, timeout=180_000) as finished:
        dialog.start()
        if cancel:
            qtbot.waitUntil(lambda: "preparing" in seen, timeout=60_000)
            dialog.cancel()
    if cancel:
        assert isinstance(finished.args[0], str) and dialog.outcome_data is None
        assert not [e for e in list_bundles(tiny_bundle.parent, folder) if e.local]  # nothing half-written listed
        assert not (folder / "finetune-runs").exists()  # the decoded copies and file names went with it
        assert dialog.start_button.isEnabled()
        return
    result = finished.args[0]
    assert seen[0] == "checking" and "training" in seen and seen[-1] == "done"
    assert dialog.progress.value() == 1000 and "held-out reviewed images" in dialog.outcome.text()
    local = [e for e in list_bundles(tiny_bundle.parent, folder) if e.local]
    assert [str(e.folder) for e in local] == [result["bundle"]]
    assert json.loads((Path(result["bundle"]) / "manifest.json").read_text())["metrics"]["local"]["parent"]["name"] \
        == read_manifest(tiny_bundle).name
    if result["worse_than_parent"]:
        assert dialog.use_button.isHidden() and "not offered as the model to use" in dialog.outcome.text()
    else:
        with qtbot.waitSignal(dialog.useRequested) as used:
            dialog.use_button.click()
        assert used.args == [result["bundle"]]
