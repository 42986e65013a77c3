"""A locally calibrated operating point (issue 19, item 2, the proposal): the threshold search on constructed score
distributions, the temperature fit and the calibration error."""

from __future__ import annotations

import math
import random

import pytest

from ran_desktop.engine.validation.agreement import wilson_interval
from ran_desktop.engine.validation.calibration import (
    calibrate,
    expected_calibration_error,
    fit_temperature,
    labelled_scores,
    propose_threshold,
    reliability,
)


def test_the_threshold_keeps_the_target_share_of_referable_eyes():
    # 10 referable eyes scored 0.1 ... 1.0 and 10 healthy ones 0.05 ... 0.5: for sensitivity 0.9 the threshold is
    # the 9th highest referable score, 0.2; healthy eyes below it are the specificity.
    referable = [(k / 10, True) for k in range(1, 11)]
    healthy = [(k / 20, False) for k in range(1, 11)]
    proposal = propose_threshold(referable + healthy, 0.9)
    assert proposal.threshold == pytest.approx(0.2)
    assert (proposal.sensitivity.hits, proposal.sensitivity.n) == (9, 10)
    assert (proposal.specificity.hits, proposal.specificity.n) == (3, 10)  # 0.05, 0.10, 0.15
    assert proposal.sensitivity.interval == wilson_interval(9, 10)
    assert propose_threshold(referable + healthy, 1.0).threshold == pytest.approx(0.1)
    assert propose_threshold(referable + healthy, 0.5).threshold == pytest.approx(0.6)
    assert "referable from 20.0 %" in proposal.words()


def test_it_is_the_highest_threshold_reaching_the_target():
    rng = random.Random(5)
    scores = [(rng.random(), rng.random() < 0.4) for _ in range(400)]
    proposal = propose_threshold(scores, 0.9)
    positives = [s for s, y in scores if y]
    assert sum(s >= proposal.threshold for s in positives) / len(positives) >= 0.9
    higher = min(s for s in positives if s > proposal.threshold)
    assert sum(s >= higher for s in positives) / len(positives) < 0.9


def test_without_both_kinds_there_is_no_proposal():
    assert propose_threshold([(0.9, True), (0.8, True)]) is None
    assert propose_threshold([]) is None
    with pytest.raises(ValueError):
        propose_threshold([(0.9, True), (0.1, False)], 0)


def test_an_overconfident_model_is_cooled_and_its_calibration_error_falls():
    """Scores whose log-odds are three times what the outcomes bear out: the fit finds a temperature near 3."""
    rng = random.Random(11)
    scores = []
    for _ in range(4000):
        honest = rng.random()
        y = rng.random() < honest
        logit = math.log(max(honest, 1e-6) / max(1 - honest, 1e-6))
        scores.append((1 / (1 + math.exp(-3 * logit)), y))
    temperature, before, after = fit_temperature(scores)
    assert 2.4 < temperature < 3.6
    assert after < before / 2


def test_the_reliability_diagram_matches_scikit_learn():
    """The diagram's bins against sklearn's calibration_curve (uniform bins) on the same overconfident scores."""
    from sklearn.calibration import calibration_curve

    rng = random.Random(5)
    p, y = [], []
    for _ in range(3000):
        honest = rng.random()
        y.append(rng.random() < honest)
        logit = math.log(max(honest, 1e-6) / max(1 - honest, 1e-6))
        p.append(1 / (1 + math.exp(-2 * logit)))
    bins = reliability(p, y)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert [b.observed for b in bins] == pytest.approx(list(observed))
    assert [b.mean_probability for b in bins] == pytest.approx(list(predicted))
    assert sum(b.count for b in bins) == len(p)
    # Overconfident: the top bin's images are referable less often than the model says, the bottom's more often.
    assert bins[-1].observed < bins[-1].mean_probability and bins[0].observed > bins[0].mean_probability
    fitted = calibrate(list(zip(p, y, strict=True)))
    assert fitted is not None and fitted.helps and fitted.temperature > 1.5
    gap = max(abs(b.observed - b.mean_probability) for b in fitted.after)
    assert gap < max(abs(b.observed - b.mean_probability) for b in fitted.before)
    assert calibrate([]) is None


def test_calibration_error_of_a_perfectly_calibrated_score_is_small():
    rng = random.Random(2)
    p = [rng.random() for _ in range(20000)]
    y = [rng.random() < q for q in p]
    assert expected_calibration_error(p, y) < 0.02
    assert expected_calibration_error([1.0, 1.0], [False, False]) == pytest.approx(1.0)


def test_scores_come_from_reviewed_gradable_images(tmp_path):
    from pathlib import Path

    from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
    from ran_desktop.engine.records.review import GraderDecision, ImageRecord

    info = ModelInfo("m", "1", "d", False, True, "", "CPU", referable_threshold=0.5)

    def record(i: int, decision: GraderDecision | None, status: Status = Status.SCREENED) -> ImageRecord:
        probs = (0.1, 0.1, 0.6, 0.1, 0.1) if status is Status.SCREENED else None
        dme = (0.8, 0.1, 0.1) if status is Status.SCREENED else None
        result = ScreeningResult(f"k{i}", Path(f"k{i}.jpg"), status, info, dr_probs=probs, dme_probs=dme)
        return ImageRecord(i, result, decision=decision)

    records = [record(1, GraderDecision(2, 0)), record(2, GraderDecision(0, 0)), record(3, None),
               record(4, GraderDecision(None, None)), record(5, GraderDecision(None, None), Status.UNGRADABLE)]
    assert labelled_scores(records) == [(pytest.approx(0.8), True), (pytest.approx(0.8), False)]
