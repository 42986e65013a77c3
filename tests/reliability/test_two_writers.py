"""Two windows (or workstations) on one data folder: a stale save is refused with both values shown, never written
over another grader's decision unseen (red-team issue, item 2)."""

from __future__ import annotations

import pytest

from ran_desktop.engine.records.review import CONFIRMED, OVERRIDDEN, GraderDecision
from ran_desktop.engine.records.storage import DATABASE_NAME, StaleDecisionError, Storage, open_storage
from ran_desktop.engine.screening.batch import BatchRun


@pytest.fixture
def one_image(loaded, sample_path, tmp_path):
    with open_storage(tmp_path / "data") as store:
        db, session = store.path, store.current_session()
    BatchRun(loaded, db, session, [sample_path]).run(lambda n: None, lambda *a: None)
    return db, session


def test_a_stale_save_is_refused_with_both_values_and_the_newer_decision_stays(one_image):
    db, session = one_image
    with Storage(db) as a, Storage(db) as b:
        seen_by_a = a.load_session(session)[0]
        seen_by_b = b.load_session(session)[0]
        assert seen_by_a.decision_version == seen_by_b.decision_version == 0
        urgent = GraderDecision(dr_grade=4, dme_grade=2, kind=OVERRIDDEN, grader="Dr B")
        b.save_decision(seen_by_b.image_id, urgent, seen_by_b.decision_version)
        with pytest.raises(StaleDecisionError) as refused:
            a.save_decision(seen_by_a.image_id, GraderDecision(dr_grade=0, dme_grade=0, kind=CONFIRMED, grader="Dr A"),
                            seen_by_a.decision_version)
        text = str(refused.value)
        assert "changed by someone else" in text and "DR 4, DME 2" in text and "Dr B" in text and "DR 0, DME 0" in text
        assert refused.value.current.decision.dr_grade == 4 and refused.value.current.decision_version == 1
        stored = a.record(seen_by_a.image_id)
        assert stored.decision.dr_grade == 4 and [e.grader for e in a.audit_trail(stored.image_id)] == ["Dr B"]
        # Having seen B's decision, A may replace it deliberately: audited as a change of B's.
        a.save_decision(stored.image_id, GraderDecision(dr_grade=3, dme_grade=2, kind=OVERRIDDEN, grader="Dr A"),
                        stored.decision_version)
        trail = b.audit_trail(stored.image_id)
        assert [(e.grader, e.previous.dr_grade if e.previous else None) for e in trail] == [("Dr B", None), ("Dr A", 4)]
        # Undo and "not reviewed" are checked the same way.
        with pytest.raises(StaleDecisionError):
            b.set_not_reviewed(stored.image_id, "Dr B", expected_version=1)
        with pytest.raises(StaleDecisionError):
            b.undo_decision(stored.image_id, "Dr B", expected_version=1)
        assert b.record(stored.image_id).decision.dr_grade == 3


def test_a_window_that_did_not_see_anothers_save_is_refused_and_shown_theirs(start_window, qtbot, sample_path):
    """Another window or workstation (here its own connection to the same database) saves DR 4 urgent; this window,
    still showing 'not reviewed', saves DR 0 with the grader's keys: refused, told both values, shown theirs."""
    from gui_helpers import drop, wait_idle
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    a = start_window()
    drop(a, [sample_path])
    wait_idle(qtbot, a, 1)
    image = a.results.record(0)
    with Storage(a.storage.path) as elsewhere:
        assert elsewhere.load_session(a.session_id)[0].image_id == image.image_id
        elsewhere.save_decision(image.image_id, GraderDecision(dr_grade=4, dme_grade=2, kind=OVERRIDDEN, grader="Dr B"),
                                image.decision_version)
    a.select_key(image.key)
    a.activateWindow()
    qtbot.waitActive(a)
    assert a.results.record(0).decision is None  # this window has not seen B's decision
    qtbot.keyClick(a.workspace.table, Qt.Key.Key_0)  # the grader's keys: DR 0, DME 0, save
    qtbot.keyClick(a.workspace.table, Qt.Key.Key_0, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(a.workspace.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: any(m.isVisible() for m in a.findChildren(QMessageBox)), timeout=10_000)
    box = next(m for m in a.findChildren(QMessageBox) if m.isVisible())
    assert box.windowTitle() == "Changed elsewhere: not saved" and "DR 4, DME 2" in box.text()
    assert "Yours, not saved: DR 0, DME 0" in box.text()
    box.close()
    shown = a.results.record(0)
    assert shown.decision is not None and shown.decision.dr_grade == 4  # the row now shows what is stored
    assert a.storage.record(image.image_id).decision.dr_grade == 4
    assert [e.grader for e in a.storage.audit_trail(image.image_id)] == ["Dr B"]


def test_another_graders_new_session_does_not_hide_this_graders_work(start_window, qtbot, sample_path, data_dir):
    """After B (another window or workstation on this data folder) starts a new session, A's window keeps showing
    A's images, a batch in A still goes to A's session, and A's next start reopens A's session, not B's."""
    from gui_helpers import drop, wait_idle

    from ran_desktop.gui.settings import AppSettings

    a = start_window()
    drop(a, [sample_path])
    wait_idle(qtbot, a, 1)
    mine = a.session_id
    with Storage(a.storage.path) as elsewhere:
        theirs = elsewhere.new_session()
    AppSettings(data_dir).remember_session("Dr B", theirs)
    assert theirs != mine and a.session_id == mine and a.results.rowCount() == 1
    a.close()
    again = start_window()  # the fixture's grader, "Dr Test", is A
    assert again.session_id == mine and again.results.rowCount() == 1
    again.close()
    from ran_desktop.gui.main_window import _prepare_storage

    # a grader with no session of their own gets the newest; B gets B's
    database = data_dir / DATABASE_NAME
    for grader in ("Dr New", "Dr B"):
        storage, session = _prepare_storage(data_dir, database, AppSettings(data_dir).last_session(grader))
        storage.close()
        assert session == theirs
