"""When a fine-tune on this clinic's reviewed images may start: enough reviewed, gradable images to learn from.

Fewer would fit noise and could only make the model worse here; the training side refuses them too
(training/datasets/session.py), and the app says how many more are needed before it offers the button.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from ran_desktop.engine.model.catalogue import UNFINISHED
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import ImageRecord

MIN_IMAGES = 200  # reviewed, gradable images
RUNS_FOLDER = "finetune-runs"  # under the data folder: a run's decoded photographs and file names, while it runs


def reviewed_gradable(records: Iterable[ImageRecord]) -> int:
    """Images a grader graded (not ungradable, not unreviewed) that the model screened: the fine-tune's labels.
    Files changed since are only found when the fine-tune reads them."""
    return sum(1 for r in records if r.status is not Status.ERROR and r.decision is not None
               and not r.decision.ungradable)


def clear_unfinished(data_dir: Path, local_models: Path) -> None:
    """Remove what a fine-tune that did not finish left behind (it may have been killed before it could): its run
    folder, with the photographs' decoded copies and file names, and any half-written bundle."""
    shutil.rmtree(Path(data_dir) / RUNS_FOLDER, ignore_errors=True)
    if Path(local_models).is_dir():
        for folder in Path(local_models).glob(f"*{UNFINISHED}"):
            shutil.rmtree(folder, ignore_errors=True)
