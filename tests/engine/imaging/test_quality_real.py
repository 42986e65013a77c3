"""The quality gate on real photographs (IDRiD's, in ../shared/data) and on what cameras do to them: a field cut
flat at the top and bottom or the sides (or both), a shadow across the lower field, a small pupil's dark rim, camera
text, a pale fundus, a dim exposure, severe disease's membranes: each is still a gradable photograph. Blur,
underexposure, a screenshot and a photograph of a screen must still fail.
(`training/quality_eval.py` makes the variants; `ran-quality-eval` prints the table over all 81 photographs.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from locations import REPO_ROOT

from training.quality_eval import GRADABLE, UNGRADABLE, confusion, format_confusion, judge, load, photographs

SHARED = REPO_ROOT.parent / "shared" / "data" / "idrid-segmentation"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared IDRiD photographs")
# A hazy lens is rejected on the sample (test_quality.py) and on most photographs, not on all: a photograph of low
# contrast to start with, hazed, scores like a clear pale one, and a false reject costs more (README's table).
NOT_ALWAYS = {"hazy lens (contrast cut to 20 %)"}


def _photos() -> list[Path]:
    return photographs(SHARED, every=9)  # 9 of 81, both splits


@pytest.mark.parametrize("variant", GRADABLE)
def test_real_photographs_and_what_cameras_do_to_them_are_gradable(variant):
    rejected = {}
    for path in _photos():
        report = judge(GRADABLE[variant](load(path)))
        if not report.gradable:
            rejected[path.name] = report.reasons
    assert rejected == {}  # every IDRiD photograph is gradable: a false reject costs a re-imaging


@pytest.mark.parametrize("variant", [v for v in UNGRADABLE if v not in NOT_ALWAYS])
def test_degraded_real_photographs_still_fail(variant):
    degrade, reason = UNGRADABLE[variant]
    for path in _photos():
        report = judge(degrade(load(path)))
        assert not report.gradable and any(r.startswith(reason) for r in report.reasons), (path.name, report.reasons)


def test_the_confusion_table_counts_what_it_judged():
    rows = confusion(_photos()[:2])
    table = format_confusion(rows)
    assert len(rows) == len(GRADABLE) + len(UNGRADABLE)
    assert "| as taken | gradable | 2 of 2 | - |" in table
    assert "| 15 % exposure | ungradable | 2 of 2 | - |" in table
