"""The review rules under the window (engine.records.review) and the wording the window uses for them (no Qt needed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ran_desktop.engine.grading import Outcome
from ran_desktop.engine.imaging.loading import Eye, ImageMetadata
from ran_desktop.engine.imaging.quality import QualityReport
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import (
    CONFIRMED,
    OVERRIDDEN,
    GraderDecision,
    ImageRecord,
    decision_kind,
    missing_fields,
    model_proposal,
    suggested_grades,
)
from ran_desktop.gui import display
from ran_desktop.gui.progress_text import duration_text, progress_text, seconds_left

UNTRAINED = ModelInfo("ran18-untrained", "0", "none", False, False, "UNTRAINED MODEL: meaningless", "CPU")
SYNTHETIC = replace(UNTRAINED, trained=True, synthetic=True, warning="synthetic only")
VALIDATED = replace(UNTRAINED, trained=True, warning="")


def one_hot(index: int, size: int) -> tuple[float, ...]:
    return tuple(1.0 if i == index else 0.0 for i in range(size))


def record(name: str, dr: int | None = 0, dme: int | None = 0, *, model: ModelInfo = UNTRAINED, patient=None,
           eye=Eye.UNKNOWN, status: Status | None = None, decision: GraderDecision | None = None, image_id: int = 1):
    status = status or (Status.SCREENED if dr is not None else Status.UNGRADABLE)
    meta = None if status is Status.ERROR else ImageMetadata("JPEG", (1000, 1000), 8, "RGB", eye=eye,
                                                              patient_id=patient)
    gradable = dr is not None
    result = ScreeningResult(
        key=name, path=Path(name), status=status, model=model, metadata=meta,
        quality=None if status is Status.ERROR else QualityReport(gradable, () if gradable else ("too dark",)),
        dr_probs=one_hot(dr, 5) if dr is not None and status is Status.SCREENED else None,
        dme_probs=one_hot(dme, 3) if dme is not None and status is Status.SCREENED else None,
        error="not an image" if status is Status.ERROR else None,
    )
    return ImageRecord(image_id, result, decision=decision)


def test_the_graders_decision_wins_over_the_model():
    r = record("a.jpg", 1, 0)
    assert r.grades == (1, 0) and not r.referable
    reviewed = r.with_decision(GraderDecision(3, 0, kind=OVERRIDDEN, grader="G"))
    assert reviewed.grades == (3, 0) and reviewed.referable and reviewed.eye_decision.urgent
    ungradable = r.with_decision(GraderDecision(None, None, kind=OVERRIDDEN, grader="G"))
    assert ungradable.ungradable and ungradable.recommendation.outcome is Outcome.UNGRADABLE


def test_a_caveat_goes_with_unconfirmed_grades_of_weights_with_a_warning():
    assert record("a", 2, 1).model_caveat == "untrained model"
    assert record("a", 2, 1, model=SYNTHETIC).model_caveat == "synthetic training only"
    assert record("a", 2, 1, model=VALIDATED).model_caveat == ""
    assert record("a", 2, 1).with_decision(GraderDecision(2, 1, grader="G")).model_caveat == ""
    # The cells stay short (their key words must fit at 1280x800); the caveat is in the tooltip and the banner.
    assert display.dr_text(record("a", 2, 1)) == "2 Moderate"
    assert display.referable_text(record("a", 2, 1)) == "Yes"
    assert display.referable_text(record("a", 3, 2)) == f"{display.URGENT_MARK} Yes, urgent"
    tip = display.grade_tooltip(record("a", 2, 1), "dr")
    assert tip == "2 – Moderate NPDR: the model's grade, not yet confirmed by a grader (untrained model)"
    assert display.grade_tooltip(record("a", 2, 1).with_decision(GraderDecision(2, 1, grader="G")), "dr") == \
        "2 – Moderate NPDR: the grader's grade"
    assert display.dr_text(record("a", None, None)) == "Ungradable"  # the quality gate
    assert display.grade_tooltip(record("a", None, None), "dr") == "Ungradable: the quality gate's verdict"


def test_the_form_never_starts_with_the_models_answer():
    for model in (UNTRAINED, SYNTHETIC, VALIDATED):
        assert suggested_grades(record("a", 2, 1, model=model)) is None
    assert suggested_grades(record("a", None, None)) is None  # not even the quality gate's verdict
    # the grader's own
    assert suggested_grades(record("a", 2, 1).with_decision(GraderDecision(4, 2, grader="G"))) == (4, 2)


def test_the_accept_key_offers_trained_grades_and_the_gates_verdict_only():
    assert model_proposal(record("a", 2, 1)) is None  # untrained: nothing to accept
    assert model_proposal(record("a", 2, 1, model=SYNTHETIC)) == (2, 1)
    assert model_proposal(record("a", 2, 1, model=VALIDATED)) == (2, 1)
    assert model_proposal(record("a", None, None)) == (None, None)


def test_confirmed_or_overridden():
    r = record("a", 2, 1)
    assert decision_kind(r, (2, 1)) == CONFIRMED and decision_kind(r, (2, 0)) == OVERRIDDEN
    assert decision_kind(record("b", None, None), (None, None)) == CONFIRMED


def test_only_fields_the_file_lacks_may_be_filled_in():
    assert missing_fields(record("a")) == {"eye", "patient_id", "patient_name"}
    assert missing_fields(record("a", eye=Eye.LEFT, patient="P1")) == {"patient_name"}


def test_patients_are_grouped_by_id_and_the_worse_eye_decides():
    records = [
        record("p1_od.jpg", 0, 0, patient="P1", eye=Eye.RIGHT, image_id=1),
        record("anon1.jpg", 0, 0, image_id=2),
        record("p1_os.jpg", 3, 0, patient="P1", eye=Eye.LEFT, image_id=3),
        record("anon2.jpg", 0, 0, image_id=4),
        record("p2_od.jpg", 0, 0, patient="P2", image_id=5),
        record("p2_os.jpg", None, None, patient="P2", image_id=6),
        record("broken.jpg", status=Status.ERROR, image_id=7),
    ]
    groups = group_by_patient(records)
    assert [len(g.records) for g in groups] == [2, 1, 1, 2, 1]  # unnamed images are never merged
    p1, anon1, anon2, p2, broken = groups
    assert p1.decision.recommendation.outcome is Outcome.URGENT_REFERRAL and p1.decision.worst_dr_grade == 3
    assert p2.decision.recommendation.outcome is Outcome.UNGRADABLE  # an ungradable eye is never "no DR"
    assert anon1.decision.recommendation.outcome is Outcome.ROUTINE_RESCREEN
    assert broken.decision is None
    assert p1.caveat == "untrained model"
    assert display.group_title(p1) == "P1" and display.group_title(anon1) == "No patient ID: anon1.jpg"
    assert display.group_title(broken) == "Unreadable file: broken.jpg"
    # A patient ID filled in by the grader joins the image to that patient.
    named = records[1].with_decision(GraderDecision(0, 0, patient_id="P1", grader="G"))
    assert [len(g.records) for g in group_by_patient([records[0], named])] == [2]


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "expected"),
    [(0, 10, 5.0, None), (1, 10, 5.0, None), (2, 10, 4.0, 16.0), (10, 10, 9.0, 0.0)],
)
def test_time_left(done, total, elapsed, expected):
    assert seconds_left(done, total, elapsed) == expected


def test_progress_wording():
    assert duration_text(3) == "a few seconds" and duration_text(42) == "40 s" and duration_text(600) == "10 min"
    assert duration_text(2 * 3600 + 5 * 60) == "2 h 05 min"
    assert progress_text(5, 20, 30.0, 2) == "Screening 5 of 20, about 30 s left · 2 more queued"
    assert progress_text(20, 20, 0.0) == "Screening 20 of 20"


def test_weights_trained_on_synthetic_and_real_images_carry_their_own_caveat():
    mixed = replace(SYNTHETIC, real=True)
    assert record("a", 2, 1, model=mixed).model_caveat == "mostly synthetic training"
