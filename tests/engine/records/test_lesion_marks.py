"""Lesion marks: saved with the decision on both databases (and so audited), exported with the photograph's own
pixel coordinates, drawn where they say, and rasterised into masks a training run can use."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ran_desktop.engine.records.lesion_drawing import draw_marks, mark_masks
from ran_desktop.engine.records.lesion_marks import (
    COLOURS,
    EXUDATE,
    HAEMORRHAGE,
    MICROANEURYSM,
    LesionMark,
    counts,
)
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.engine.records.session_export import write_marks, write_session
from ran_desktop.engine.records.storage import Storage

INFO = ModelInfo("m", "1", "none", False, False, "warning", "CPU")
MARKS = (LesionMark(MICROANEURYSM, ((1200.0, 900.5),)),
         LesionMark(HAEMORRHAGE, ((2000.0, 1000.0), (2100.0, 1000.0), (2100.0, 1080.0), (2000.0, 1080.0))),
         LesionMark(MICROANEURYSM, ((1300.0, 950.0),)))


def test_a_mark_is_a_point_or_an_outline_of_a_known_kind():
    assert [m.shape for m in MARKS] == ["point", "outline", "point"]
    assert counts(MARKS) == {MICROANEURYSM: 2, HAEMORRHAGE: 1}
    with pytest.raises(ValueError, match="kind"):
        LesionMark("freckle", ((1.0, 1.0),))
    with pytest.raises(ValueError, match="at least three"):
        LesionMark(EXUDATE, ((1.0, 1.0), (2.0, 2.0)))
    with pytest.raises(ValueError, match="negative"):
        LesionMark(EXUDATE, ((-1.0, 1.0),))


def test_marks_are_saved_with_the_decision_audited_and_exported(target, tmp_path):
    with Storage(target) as store:
        session = store.current_session()
        result = ScreeningResult("k", Path("/clinic/eye_OD.jpg"), Status.ERROR, INFO, error="x")
        image = store.save_result(session, result).image_id
        store.save_decision(image, GraderDecision(2, 0, grader="Dr A", marks=MARKS))
        store.save_decision(image, GraderDecision(2, 0, grader="Dr A", marks=MARKS[:1]))  # two marks taken back
        record = store.load_session(session)[0]
        trail = store.audit_trail(image)
        assert store.verify_audit() == []
    assert record.decision.marks == MARKS[:1]
    assert trail[0].new.marks == MARKS and trail[1].previous.marks == MARKS and trail[1].new.marks == MARKS[:1]
    with Storage(target) as store:
        store.save_decision(image, GraderDecision(2, 0, grader="Dr A", marks=MARKS))
        records = store.load_session(session)
    rows = list(csv.DictReader(open(write_marks(records, tmp_path / "marks.csv"), encoding="utf-8")))
    assert [(r["kind"], r["shape"], r["x"], r["y"]) for r in rows] == [
        (MICROANEURYSM, "point", "1200.0", "900.5"), (HAEMORRHAGE, "outline", "", ""),
        (MICROANEURYSM, "point", "1300.0", "950.0")]
    assert rows[1]["points"] == "2000.0 1000.0; 2100.0 1000.0; 2100.0 1080.0; 2000.0 1080.0"
    data = json.loads(write_marks(records, tmp_path / "marks.json").read_text(encoding="utf-8"))
    assert data["results"][0]["image_key"] == "k" and len(data["results"]) == 3
    session_csv = list(csv.DictReader(open(write_session(records, tmp_path / "s.csv"), encoding="utf-8")))
    assert session_csv[0]["lesion_marks"] == f"2 {MICROANEURYSM}, 1 {HAEMORRHAGE}"


def test_marks_become_masks_where_they_say():
    masks = mark_masks(MARKS, (4288, 2848))
    assert set(masks) == {MICROANEURYSM, HAEMORRHAGE}
    assert masks[MICROANEURYSM][900, 1200] and masks[MICROANEURYSM][950, 1300]
    assert not masks[MICROANEURYSM][1040, 2050]
    assert masks[HAEMORRHAGE][1040, 2050] and masks[HAEMORRHAGE][1000:1081, 2000:2101].all()
    assert masks[HAEMORRHAGE].sum() == pytest.approx(101 * 81, rel=0.02)
    assert not masks[HAEMORRHAGE][1200, 2300]


def test_marks_are_drawn_at_the_pictures_scale():
    picture = np.zeros((712, 1072, 3), np.uint8)  # a quarter of the photograph's size
    drawn = draw_marks(picture, MARKS, scale=0.25)
    ring = drawn[225 - 10:225 + 11, 300 - 10:300 + 11]  # around the first microaneurysm at (300, 225)
    assert (ring == COLOURS[MICROANEURYSM]).all(axis=2).any()
    assert (drawn[250:271, 500] == COLOURS[HAEMORRHAGE]).all(axis=1).any()  # the outline's left edge, x = 500
    assert not drawn[600:, :200].any()  # nothing elsewhere
    assert not picture.any()  # a copy


def test_a_patients_last_visit_is_found_by_patient_id_and_the_change_is_kept(target):
    from ran_desktop.engine.imaging.loading import Eye, ImageMetadata

    def result(key: str, patient: str | None) -> ScreeningResult:
        meta = ImageMetadata("JPEG", (100, 100), 8, "RGB", eye=Eye.RIGHT, patient_id=patient)
        return ScreeningResult(key, Path(f"/c/{key}.jpg"), Status.SCREENED, INFO, metadata=meta)

    with Storage(target) as store:
        first = store.current_session()
        old = store.save_result(first, result("2025-a", "P-7")).image_id
        store.save_result(first, result("2025-other", "P-8"))
        typed = store.save_result(first, result("2025-noid", None)).image_id
        store.save_decision(typed, GraderDecision(1, 0, grader="G", patient_id="P-7"))  # the grader typed the ID
        store.save_decision(old, GraderDecision(2, 0, grader="G"))
        second = store.new_session()
        store.save_result(second, result("2025-b", "P-7"))
        third = store.new_session()
        today = store.save_result(third, result("2026-a", "P-7")).image_id
        last = store.last_visit("P-7", third)
        assert [r.key for r in last] == ["2025-b"]  # the latest earlier visit, not every one
        assert [r.key for r in store.last_visit("P-7", second)] == ["2025-a", "2025-noid"]
        assert store.last_visit("P-7", first) == [] and store.last_visit("nobody", third) == []
        store.save_decision(today, GraderDecision(3, 0, grader="G", change="worse"))
        assert store.decision(today).change == "worse"
    with pytest.raises(ValueError, match="change"):
        GraderDecision(1, 0, change="sideways")
