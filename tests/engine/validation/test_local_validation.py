"""Local validation: the model's agreement with the clinic's graders, from the images they reviewed (issue 19, item 1:
the figures and `ran-validate`)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from ran_desktop.cli.validate import main as validate_main
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.engine.records.review_session import ReviewSession
from ran_desktop.engine.records.storage import DATABASE_NAME, Storage
from ran_desktop.engine.screening.screener import Screener
from ran_desktop.engine.validation.agreement import MIN_REFERABLE, local_validation, quadratic_kappa, wilson_interval

INFO = ModelInfo("ran18-test", "1.0", "test data", False, True, "", "CPU", referable_threshold=0.5)


def _probs(grade: int, classes: int, sure: float) -> tuple[float, ...]:
    rest = (1 - sure) / (classes - 1)
    return tuple(sure if i == grade else rest for i in range(classes))


def _result(i: int, model_dr: int, model_dme: int, sure: float, info: ModelInfo = INFO) -> ScreeningResult:
    """A screened image whose model gives its grades probability `sure` (the rest spread evenly)."""
    return ScreeningResult(key=f"img{i}", path=Path(f"/photos/img{i}.jpg"), status=Status.SCREENED, model=info,
                           dr_probs=_probs(model_dr, 5, sure), dme_probs=_probs(model_dme, 3, sure))


@pytest.fixture
def reviewed(tmp_path):
    """A session database of 120 reviewed images: the model's grades and the grader's drawn with a known seed, saved
    and decided through the app's own storage and review service."""
    rng = random.Random(3)
    truth, model = [], []
    storage = Storage(tmp_path / DATABASE_NAME)
    session = ReviewSession(storage, storage.current_session())
    for i in range(120):
        grader_dr, grader_dme = rng.choice([0, 0, 0, 1, 2, 3, 4]), rng.choice([0, 0, 1, 2])
        agree = rng.random() < 0.75
        model_dr = grader_dr if agree else rng.randrange(5)
        model_dme = grader_dme if agree else rng.randrange(3)
        record = storage.save_result(session.session_id, _result(i, model_dr, model_dme, 0.6 + 0.35 * rng.random()))
        session.record_decision(record, GraderDecision(grader_dr, grader_dme), "Dr A")
        truth.append((grader_dr, grader_dme))
        model.append(record.model_grades)
    # Two more: one the grader called ungradable, one not yet reviewed (neither counts in the agreement).
    session.record_decision(storage.save_result(session.session_id, _result(200, 2, 0, 0.9)),
                            GraderDecision(None, None), "Dr A")
    storage.save_result(session.session_id, _result(201, 2, 0, 0.9))
    yield storage, truth, model
    storage.close()


def test_the_figures_match_scikit_learn_on_the_same_labels(reviewed):
    storage, truth, model = reviewed
    v = local_validation(storage.load_session(storage.current_session()))
    a = v.overall
    assert a.reviewed == 121 and a.both_graded == 120
    t_dr, m_dr = [t[0] for t in truth], [m[0] for m in model]
    assert [list(r) for r in a.dr_confusion] == confusion_matrix(t_dr, m_dr, labels=range(5)).tolist()
    assert a.kappa == pytest.approx(cohen_kappa_score(t_dr, m_dr, weights="quadratic"))
    t_ref = [dr >= 2 or dme >= 1 for dr, dme in truth]
    m_ref = [dr >= 2 or dme >= 1 for dr, dme in model]
    (tn, fp), (fn, tp) = confusion_matrix(t_ref, m_ref, labels=[False, True])
    assert (a.sensitivity.hits, a.sensitivity.n) == (tp, tp + fn)
    assert (a.specificity.hits, a.specificity.n) == (tn, tn + fp)
    t_dme, m_dme = [t[1] for t in truth], [m[1] for m in model]
    assert a.dme_agreement.value == pytest.approx(sum(x == y for x, y in zip(t_dme, m_dme, strict=True)) / 120)
    assert a.ungradable_by_grader.hits == 1 and a.ungradable_by_grader.n == 121


def test_wilson_interval_by_hand():
    # 8 of 10: p = 0.8, z = 1.96; centre (0.8 + 0.19208) / 1.38416, half-width 1.96 * sqrt(0.0256040) / 1.38416.
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    assert wilson_interval(0, 0) is None


def test_kappa_of_perfect_and_of_chance_agreement():
    assert quadratic_kappa([[3, 0], [0, 2]]) == pytest.approx(1.0)
    assert quadratic_kappa([[1, 1], [1, 1]]) == pytest.approx(0.0)
    assert quadratic_kappa([[0, 0], [0, 0]]) is None


