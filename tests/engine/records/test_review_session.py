"""The review session service (engine, no Qt): a decision is completed in one place (confirmed or overridden against
the model, who, when) and stored against the version the grader saw; undo and "not reviewed" are audited; a
session is started or reopened through it."""

from __future__ import annotations

import pytest

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.review import CONFIRMED, OVERRIDDEN, GraderDecision
from ran_desktop.engine.records.review_session import NoGraderError, ReviewSession
from ran_desktop.engine.records.storage import StaleDecisionError, Storage
from ran_desktop.engine.screening.screener import Screener


@pytest.fixture
def session(tmp_path, hesitant_bundle, sample_path):
    storage = Storage(tmp_path / "sessions.db")
    service = ReviewSession(storage, storage.current_session())
    (result,) = Screener(load_bundle(hesitant_bundle, device="cpu")).screen([sample_path])
    storage.save_result(service.session_id, result)
    yield service
    storage.close()


def test_a_decision_is_completed_and_stored_in_one_place(session):
    (record,) = session.records()
    model = record.model_grades
    confirmed = session.record_decision(record, GraderDecision(*model, comment="as proposed"), "Dr A")
    assert confirmed.decision.kind == CONFIRMED and confirmed.decision.grader == "Dr A"
    assert confirmed.decision.decided_at and confirmed.decision_version == 1
    other = (4 if model[0] != 4 else 3, model[1])
    changed = session.record_decision(confirmed, GraderDecision(*other), "Dr B")
    assert changed.decision.kind == OVERRIDDEN and changed.decision.grader == "Dr B"
    (stored,) = session.records()
    assert stored.decision == changed.decision and stored.decision_version == 2
    assert [e.grader for e in session.storage.audit_trail(record.image_id)] == ["Dr A", "Dr B"]


def test_no_grader_no_change(session):
    (record,) = session.records()
    with pytest.raises(NoGraderError, match="audit trail records who"):
        session.record_decision(record, GraderDecision(0, 0), "  ")
    decided = session.record_decision(record, GraderDecision(0, 0), "Dr A")
    for change in (session.undo, session.set_not_reviewed):
        with pytest.raises(NoGraderError):
            change(decided, "")
    (stored,) = session.records()
    assert stored.decision_version == 1  # nothing else was written


def test_a_change_made_elsewhere_is_not_overwritten(session):
    (record,) = session.records()
    session.record_decision(record, GraderDecision(1, 0), "Dr A")  # another window, on the same version
    with pytest.raises(StaleDecisionError):
        session.record_decision(record, GraderDecision(2, 0), "Dr B")
    assert session.records()[0].decision.grader == "Dr A"


def test_undo_and_not_reviewed_are_audited(session):
    (record,) = session.records()
    first = session.record_decision(record, GraderDecision(1, 0), "Dr A")
    second = session.record_decision(first, GraderDecision(2, 1), "Dr A")
    undone = session.undo(second, "Dr A")
    assert (undone.decision.dr_grade, undone.decision.dme_grade) == (1, 0)
    cleared = session.set_not_reviewed(undone, "Dr B")
    assert cleared.decision is None and cleared.decision_version == 4
    assert [e.action for e in session.storage.audit_trail(record.image_id)][-2:] == ["undo", "not reviewed"]


def test_sessions_are_started_and_reopened_through_it(session):
    first = session.session_id
    second = session.start_new()
    assert second != first and session.records() == []
    session.open(first)
    assert session.session_id == first and len(session.records()) == 1
    with pytest.raises(ValueError, match="no session 999"):
        session.open(999)
    assert session.session_id == first
