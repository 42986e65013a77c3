"""When a fine-tune on this clinic's reviewed images may start: enough reviewed, gradable images to learn from.

Fewer would fit noise and could only make the model worse here; the training side refuses them too
(training/datasets/session.py), and the app says how many more are needed (Storage.count_graded) before it offers
the button.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ran_desktop.engine.model.catalogue import UNFINISHED

MIN_IMAGES = 200  # reviewed, gradable images
RUNS_FOLDER = "finetune-runs"  # under the data folder: a run's decoded photographs and file names, while it runs


def clear_unfinished(data_dir: Path, local_models: Path) -> None:
    """Remove what a fine-tune that did not finish left behind (it may have been killed before it could): its run
    folder, with the photographs' decoded copies and file names, and any half-written bundle."""
    shutil.rmtree(Path(data_dir) / RUNS_FOLDER, ignore_errors=True)
    if Path(local_models).is_dir():
        for folder in Path(local_models).glob(f"*{UNFINISHED}"):
            shutil.rmtree(folder, ignore_errors=True)
