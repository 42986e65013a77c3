"""Second grading and arbitration: which images go to a second grader, the state machine (a grader who disagrees, an
arbitrator who breaks the tie, graders who may not grade twice), and its record in the database and audit trail on
both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.engine.records.second_grading import (
    ANY_GRADE_RULE,
    ARBITRATION,
    AWAITING_ARBITRATION,
    AWAITING_SECOND,
    FINAL,
    REASON_REFERABLE,
    REASON_SAMPLED,
    REFERABLE_RULE,
    SECOND,
    GradingOrderError,
    QAPolicy,
    disagree,
    second_reason,
)
from ran_desktop.engine.records.storage import Storage

INFO = ModelInfo("m", "1", "none", False, False, "warning", "CPU")
POLICY = QAPolicy(enabled=True, sample_share=0.10, rule=REFERABLE_RULE)


def test_every_referable_or_ungradable_first_grading_goes_to_a_second_grader():
    for grades in [(2, 0), (4, 2), (0, 1), (None, None)]:
        assert second_reason("any key", grades, POLICY) == REASON_REFERABLE
    assert second_reason("any key", (3, 1), QAPolicy(enabled=False)) is None


def test_a_sample_of_the_rest_close_to_the_share_and_the_same_on_every_workstation():
    keys = [f"/clinic/photo{i:05d}.jpg" for i in range(5000)]
    sampled = [k for k in keys if second_reason(k, (1, 0), POLICY) == REASON_SAMPLED]
    assert 0.085 < len(sampled) / len(keys) < 0.115  # 10 % +- about 3 standard errors
    assert sampled == [k for k in keys if second_reason(k, (0, 0), POLICY) == REASON_SAMPLED]  # by key alone
    assert not [k for k in keys if second_reason(k, (1, 0), QAPolicy(True, 0.0)) is not None]
    assert all(second_reason(k, (0, 0), QAPolicy(True, 1.0)) == REASON_SAMPLED for k in keys[:50])


def test_the_disagreement_rules():
    assert disagree((1, 0), (2, 0), REFERABLE_RULE)  # refer or not
    assert disagree((0, 0), (None, None), REFERABLE_RULE)  # gradable or not
    assert not disagree((2, 0), (3, 1), REFERABLE_RULE)  # both refer
    assert disagree((2, 0), (3, 1), ANY_GRADE_RULE)
    assert not disagree((1, 0), (1, 0), ANY_GRADE_RULE)
    with pytest.raises(ValueError, match="rule"):
        QAPolicy(True, 0.1, "sometimes")


def _image(store: Storage, n: int = 0) -> int:
    session = store.current_session()
    result = ScreeningResult(f"k{n}", Path(f"/clinic/p{n}.jpg"), Status.ERROR, INFO, error="x")
    return store.save_result(session, result).image_id


def test_a_second_grader_who_agrees_settles_the_image(target):
    with Storage(target) as store:
        image = _image(store)
        store.save_decision(image, GraderDecision(2, 0, grader="Dr First"), qa=POLICY)
        status = store.qa_status(image)
        assert (status.state, status.reason) == (AWAITING_SECOND, REASON_REFERABLE)
        assert store.qa_queue(AWAITING_SECOND, "Dr First") == []  # not to the first grader again
        assert store.qa_queue(AWAITING_SECOND, "Dr Second") == [image]
        assert store.grade_again(image, SECOND, GraderDecision(3, 0, grader="Dr Second")) == FINAL
        assert store.decision(image).grader == "Dr Second" and store.decision(image).dr_grade == 3
        trail = store.audit_trail(image)
        assert [(e.action, e.grader) for e in trail] == [("decision", "Dr First"), ("second grading", "Dr Second")]
        assert store.qa_queue(AWAITING_SECOND, "Dr Third") == [] and store.verify_audit() == []


def test_a_disagreement_goes_to_an_arbitrator_who_breaks_the_tie(target):
    with Storage(target) as store:
        image = _image(store)
        store.save_decision(image, GraderDecision(2, 1, grader="Dr First"), qa=POLICY)
        with pytest.raises(GradingOrderError, match="Dr First made the first grading"):
            store.grade_again(image, SECOND, GraderDecision(0, 0, grader="dr first"))  # the same person
        with pytest.raises(GradingOrderError, match="not due"):
            store.grade_again(image, ARBITRATION, GraderDecision(0, 0, grader="Dr Lead"))
        assert store.grade_again(image, SECOND, GraderDecision(1, 0, grader="Dr Second")) == AWAITING_ARBITRATION
        assert store.decision(image).grader == "Dr First"  # stands until the arbitrator decides
        with pytest.raises(GradingOrderError, match="only through arbitration"):
            store.save_decision(image, GraderDecision(0, 0, grader="Dr First"), qa=POLICY)
        assert store.qa_queue(AWAITING_ARBITRATION, "Dr Second") == []
        assert store.qa_queue(AWAITING_ARBITRATION, "Dr Lead") == [image]
        with pytest.raises(GradingOrderError, match="Dr Second made the second grading"):
            store.grade_again(image, ARBITRATION, GraderDecision(1, 0, grader="Dr Second"))
        assert store.grade_again(image, ARBITRATION, GraderDecision(2, 0, grader="Dr Lead")) == FINAL
        final = store.decision(image)
        assert (final.dr_grade, final.dme_grade, final.grader) == (2, 0, "Dr Lead")
        status = store.qa_status(image)
        assert status.state == FINAL
        assert [(g.stage, g.grader, g.grades) for g in status.gradings] == [
            ("first", "Dr First", (2, 1)), ("second", "Dr Second", (1, 0)), ("arbitration", "Dr Lead", (2, 0))]
        assert [e.action for e in store.audit_trail(image)] == [
            "decision", "second grading, sent to arbitration", "arbitration"]
        assert store.verify_audit() == []  # the entry that decided nothing does not count as the decision
        with pytest.raises(GradingOrderError, match="not due"):
            store.grade_again(image, ARBITRATION, GraderDecision(0, 0, grader="Dr Other"))


def test_a_first_grader_may_change_their_mind_before_the_second_grading(target):
    with Storage(target) as store:
        image = _image(store, 7)
        store.save_decision(image, GraderDecision(3, 0, grader="Dr First"), qa=POLICY)
        assert store.qa_status(image).state == AWAITING_SECOND
        # not referable after all, and not in the sample: no second grading needed any more
        key_sampled = second_reason("k7", (0, 0), POLICY) == REASON_SAMPLED
        store.save_decision(image, GraderDecision(0, 0, grader="Dr First"), qa=POLICY)
        assert (store.qa_status(image) is not None) == key_sampled
        store.set_not_reviewed(image, "Dr First")
        assert store.qa_status(image) is None and store.qa_queue(AWAITING_SECOND, "Dr Second") == []


def test_each_graders_agreement_with_the_settled_grades(target):
    """Dr A grades five images first (one miss), Dr B second-grades them; the lead arbitrates where they differ."""
    from ran_desktop.engine.validation.grader_agreement import grader_agreement

    firsts = [(2, 0), (3, 1), (2, 0), (4, 2), (2, 1)]  # all referable: all go to second grading
    seconds = [(2, 0), (3, 1), (1, 0), (4, 1), (0, 0)]
    arbitrated = {2: (1, 0), 4: (2, 1)}  # A was wrong on image 2, B on image 4
    with Storage(target) as store:
        ids = [_image(store, n) for n in range(5)]
        for n, image in enumerate(ids):
            store.save_decision(image, GraderDecision(*firsts[n], grader="Dr A"), qa=POLICY)
            store.grade_again(image, SECOND, GraderDecision(*seconds[n], grader="Dr B"))
            if n in arbitrated:
                store.grade_again(image, ARBITRATION, GraderDecision(*arbitrated[n], grader="Dr Lead"))
        rows = {r.grader: r for r in grader_agreement(store.qa_statuses())}
    assert set(rows) == {"Dr A", "Dr B"}  # the arbitrator is the reference
    a, b = rows["Dr A"], rows["Dr B"]
    assert (a.images, a.same_outcome.hits) == (5, 4) and (b.images, b.same_outcome.hits) == (5, 4)
    assert (a.sensitivity.hits, a.sensitivity.n, a.specificity.hits, a.specificity.n) == (4, 4, 0, 1)
    assert (b.sensitivity.hits, b.sensitivity.n, b.specificity.hits, b.specificity.n) == (3, 4, 1, 1)
    assert a.kappa is not None and b.kappa is not None and -1 <= b.kappa < 1 and a.kappa < 1
    # DR grades against the settled ones 2, 3, 1, 4, 2: A gave 2, 3, 2, 4, 2 and B 2, 3, 1, 4, 0
    assert (a.kappa, b.kappa) == (pytest.approx(0.8837, abs=1e-4), pytest.approx(0.75))
