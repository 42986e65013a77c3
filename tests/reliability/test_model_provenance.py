"""Which bundle graded, from where, and whether anyone could have swapped it (red-team issue, item 5)."""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace

import pytest

from ran_desktop.cli.screen import main as screen_main
from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.bundle import choose_bundle, load_bundle, read_manifest
from ran_desktop.engine.model.bundle_writer import write_manifest
from ran_desktop.engine.model.untrained import create_untrained_bundle


def _impostor(tiny_bundle, folder):
    """A bundle with the tiny one's name and version but other weights (forcing any grade an attacker likes)."""
    create_untrained_bundle(folder / "impostor", seed=99, input_size=64, base_width=8)
    original = read_manifest(tiny_bundle)
    write_manifest(folder / "impostor", replace(read_manifest(folder / "impostor"), name=original.name,
                                                version=original.version))
    return folder / "impostor"


def test_two_bundles_with_one_name_and_version_but_other_weights_are_an_error(tiny_bundle, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_bundle, models / "a-real")
    _impostor(tiny_bundle, models)
    with pytest.raises(BundleError, match="also called .* but holds different weights"):
        choose_bundle(models)
    # and against the installation's own models, from another folder
    elsewhere = tmp_path / "share"
    _impostor(tiny_bundle, elsewhere)
    with pytest.raises(BundleError, match="different weights"):
        choose_bundle(elsewhere, also_known=[tiny_bundle.parent])
    assert choose_bundle(tiny_bundle.parent, also_known=[tiny_bundle.parent]) == tiny_bundle  # itself is fine


def test_a_models_folder_anyone_can_write_is_warned_about(tiny_bundle, tmp_path):
    models = tmp_path / "shared-models"
    shutil.copytree(tiny_bundle, models / tiny_bundle.name)
    assert load_bundle(models / tiny_bundle.name, "cpu").trust_warning == ""
    models.chmod(0o777)
    warning = load_bundle(models / tiny_bundle.name, "cpu").trust_warning
    assert "can be changed by any user of this computer" in warning and str(models) in warning


def test_the_csv_names_the_bundle_and_its_hash(tiny_bundle, sample_path, tmp_path, capsys):
    out = tmp_path / "r.csv"
    models = tmp_path / "open-models"
    shutil.copytree(tiny_bundle, models / tiny_bundle.name)
    models.chmod(0o777)
    assert screen_main([str(sample_path), "--out", str(out), "--model", str(models / tiny_bundle.name),
                        "--device", "cpu", "--quiet"]) == 0
    row = next(csv.DictReader(out.open()))
    sha = read_manifest(tiny_bundle).weights["sha256"]
    assert row["model_folder"] == str(models / tiny_bundle.name) and row["model_sha256"] == sha
    err = capsys.readouterr().err
    assert f"weights sha256 {sha[:16]}" in err and "can be changed by any user" in err
    # --model naming an impostor of an installed bundle is refused
    monkey = _impostor(tiny_bundle, tmp_path / "x")
    from ran_desktop.cli import screen as screen_module

    original = screen_module.installed_models_dir
    screen_module.installed_models_dir = lambda: tiny_bundle.parent
    try:
        assert screen_main([str(sample_path), "--out", str(out), "--model", str(monkey), "--device", "cpu",
                            "--quiet"]) == 2
    finally:
        screen_module.installed_models_dir = original
    assert "different weights" in capsys.readouterr().err


def test_reports_name_the_bundle(tiny_bundle, sample_path, tmp_path):
    from pypdf import PdfReader

    from ran_desktop.engine.records.patient_groups import group_by_patient
    from ran_desktop.engine.records.results import model_info
    from ran_desktop.engine.records.storage import Storage, open_storage
    from ran_desktop.engine.screening.batch import BatchRun
    from ran_desktop.reports import ReportContext, export_patient_reports

    loaded = load_bundle(tiny_bundle, "cpu")
    with open_storage(tmp_path / "data") as store:
        db, session = store.path, store.current_session()
    BatchRun(loaded, db, session, [sample_path]).run(lambda n: None, lambda *a: None)
    with Storage(db) as store:
        records = store.load_session(session)
    written = export_patient_reports(group_by_patient(records), tmp_path / "reports",
                                     ReportContext(model=model_info(loaded)))
    text = " ".join(page.extract_text() for page in PdfReader(written[0].path).pages).replace("\n", " ")
    assert f"weights sha256 {loaded.manifest.weights['sha256'][:16]}" in text