def test_too_few_referable_eyes_say_so(reviewed):
    storage, truth, _ = reviewed
    a = local_validation(storage.load_session(storage.current_session())).overall
    referable = sum(dr >= 2 or dme >= 1 for dr, dme in truth)
    assert referable < MIN_REFERABLE + 50  # the fixture's size: check the rule, not the sample
    assert (a.warning != "") is (referable < MIN_REFERABLE)
    few = local_validation(storage.load_session(storage.current_session())[:10]).overall
    assert "Only" in few.warning and "referable eye(s) reviewed" in few.warning


def test_confident_calls_the_grader_overruled_are_listed(tmp_path):
    storage = Storage(tmp_path / DATABASE_NAME)
    session = ReviewSession(storage, storage.current_session())
    sure_wrong = storage.save_result(session.session_id, _result(1, 4, 2, 0.97))  # the model: urgent
    unsure_wrong = storage.save_result(session.session_id, _result(2, 4, 2, 0.4))
    right = storage.save_result(session.session_id, _result(3, 0, 0, 0.97))
    for record in (sure_wrong, unsure_wrong, right):
        session.record_decision(record, GraderDecision(0, 0), "Dr B")
    overrides = local_validation(storage.load_session(session.session_id)).overall.overrides
    assert [o.file for o in overrides] == ["img1.jpg"]
    assert overrides[0].model_referable and overrides[0].grader == "Dr B" and overrides[0].model_probability > 0.9
    storage.close()


def test_split_by_model_version_and_month(tmp_path):
    storage = Storage(tmp_path / DATABASE_NAME)
    session = ReviewSession(storage, storage.current_session())
    newer = ModelInfo("ran18-test", "2.0", "test data", False, True, "", "CPU", referable_threshold=0.5)
    for i, info in enumerate([INFO, INFO, newer]):
        record = storage.save_result(session.session_id, _result(i, 2, 0, 0.9, info))
        session.record_decision(record, GraderDecision(2, 0), "Dr A")
    v = local_validation(storage.load_session(session.session_id))
    assert {k: a.both_graded for k, a in v.by_model.items()} == {"ran18-test 1.0": 2, "ran18-test 2.0": 1}
    assert sum(a.both_graded for a in v.by_month.values()) == 3 and all(len(k) == 7 for k in v.by_month)
    storage.close()


def test_ran_validate_on_a_screened_and_reviewed_session(tmp_path, hesitant_bundle, sample_path, capsys):
    """End to end: photographs screened by the real model, decided through the review service, read by the CLI."""
    storage = Storage(tmp_path / DATABASE_NAME)
    session = ReviewSession(storage, storage.current_session())
    results = list(Screener(load_bundle(hesitant_bundle, device="cpu")).screen([sample_path]))
    record = storage.save_result(session.session_id, results[0])
    session.record_decision(record, GraderDecision(0, 0), "Dr A")
    storage.close()
    out = tmp_path / "agreement.csv"
    assert validate_main(["--data-dir", str(tmp_path), "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "All reviewed images" in printed and "reviewed images: 1" in printed and "Only 0 referable" in printed
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert rows[0]["group"] == "all reviewed images" and rows[0]["reviewed"] == "1"
    assert any(r["group"].startswith("model ") for r in rows) and any(r["group"].startswith("month ") for r in rows)


def test_ran_validate_without_a_database_says_so(tmp_path, capsys):
    assert validate_main(["--data-dir", str(tmp_path / "empty")]) == 2
    assert "no session database" in capsys.readouterr().err


def test_ran_validate_proposes_a_local_operating_point(reviewed, tmp_path, capsys):
    storage, _, _ = reviewed
    folder = storage.path.parent
    assert validate_main(["--data-dir", str(folder), "--target-sensitivity", "0.95"]) == 0
    printed = capsys.readouterr().out
    assert "Local operating point for sensitivity >= 0.95 (a proposal; nothing is changed)" in printed
    assert "referable from" in printed and "calibration error" in printed


def test_ran_validate_writes_the_performance_page_as_pdf(reviewed, tmp_path):
    """The page the performance view saves: its figures read back with pypdf, a reliability diagram and the months."""
    from pypdf import PdfReader

    storage, _, _ = reviewed
    page = tmp_path / "performance.pdf"
    assert validate_main(["--data-dir", str(storage.path.parent), "--pdf", str(page)]) == 0
    reader = PdfReader(page)
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    validation = local_validation(storage.load_session(storage.current_session()))
    overall = validation.overall
    low, high = overall.sensitivity.interval
    assert "Model performance at this clinic" in text
    assert f"{overall.sensitivity.value:.2f} ({low:.2f}-{high:.2f}), n = {overall.sensitivity.n}" in text
    assert f"{overall.kappa:.2f}" in text and "Reliability of the referable probability" in text
    assert "Sensitivity and specificity by month" in text and "Operating point" in text
    assert "Model ran18-test 1.0" in text and "calibration error" in text.lower()
