"""Several workstations on one database (SQLite file or PostgreSQL server): claims that expire, decisions that reach
the other window, no two writers forking the audit trail, and the same answers from both databases. The writers are
separate processes, as workstations are."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import replace
from pathlib import Path

import pytest
from database_targets import fresh_postgres

from ran_desktop.engine.records.claims import ClaimedError
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.engine.records.storage import StaleDecisionError, Storage

INFO = ModelInfo("m", "1", "none", False, False, "warning", "CPU")
SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter each, as a second workstation is


def _result(i: int) -> ScreeningResult:
    return ScreeningResult(f"k{i}", Path(f"/clinic/p{i // 2}_{'OD' if i % 2 else 'OS'}.jpg"), Status.ERROR, INFO,
                           error="unreadable")


def _session_with_images(target, count: int) -> tuple[int, list[int]]:
    with Storage(target) as store:
        session = store.current_session()
        ids = [store.save_result(session, _result(i)).image_id for i in range(count)]
    return session, ids


def _start_together(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def _claim_all(target, ids, token, start_at, out) -> None:
    with Storage(target) as store:
        _start_together(start_at)
        out.put((token, [store.claim(i, token, f"grader {token}").mine for i in ids]))


def _decide_once(target, image_id, grader, version, start_at, out) -> None:
    with Storage(target) as store:
        _start_together(start_at)
        try:
            store.save_decision(image_id, GraderDecision(2, 0, grader=grader), expected_version=version)
            out.put((grader, "saved"))
        except StaleDecisionError:
            out.put((grader, "stale"))


def _run(processes) -> None:
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
        assert p.exitcode == 0


def test_two_processes_claiming_the_same_images_get_each_image_once(target):
    session, ids = _session_with_images(target, 20)
    out = SPAWN.Queue()
    start_at = time.time() + 3.0  # both interpreters are up and connected by then
    _run([SPAWN.Process(target=_claim_all, args=(target, ids, token, start_at, out)) for token in ("A", "B")])
    got = dict(out.get(timeout=10) for _ in range(2))
    for index, image_id in enumerate(ids):
        assert got["A"][index] != got["B"][index], f"image {image_id} claimed by both or by neither"
    with Storage(target) as store:
        by_a = store.claimed_by_others(session, "B")
        by_b = store.claimed_by_others(session, "A")
    assert set(by_a) | set(by_b) == set(ids) and not set(by_a) & set(by_b)
    assert set(by_a.values()) <= {"grader A"} and set(by_b.values()) <= {"grader B"}


def test_concurrent_decisions_on_one_image_let_one_win_and_keep_one_chain(target):
    """Four processes save on the version they all saw: one is saved, three are told it changed; repeated over
    several images, the hash chain stays one line (no two writers appended after the same entry)."""
    _, ids = _session_with_images(target, 4)
    for image_id in ids:
        out = SPAWN.Queue()
        start_at = time.time() + 3.0
        _run([SPAWN.Process(target=_decide_once, args=(target, image_id, f"G{n}", 0, start_at, out))
              for n in range(4)])
        outcomes = sorted(outcome for _, outcome in (out.get(timeout=10) for _ in range(4)))
        assert outcomes == ["saved", "stale", "stale", "stale"]
    with Storage(target) as store:
        assert store.verify_audit() == []
        assert all(len(store.audit_trail(i)) == 1 for i in ids)


def test_a_claim_keeps_others_from_saving_until_it_expires_or_is_released(target):
    _, (image, other) = _session_with_images(target, 2)
    with Storage(target) as first, Storage(target) as second:
        assert first.claim(image, "window-1", "A. Grader on WS-1", seconds=1.5).mine
        taken = second.claim(image, "window-2", "B. Grader on WS-2")
        assert not taken.mine and taken.holder == "A. Grader on WS-1" and 0 < taken.seconds_left <= 1.5
        with pytest.raises(ClaimedError, match="A. Grader on WS-1 is grading this image now"):
            second.save_decision(image, GraderDecision(1, 0, grader="B. Grader"), claim="window-2")
        assert second.decision(image) is None and second.audit_trail(image) == []
        first.save_decision(image, GraderDecision(2, 1, grader="A. Grader"), claim="window-1")  # the holder may
        assert first.claim(image, "window-1", "A. Grader on WS-1", seconds=1.5).mine  # renewed
        time.sleep(1.7)
        assert second.claim(image, "window-2", "B. Grader on WS-2").mine  # expired: taken over
        assert not first.claim(image, "window-1", "A. Grader on WS-1").mine
        second.release(image, "window-2")
        assert first.claim(image, "window-1", "A. Grader on WS-1").mine
        assert second.claim(other, "window-2", "B. Grader on WS-2").mine  # other images are free


def test_a_decision_saved_elsewhere_reaches_the_other_window(target):
    session, ids = _session_with_images(target, 3)
    with Storage(target) as mine:
        mark, changed = mine.changed_since(session, 0)
        assert (mark, changed) == (0, [])
        with Storage(target) as theirs:  # another workstation
            theirs.save_decision(ids[1], GraderDecision(3, 2, grader="Dr Other"))
        mark, changed = mine.changed_since(session, mark)
        assert [r.image_id for r in changed] == [ids[1]] and changed[0].decision.grader == "Dr Other"
        assert mine.changed_since(session, mark) == (mark, [])  # nothing new since


def _workload(store: Storage) -> list[tuple]:
    """The same sequence of everything the app does to a database; what it reads back, without the clock."""
    session = store.current_session()
    ids = [store.save_result(session, _result(i), thumbnail=bytes([i]) * 64).image_id for i in range(6)]
    store.save_result(session, replace(_result(2), error="read again"))  # the same key: replaced in place
    store.save_decision(ids[0], GraderDecision(2, 1, patient_id="P-1", comment="héma", grader="A"))
    store.save_decision(ids[0], GraderDecision(3, 2, grader="B", kind="overridden"), expected_version=1)
    store.undo_decision(ids[0], "B")
    store.save_decision(ids[1], GraderDecision(None, None, grader="A"))
    store.set_not_reviewed(ids[1], "C")
    second = store.new_session()
    store.save_result(second, _result(1))
    claim = store.claim(ids[3], "t", "A on WS")

    def plain(record):  # ids left out: PostgreSQL spends a sequence number on an insert that became an update
        decision = record.decision and replace(record.decision, decided_at="")
        return (record.key, record.result.error, record.thumbnail, decision,
                record.decision_version, record.superseded)

    trails = [[(e.action, e.previous and replace(e.previous, decided_at=""), e.new and replace(e.new, decided_at=""),
                e.grader) for e in store.audit_trail(i)] for i in ids]
    return [
        [plain(r) for s in (session, second) for r in store.load_session(s)],
        trails,
        [(s.id, s.images, s.reviewed) for s in store.sessions()],
        [s.id for s in store.sessions("P0_")],  # case-insensitive on both
        store.count_graded(), store.count_images(session), claim.mine, store.verify_audit(),
        store.schema_version,
    ]


def test_sqlite_and_postgresql_give_the_same_answers(tmp_path):
    with Storage(tmp_path / "a.sqlite3") as store:
        on_sqlite = _workload(store)
    with fresh_postgres() as url, Storage(url) as store:
        on_postgres = _workload(store)
    assert on_sqlite == on_postgres
    assert on_sqlite[3] == [2, 1] and on_sqlite[-2] == []
