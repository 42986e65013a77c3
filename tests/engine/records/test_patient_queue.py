"""The order patients are graded in: those with an image to grade, most urgent first, then the oldest photographs."""

from __future__ import annotations

from pathlib import Path

from ran_desktop.engine.grading import patient_result
from ran_desktop.engine.imaging.loading import Eye, ImageMetadata
from ran_desktop.engine.records.patient_groups import PatientGroup
from ran_desktop.engine.records.patient_queue import to_grade
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision, ImageRecord

INFO = ModelInfo("m", "1", "none", False, True, "", "CPU")


def _group(key: str, grades: tuple[int, int], taken: str, decided: bool = False) -> PatientGroup:
    meta = ImageMetadata("JPEG", (100, 100), 8, "RGB", eye=Eye.RIGHT, study_date=taken)
    result = ScreeningResult(key, Path(f"/c/{key}.jpg"), Status.SCREENED, INFO, metadata=meta)
    record = ImageRecord(1, result, decision=GraderDecision(0, 0, grader="G") if decided else None,
                         screened_at="2026-12-01T10:00:00+00:00")
    return PatientGroup(key, key, None, (record,), patient_result([grades]))


def test_most_urgent_first_then_the_oldest_photographs_and_graded_patients_left_out():
    groups = [
        _group("routine-old", (0, 0), "2026-01-02"),
        _group("referral-new", (2, 0), "2026-11-30"),
        _group("urgent-new", (4, 0), "2026-12-01"),
        _group("referral-old", (2, 0), "2026-03-04"),
        _group("urgent-done", (4, 0), "2025-01-01", decided=True),
    ]
    assert [g.key for g in to_grade(groups)] == ["urgent-new", "referral-old", "referral-new", "routine-old"]


def test_change_between_visits():
    from ran_desktop.engine.grading import change_between

    assert change_between((1, 0), (2, 0)) == "worse"
    assert change_between((3, 0), (2, 0)) == "better"
    assert change_between((2, 1), (2, 1)) == "same"
    assert change_between((2, 0), (2, 1)) == "worse"  # macular oedema now: a sooner referral
    assert change_between((0, 0), (1, 0)) == "worse"  # the same routine follow-up, but retinopathy has appeared
    assert change_between((None, None), (2, 0)) == "" and change_between((1, 0), (None, None)) == ""
