"""Screening metrics from predicted probabilities, with scikit-learn.

Binary tasks use the model's own decision for accuracy, sensitivity and specificity, made by the app's own rule
(`ran_desktop.engine.grading.model_grades`: the most probable grades, or, with a bundle's referable threshold,
referable decided from the probability first), and the summed probability of the positive grades for the ROC curve
and AUC:
- any DR: DR >= 1; referable DR: DR >= 2 (the usual screening definition); DME: DME >= 1;
- referable: DR >= 2 or DME >= 1, the app's referable flag, scored by `grading.referable_probability`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, roc_auc_score, roc_curve

from ran_desktop.engine.grading import model_grades, referable_probability

MISSING = -1
BINARY_TASKS = {"any_dr": ("dr", 1), "referable_dr": ("dr", 2), "dme": ("dme", 1)}


def binary_metrics(truth: np.ndarray, predicted: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    tp = int(np.sum(truth & predicted))
    tn = int(np.sum(~truth & ~predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    both_classes = 0 < truth.sum() < len(truth)
    return {
        "n": int(len(truth)),
        "positives": int(truth.sum()),
        "accuracy": float(accuracy_score(truth, predicted)) if len(truth) else None,
        "sensitivity": tp / (tp + fn) if tp + fn else None,
        "specificity": tn / (tn + fp) if tn + fp else None,
        "auc": float(roc_auc_score(truth, score)) if both_classes else None,
    }


def app_grades(dr_probs: np.ndarray, dme_probs: np.ndarray, referable_threshold: float | None) -> np.ndarray:
    """(N, 2) DR and DME grades exactly as the app gives them for these probabilities."""
    pairs = zip(dr_probs, dme_probs, strict=True)
    return np.array([model_grades(tuple(d), tuple(m), referable_threshold) for d, m in pairs],
                    dtype=np.int64).reshape(-1, 2)


def referable_scores(dr_probs: np.ndarray, dme_probs: np.ndarray) -> np.ndarray:
    return np.array([referable_probability(tuple(d), tuple(m)) for d, m in zip(dr_probs, dme_probs, strict=True)])


def choose_threshold(truth: np.ndarray, score: np.ndarray, target_sensitivity: float = 0.9) -> float:
    """The highest threshold at which at least `target_sensitivity` of the positives score at or above it: the
    most specific operating point that keeps the sensitivity asked for (on these data)."""
    positives = np.sort(score[truth.astype(bool)])[::-1]
    if not len(positives):
        raise ValueError("no positive case to choose a threshold on")
    needed = int(np.ceil(target_sensitivity * len(positives)))
    return float(positives[max(needed, 1) - 1])


def screening_metrics(
    dr_true: np.ndarray, dme_true: np.ndarray, dr_probs: np.ndarray, dme_probs: np.ndarray,
    referable_threshold: float | None = None,
) -> dict[str, Any]:
    """Every metric the model card reports. Targets equal to MISSING are left out of that head's metrics."""
    out: dict[str, Any] = {}
    has_dr, has_dme = dr_true != MISSING, dme_true != MISSING
    grades = app_grades(dr_probs, dme_probs, referable_threshold)
    dr_pred, dme_pred = grades[:, 0], grades[:, 1]
    if has_dr.any():
        t, p = dr_true[has_dr], dr_pred[has_dr]
        out["dr"] = {
            "n": int(has_dr.sum()),
            "accuracy": float(accuracy_score(t, p)),
            "quadratic_kappa": _kappa(t, p),
            "confusion": confusion_matrix(t, p, labels=list(range(dr_probs.shape[1]))).tolist(),
        }
    if has_dme.any():
        t, p = dme_true[has_dme], dme_pred[has_dme]
        out["dme_grade"] = {
            "n": int(has_dme.sum()),
            "accuracy": float(accuracy_score(t, p)),
            "confusion": confusion_matrix(t, p, labels=list(range(dme_probs.shape[1]))).tolist(),
        }
    for task, (head, cut) in BINARY_TASKS.items():
        true, probs, pred, has = (
            (dr_true, dr_probs, dr_pred, has_dr) if head == "dr" else (dme_true, dme_probs, dme_pred, has_dme)
        )
        if has.any():
            out[task] = binary_metrics(true[has] >= cut, pred[has] >= cut, probs[has, cut:].sum(axis=1))
    both = has_dr & has_dme
    if both.any():
        truth = (dr_true[both] >= 2) | (dme_true[both] >= 1)
        flagged = (dr_pred[both] >= 2) | (dme_pred[both] >= 1)
        out["referable"] = binary_metrics(truth, flagged, referable_scores(dr_probs[both], dme_probs[both]))
        out["referable"]["threshold"] = referable_threshold
    return out


def roc_points(dr_true, dme_true, dr_probs, dme_probs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(false positive rate, true positive rate) per binary task that has both classes."""
    curves = {}
    for task, (head, cut) in BINARY_TASKS.items():
        true, probs = (dr_true, dr_probs) if head == "dr" else (dme_true, dme_probs)
        has = true != MISSING
        truth = true[has] >= cut
        if 0 < truth.sum() < len(truth):
            fpr, tpr, _ = roc_curve(truth, probs[has, cut:].sum(axis=1))
            curves[task] = (fpr, tpr)
    return curves


def selection_score(metrics: dict[str, Any], name: str) -> float:
    """The number a run keeps its best checkpoint by; higher is better."""
    if name == "kappa":
        return float(metrics.get("dr", {}).get("quadratic_kappa") or 0.0)
    if name == "auc":
        aucs = [metrics[t]["auc"] for t in ("referable_dr", "dme") if t in metrics and metrics[t]["auc"] is not None]
        return float(np.mean(aucs)) if aucs else 0.0
    if name == "combined":
        return 0.5 * selection_score(metrics, "kappa") + 0.5 * selection_score(metrics, "auc")
    if name == "loss":
        return -float(metrics["loss"])
    raise ValueError(f"unknown selection metric {name!r}: use kappa, auc, combined or loss")


def _kappa(t: np.ndarray, p: np.ndarray) -> float:
    # cohen_kappa_score is undefined (nan) when both raters use a single identical grade.
    value = cohen_kappa_score(t, p, weights="quadratic")
    return float(value) if np.isfinite(value) else 0.0
