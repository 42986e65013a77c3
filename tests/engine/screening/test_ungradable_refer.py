"""When the quality gate and the model disagree: a photograph too poor to grade on which the model, looking all the
same, finds referable disease likely is "ungradable – refer", never only "re-image": in the screener, the patient's
decision, the stored session, the CSV and the reports."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from bundle_factory import with_threshold
from legacy_schema import make_legacy_database
from locations import REPO_ROOT
from pypdf import PdfReader

from ran_desktop.cli.screen import main as screen_main
from ran_desktop.engine.grading import Outcome, patient_result, recommend
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.review import GraderDecision, ImageRecord
from ran_desktop.engine.records.storage import SCHEMA_VERSION, Storage
from ran_desktop.engine.screening.screener import Screener
from ran_desktop.reports import ReportContext, build_patient_report

SHARED = REPO_ROOT.parent / "shared" / "data" / "idrid-segmentation"


@pytest.fixture(scope="module")
def dark_photo(tmp_path_factory, sample_path) -> Path:
    """The sample at 15 % exposure: a fundus photograph (its field of view is found) the gate calls too dark."""
    path = tmp_path_factory.mktemp("dark") / "dark_OS.png"
    cv2.imwrite(str(path), (cv2.imread(str(sample_path)) * 0.15).astype(np.uint8))
    return path


@pytest.fixture(scope="module")
def suspicion(hesitant_bundle, dark_photo) -> float:
    (result,) = Screener(load_bundle(hesitant_bundle, device="cpu")).screen([dark_photo])
    assert result.status.value == "ungradable" and result.dr_probs is None and result.dme_probs is None
    assert result.suspicion is not None and 0.05 < result.suspicion < 0.95
    return result.suspicion


@pytest.fixture(scope="module")
def bundles(hesitant_bundle, suspicion, tmp_path_factory) -> dict[str, Path]:
    """The same weights with the operating point below and above the model's probability on the dark photo."""
    root = tmp_path_factory.mktemp("ops")
    return {"suspects": with_threshold(hesitant_bundle, root / "low", suspicion / 2),
            "does not": with_threshold(hesitant_bundle, root / "high", (suspicion + 1) / 2)}


def screen(folder: Path, photo: Path):
    (result,) = Screener(load_bundle(folder, device="cpu")).screen([photo])
    return result


def test_the_model_looks_at_an_ungradable_photo_but_grades_nothing(bundles, dark_photo, suspicion):
    for name, folder in bundles.items():
        result = screen(folder, dark_photo)
        assert result.suspicion == pytest.approx(suspicion, abs=1e-6)
        assert result.dr_grade is None and result.dme_grade is None and result.decision is None
        assert result.suspected is (name == "suspects")
        expected = Outcome.UNGRADABLE_REFER if name == "suspects" else Outcome.UNGRADABLE
        assert result.recommendation.outcome is expected


def test_no_field_of_view_means_the_model_does_not_look(hesitant_bundle, tmp_path):
    black = tmp_path / "black.png"
    cv2.imwrite(str(black), np.zeros((600, 600, 3), np.uint8))
    result = screen(hesitant_bundle, black)
    assert result.status.value == "ungradable" and result.suspicion is None and not result.suspected


def test_an_untrained_model_never_suspects(tiny_bundle, dark_photo):
    result = screen(tiny_bundle, dark_photo)
    assert result.suspicion is not None and not result.suspected
    assert result.recommendation.outcome is Outcome.UNGRADABLE


def test_the_rules_refer_a_suspected_ungradable_eye_before_a_routine_or_referable_one():
    assert recommend(None, None, True).outcome is Outcome.UNGRADABLE_REFER
    assert recommend(None, None, False).outcome is Outcome.UNGRADABLE
    assert recommend(0, 0, True).outcome is Outcome.ROUTINE_RESCREEN  # graded: the grades decide
    assert "do not wait for a re-take" in recommend(None, None, True).follow_up
    decision = patient_result([(2, 0), (None, None, True)])
    assert decision.recommendation.outcome is Outcome.UNGRADABLE_REFER and decision.recommendation.within_months == 1
    assert decision.worst_dr_grade == 2 and decision.eyes_ungradable == 1
    assert patient_result([(0, 0), (None, None, False)]).recommendation.outcome is Outcome.UNGRADABLE
    assert patient_result([(4, 2), (None, None, True)]).recommendation.outcome is Outcome.URGENT_REFERRAL


def test_the_grader_decides(bundles, dark_photo):
    result = screen(bundles["suspects"], dark_photo)
    record = ImageRecord(1, result)
    assert record.recommendation.outcome is Outcome.UNGRADABLE_REFER
    # The grader agrees it is ungradable: the model's suspicion still refers it.
    agreed = record.with_decision(GraderDecision(None, None, grader="G"))
    assert agreed.recommendation.outcome is Outcome.UNGRADABLE_REFER
    assert group_by_patient([agreed])[0].decision.recommendation.outcome is Outcome.UNGRADABLE_REFER
    # The grader grades it after all: the grades decide.
    graded = record.with_decision(GraderDecision(0, 0, kind="overridden", grader="G"))
    assert graded.recommendation.outcome is Outcome.ROUTINE_RESCREEN and not graded.suspected


