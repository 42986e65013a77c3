import numpy as np
import pytest

from training.metrics import MISSING, binary_metrics, roc_points, screening_metrics, selection_score


def one_hot(grades, classes):
    probs = np.full((len(grades), classes), 0.01)
    probs[np.arange(len(grades)), grades] = 1.0
    return probs / probs.sum(axis=1, keepdims=True)


def test_perfect_predictions():
    dr = np.array([0, 1, 2, 3, 4, 0, 2])
    dme = np.array([0, 0, 1, 2, 2, 0, 1])
    m = screening_metrics(dr, dme, one_hot(dr, 5), one_hot(dme, 3))
    assert m["dr"]["accuracy"] == 1 and m["dr"]["quadratic_kappa"] == pytest.approx(1)
    for task in ("any_dr", "referable_dr", "dme"):
        assert m[task]["accuracy"] == 1 and m[task]["sensitivity"] == 1 and m[task]["specificity"] == 1
        assert m[task]["auc"] == 1


def test_known_confusion_by_hand():
    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    pred = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], bool)
    score = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.1, 0.3, 0.05, 0.4])
    m = binary_metrics(truth, pred, score)
    assert m["sensitivity"] == pytest.approx(3 / 4) and m["specificity"] == pytest.approx(5 / 6)
    assert m["accuracy"] == pytest.approx(0.8)
    # AUC by counting positive/negative pairs ranked correctly: 21 of 24.
    assert m["auc"] == pytest.approx(21 / 24)


def test_quadratic_kappa_known_value():
    # One off-by-one error among four. By hand: observed weighted disagreement (3-2)^2 = 1; expected, from the
    # marginals truth [1,1,1,1] and model [1,1,2,0]: sum_ij t_i p_j (i-j)^2 / 4 = 32 / 4 = 8; kappa = 1 - 1/8.
    dr = np.array([0, 1, 2, 3])
    pred = np.array([0, 1, 2, 2])
    m = screening_metrics(dr, np.full(4, MISSING), one_hot(pred, 5), one_hot(np.zeros(4, int), 3))
    assert m["dr"]["quadratic_kappa"] == pytest.approx(1 - 1 / 8)
    assert "dme" not in m and "dme_grade" not in m
    assert m["dr"]["confusion"][3] == [0, 0, 1, 0, 0]


def test_referable_uses_grade_two_and_up():
    dr = np.array([0, 1, 2, 4])
    probs = one_hot(np.array([1, 2, 2, 4]), 5)
    m = screening_metrics(dr, np.full(4, MISSING), probs, one_hot(np.zeros(4, int), 3))
    assert m["referable_dr"]["positives"] == 2 and m["referable_dr"]["specificity"] == 0.5
    assert m["any_dr"]["positives"] == 3 and m["any_dr"]["specificity"] == 0.0


def test_single_class_has_no_auc_and_roc():
    dr = np.zeros(5, int)
    m = screening_metrics(dr, dr, one_hot(dr, 5), one_hot(dr, 3))
    assert m["any_dr"]["auc"] is None and m["any_dr"]["sensitivity"] is None
    assert roc_points(dr, dr, one_hot(dr, 5), one_hot(dr, 3)) == {}


def test_selection_score():
    m = {"dr": {"quadratic_kappa": 0.8}, "referable_dr": {"auc": 0.9}, "dme": {"auc": 0.7}, "loss": 0.5}
    assert selection_score(m, "kappa") == 0.8
    assert selection_score(m, "auc") == pytest.approx(0.8)
    assert selection_score(m, "combined") == pytest.approx(0.8)
    assert selection_score(m, "loss") == -0.5
    with pytest.raises(ValueError):
        selection_score(m, "nope")
