"""The operating point: referable is decided from the model's probability of referable disease against the
threshold in the bundle's manifest, the same way in the screener, the CLI's CSV and the reports, and the training
data's credit travels with the weights."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from bundle_factory import CREDIT, with_threshold
from pypdf import PdfReader

from ran_desktop.cli.screen import main as screen_main
from ran_desktop.engine.grading import referable_probability
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.engine.screening.screener import Screener
from ran_desktop.reports import ReportContext, build_patient_report


@pytest.fixture(scope="module")
def p_referable(hesitant_bundle, sample_path) -> float:
    result = next(iter(Screener(load_bundle(hesitant_bundle, device="cpu")).screen([sample_path])))
    p = referable_probability(result.dr_probs, result.dme_probs)
    assert 0.2 < p < 0.95
    return p


@pytest.fixture(scope="module")
def bundles(hesitant_bundle, p_referable, tmp_path_factory) -> dict[str, tuple[Path, float]]:
    root = tmp_path_factory.mktemp("thresholds")
    low, high = p_referable / 2, (p_referable + 1) / 2
    return {"refer": (with_threshold(hesitant_bundle, root / "low", low), low),
            "keep": (with_threshold(hesitant_bundle, root / "high", high), high)}


def test_the_screener_refers_by_the_threshold_not_the_most_probable_grade(bundles, sample_path, p_referable):
    for name, (folder, threshold) in bundles.items():
        result = next(iter(Screener(load_bundle(folder, device="cpu")).screen([sample_path])))
        assert result.model.referable_threshold == pytest.approx(threshold)
        assert result.referable_probability == pytest.approx(p_referable)
        assert result.decision.referable is (name == "refer")
        assert (result.dr_grade >= 2 or result.dme_grade >= 1) is (name == "refer")
        assert result.model.credits == (CREDIT,)


def test_the_csv_has_the_probability_the_threshold_and_the_same_decision(bundles, sample_path, tmp_path,
                                                                         p_referable):
    for name, (folder, threshold) in bundles.items():
        out = tmp_path / f"{name}.csv"
        assert screen_main([str(sample_path), "--out", str(out), "--model", str(folder), "--quiet"]) == 0
        row = next(csv.DictReader(open(out, encoding="utf-8")))
        assert float(row["p_referable"]) == pytest.approx(p_referable, abs=1e-4)
        assert float(row["referable_threshold"]) == pytest.approx(threshold)
        assert row["referable"] == str(name == "refer")


def test_the_report_prints_the_probability_the_threshold_and_the_credit(bundles, sample_path):
    folder, threshold = bundles["refer"]
    loaded = load_bundle(folder, device="cpu")
    result = next(iter(Screener(loaded).screen([sample_path])))
    group = group_by_patient([ImageRecord(1, result)])[0]
    pdf = build_patient_report(group, ReportContext.for_model(loaded, clinic_name="Clinic", grader="G"))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"referable from {threshold * 100:.0f} %" in text
    assert f"at least {threshold * 100:.0f} %" in text  # the model section's operating point
    assert CREDIT in text


def test_the_about_dialog_credits_the_training_data(bundles):
    from ran_desktop.gui.about_dialog import model_card_markdown

    folder, threshold = bundles["refer"]
    text = model_card_markdown(load_bundle(folder, device="cpu"))
    assert f"**Data credit:** {CREDIT}" in text and f"at least {threshold * 100:.0f} %" in text


def test_the_footer_and_model_status_say_what_trained_the_weights():
    from ran_desktop.engine.records.results import ModelInfo
    from ran_desktop.reports.blocks import short_warning
    from ran_desktop.reports.facts import model_status

    mixed = ModelInfo("m", "1", "data", True, True, "not validated", "CPU", real=True)
    synthetic = ModelInfo("m", "1", "data", True, True, "not validated", "CPU")
    assert "trained mostly on synthetic images" in short_warning([mixed]) and "only" not in short_warning([mixed])
    assert "trained on synthetic images only" in short_warning([synthetic])
    assert model_status(mixed) == "trained mostly on synthetic images"
    assert model_status(synthetic) == "trained on synthetic images only"
