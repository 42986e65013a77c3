"""The order patients are graded in: those with an image to grade, most urgent first, then the oldest photographs."""

from __future__ import annotations

from pathlib import Path

from ran_desktop.engine.grading import patient_result
from ran_desktop.engine.imaging.loading import Eye, ImageMetadata
from ran_desktop.engine.records.patient_groups import PatientGroup, group_by_patient
from ran_desktop.engine.records.patient_queue import to_grade
from ran_desktop.engine.records.record_list import entry_of
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


def test_the_queue_from_list_entries_is_the_queue_from_full_records():
    """The patient form queues the rows' light entries (no metadata cell read): the same patients, the same order,
    the screening day standing in for a file without a study date."""
    records = []
    for n, (patient, grades, taken, decided) in enumerate([
        ("P-1", (0, 0), "2026-01-02", False), ("P-2", (2, 0), None, False), ("P-3", (4, 0), "2026-12-01", False),
        ("P-4", (2, 0), "2026-03-04", False), ("P-5", (4, 0), "2025-01-01", True), ("P-2", (1, 0), None, False),
    ]):
        meta = ImageMetadata("JPEG", (100, 100), 8, "RGB", eye=Eye.RIGHT, patient_id=patient, study_date=taken)
        result = ScreeningResult(f"k{n}", Path(f"/c/{n}.jpg"), Status.SCREENED, INFO, metadata=meta,
                                 dr_probs=tuple(1.0 if g == grades[0] else 0.0 for g in range(5)),
                                 dme_probs=tuple(1.0 if g == grades[1] else 0.0 for g in range(3)))
        records.append(ImageRecord(n + 1, result, decision=GraderDecision(0, 0, grader="G") if decided else None,
                                   screened_at="2026-11-20T10:00:00+00:00"))
    from_records = to_grade(group_by_patient(records))
    from_entries = to_grade(group_by_patient([entry_of(r) for r in records]))
    assert [g.key for g in from_entries] == [g.key for g in from_records] == ["id:P-3", "id:P-4", "id:P-2", "id:P-1"]
    assert [g.records[0].taken for g in from_entries] == ["2026-12-01", "2026-03-04", "2026-11-20", "2026-01-02"]


def test_change_between_visits():
    from ran_desktop.engine.grading import change_between

    assert change_between((1, 0), (2, 0)) == "worse"
    assert change_between((3, 0), (2, 0)) == "better"
    assert change_between((2, 1), (2, 1)) == "same"
    assert change_between((2, 0), (2, 1)) == "worse"  # macular oedema now: a sooner referral
    assert change_between((0, 0), (1, 0)) == "worse"  # the same routine follow-up, but retinopathy has appeared
    assert change_between((None, None), (2, 0)) == "" and change_between((1, 0), (None, None)) == ""