def test_a_grader_calling_a_screened_photo_ungradable_is_referred_when_the_model_found_it_referable(
        bundles, sample_path):
    result = screen(bundles["suspects"], sample_path)
    assert result.status.value == "screened" and result.decision.referable
    record = ImageRecord(1, result).with_decision(GraderDecision(None, None, kind="overridden", grader="G"))
    assert record.recommendation.outcome is Outcome.UNGRADABLE_REFER


def test_the_session_keeps_the_suspicion_and_an_older_database_gains_its_column(bundles, dark_photo, tmp_path):
    path = tmp_path / "s.db"
    make_legacy_database(path, 5)  # the schema before the suspicion's column, as that app wrote it
    assert "suspicion" not in {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(images)")}
    result = screen(bundles["suspects"], dark_photo)
    with Storage(path) as storage:
        assert storage.schema_version == SCHEMA_VERSION
        session = storage.current_session()
        storage.save_result(session, result)
        (record,) = storage.load_session(session)
    assert record.result.suspicion == pytest.approx(result.suspicion)
    assert record.recommendation.outcome is Outcome.UNGRADABLE_REFER


def test_the_csv_gives_the_probability_and_the_outcome(bundles, dark_photo, suspicion, tmp_path):
    for name, folder in bundles.items():
        out = tmp_path / f"{name}.csv"
        assert screen_main([str(dark_photo), "--out", str(out), "--model", str(folder), "--quiet"]) == 0
        row = next(csv.DictReader(open(out, encoding="utf-8")))
        assert row["status"] == "ungradable" and row["dr_grade"] == "" and row["referable"] == ""
        assert float(row["p_referable"]) == pytest.approx(suspicion, abs=1e-4)
        expected = Outcome.UNGRADABLE_REFER if name == "suspects" else Outcome.UNGRADABLE
        assert row["outcome"] == expected.value


def test_the_report_says_refer_and_why(bundles, dark_photo):
    loaded = load_bundle(bundles["suspects"], device="cpu")
    (result,) = Screener(loaded).screen([dark_photo])
    group = group_by_patient([ImageRecord(1, result)])[0]
    pdf = build_patient_report(group, ReportContext.for_model(loaded, clinic_name="Clinic", grader="G"))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Model's proposal: ungradable – refer; the model suspects referable disease" in text
    assert "This eye: Ungradable – refer; the model suspects referable disease" in text
    assert "suspects referable disease (probability" in text and "do not wait for a re-take" in text


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared IDRiD photographs")
def test_the_shipped_model_refers_a_blurred_diseased_eye_and_not_a_blurred_healthy_one(tmp_path, sample_path):
    from training.quality_eval import defocus, load

    diseased = tmp_path / "IDRiD_01_blurred.png"
    cv2.imwrite(str(diseased), defocus(load(next(SHARED.rglob("IDRiD_01.jpg"))), 6.0)[..., ::-1])
    healthy = tmp_path / "normal_blurred.png"
    cv2.imwrite(str(healthy), cv2.GaussianBlur(cv2.imread(str(sample_path)), (0, 0), 6))
    shipped = REPO_ROOT / "models" / "ran18-real"
    results = {r.path.name: r for r in Screener(load_bundle(shipped, device="cpu")).screen([diseased, healthy])}
    assert all(r.status.value == "ungradable" for r in results.values())
    assert results[diseased.name].recommendation.outcome is Outcome.UNGRADABLE_REFER
    assert results[healthy.name].recommendation.outcome is Outcome.UNGRADABLE


def test_a_photograph_too_dark_to_hold_detail_is_not_looked_at(hesitant_bundle, sample_path, tmp_path):
    """At 8 % exposure the retina spans a few grey levels; preprocessing's stretch would show the model noise."""
    black_ish = tmp_path / "nearly_black.png"
    cv2.imwrite(str(black_ish), (cv2.imread(str(sample_path)) * 0.08).astype(np.uint8))
    result = screen(hesitant_bundle, black_ish)
    assert result.quality.scores["fov_found"] == 1.0 and result.quality.scores["brightness"] < 12.5
    assert result.suspicion is None and result.recommendation.outcome is Outcome.UNGRADABLE


def test_the_batch_counts_the_patient_as_one_to_refer(bundles, dark_photo):
    from ran_desktop.reports.counts import batch_counts

    groups = group_by_patient([ImageRecord(1, screen(bundles["suspects"], dark_photo))])
    counts = batch_counts(groups)
    assert groups[0].decision.referable and counts.referable_patients == 1 and counts.ungradable == 1
    assert dict(counts.outcomes)[Outcome.UNGRADABLE_REFER] == 1
