"""ROC curves and confusion matrices as PNG files, for people and for the model card."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, and no Qt from matplotlib
import matplotlib.pyplot as plt
import numpy as np

from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES

TASK_TITLES = {"any_dr": "any DR (DR >= 1)", "referable_dr": "referable DR (DR >= 2)", "dme": "DME (>= 1)"}


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], aucs: dict[str, float | None], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    for task, (fpr, tpr) in curves.items():
        auc = aucs.get(task)
        ax.plot(fpr, tpr, label=f"{TASK_TITLES.get(task, task)}: AUC {auc:.3f}" if auc is not None else task)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01), title="ROC curves")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_confusion(matrix: list[list[int]], head: str, path: Path) -> Path:
    names = DR_GRADE_NAMES if head == "dr" else DME_GRADE_NAMES
    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(5.5, 4.8), dpi=120)
    ax.imshow(m, cmap="Blues")
    for (i, j), value in np.ndenumerate(m):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if value > m.max() / 2 else "black")
    labels = [f"{i}" for i in range(len(names))]
    ax.set_xticks(range(len(names)), labels)
    ax.set_yticks(range(len(names)), [f"{i} {n}" for i, n in enumerate(names)], fontsize=8)
    ax.set(xlabel="model", ylabel="truth", title=f"{head.upper()} confusion matrix")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_plots(metrics: dict, curves: dict, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = [plot_roc(curves, {t: (metrics.get(t) or {}).get("auc") for t in curves}, folder / "roc.png")]
    if "dr" in metrics:
        written.append(plot_confusion(metrics["dr"]["confusion"], "dr", folder / "confusion_dr.png"))
    if "dme_grade" in metrics:
        written.append(plot_confusion(metrics["dme_grade"]["confusion"], "dme", folder / "confusion_dme.png"))
    return written
