"""When a fine-tune on this clinic's reviewed images may start: enough reviewed, gradable images to learn from.

Fewer would fit noise and could only make the model worse here; the training side refuses them too
(training/datasets/session.py), and the app says how many more are needed before it offers the button.
"""

from __future__ import annotations

from collections.abc import Iterable

from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import ImageRecord

MIN_IMAGES = 200  # reviewed, gradable images


def reviewed_gradable(records: Iterable[ImageRecord]) -> int:
    """Images a grader graded (not ungradable, not unreviewed) that the model screened: the fine-tune's labels.
    Files changed since are only found when the fine-tune reads them."""
    return sum(1 for r in records if r.status is not Status.ERROR and r.decision is not None
               and not r.decision.ungradable)
