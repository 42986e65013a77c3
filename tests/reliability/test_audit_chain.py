"""The audit trail is tamper-evident: edits made around the app, even with the triggers dropped, are found on open
and by the self-test (red-team issue, item 6)."""

from __future__ import annotations

import sqlite3

import pytest

from ran_desktop.engine.records.review import CONFIRMED, OVERRIDDEN, GraderDecision
from ran_desktop.engine.records.storage import DATABASE_NAME, SCHEMA_VERSION, Storage, open_storage


@pytest.fixture
def decided(loaded, sample_path, tmp_path):
    """A database with three images and five audited changes."""
    from ran_desktop.engine.screening.batch import BatchRun

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        (folder / f"eye{i}_OD.jpg").write_bytes(sample_path.read_bytes())
        # three different files: each its own image
        (folder / f"eye{i}_OD.jpg").write_bytes(sample_path.read_bytes() + bytes([i]))
    data = tmp_path / "data"
    with open_storage(data) as store:
        session = store.current_session()
    BatchRun(loaded, data / DATABASE_NAME, session, [folder]).run(lambda n: None, lambda *a: None)
    with Storage(data / DATABASE_NAME) as store:
        ids = [r.image_id for r in store.load_session(session)]
        store.save_decision(ids[0], GraderDecision(dr_grade=0, dme_grade=0, kind=CONFIRMED, grader="Dr A"))
        store.save_decision(ids[1], GraderDecision(dr_grade=4, dme_grade=2, kind=OVERRIDDEN, grader="Dr A"))
        store.save_decision(ids[2], GraderDecision(dr_grade=2, dme_grade=1, kind=OVERRIDDEN, grader="Dr B"))
        store.undo_decision(ids[2], "Dr B")
        store.save_decision(ids[2], GraderDecision(dr_grade=3, dme_grade=1, kind=OVERRIDDEN, grader="Dr B"))
        assert store.verify_audit() == []
    return data, ids


def _raw(data) -> sqlite3.Connection:
    return sqlite3.connect(data / DATABASE_NAME, isolation_level=None)


def test_an_edited_decision_is_found(decided):
    """The attack: a direct UPDATE of `decisions` (no trigger guards it) turns DR 4 urgent into DR 0."""
    data, ids = decided
    with _raw(data) as db:
        db.execute("UPDATE decisions SET dr_grade = 0, dme_grade = 0 WHERE image_id = ?", (ids[1],))
    with Storage(data / DATABASE_NAME) as store:
        problems = store.verify_audit()
    assert problems == [f"the decision on image {ids[1]} is not the one its audit trail ends with: it was changed "
                        "outside the app"]


def test_a_rewritten_entry_behind_a_dropped_trigger_is_found(decided):
    data, ids = decided
    with _raw(data) as db:
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET new = replace(new, '\"dr_grade\":4', '\"dr_grade\":0') WHERE image_id = ?",
                   (ids[1],))
        db.execute("UPDATE decisions SET dr_grade = 0 WHERE image_id = ?", (ids[1],))  # made to agree
        db.execute("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                   "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
    with Storage(data / DATABASE_NAME) as store:
        problems = store.verify_audit()
    assert problems and "audit entry 2 (decision by Dr A" in problems[0] and "does not match the chain" in problems[0]


def test_a_removed_entry_is_found(decided):
    data, ids = decided
    with _raw(data) as db:
        db.execute("DROP TRIGGER audit_no_delete")
        db.execute("DELETE FROM audit WHERE id = 3")
    with Storage(data / DATABASE_NAME) as store:
        assert any("audit entry 4" in p for p in store.verify_audit())


def test_a_database_from_before_the_chain_is_chained_on_upgrade(decided):
    """Schema 4 databases have no hashes: the upgrade chains the trail as it stands, and it then verifies."""
    data, ids = decided
    with _raw(data) as db:
        db.execute("ALTER TABLE audit DROP COLUMN entry_hash")  # the tables as schema 4 made them
        db.execute("ALTER TABLE images ADD COLUMN thumbnail BLOB")
        db.execute("DROP TABLE thumbnails")
        for column in ("file_label", "eye", "patient_name", "model_dr", "model_dme", "model_suspects", "study_date"):
            db.execute(f"ALTER TABLE images DROP COLUMN {column}")
        db.execute("ALTER TABLE images DROP COLUMN suspicion")
        for table in ("claims", "gradings", "qa"):  # tables that came after schema 4
            db.execute(f"DROP TABLE {table}")
        db.execute("ALTER TABLE decisions DROP COLUMN marks")
        db.execute("ALTER TABLE decisions DROP COLUMN fovea")
        db.execute("ALTER TABLE decisions DROP COLUMN change")
        db.execute("DROP INDEX images_by_patient")
        db.execute("ALTER TABLE images DROP COLUMN patient_id")
        db.execute("DROP TABLE alembic_version")  # as an app before Alembic left it
        db.execute("UPDATE schema_version SET version = 4")
    with Storage(data / DATABASE_NAME) as store:
        assert store.schema_version == SCHEMA_VERSION and store.verify_audit() == []
    with _raw(data) as db, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit SET grader = 'x'")  # the trigger is back


def test_the_window_and_the_self_test_say_so(decided, start_window, qtbot, monkeypatch, tmp_path, tiny_bundle):
    from PySide6.QtWidgets import QMessageBox

    from ran_desktop.selftest import main as self_test

    data, ids = decided
    with _raw(data) as db:
        db.execute("UPDATE decisions SET dr_grade = 0 WHERE image_id = ?", (ids[1],))
    monkeypatch.setenv("RAN_DATA_DIR", str(data))
    monkeypatch.setenv("RAN_MODELS_DIR", str(tiny_bundle.parent))
    monkeypatch.setenv("RAN_DEVICE", "cpu")
    assert self_test(["--self-test", "--self-test-dir", str(tmp_path / "st")]) == 1
    log = (tmp_path / "st" / "self-test.log").read_text(encoding="utf-8")
    assert "audit trail: FAILED" in log and "altered outside the app" in log

    from ran_desktop.app import launch
    from ran_desktop.gui.settings import AppSettings

    AppSettings(data).grader_name = "Dr Test"
    window = launch([], data, tiny_bundle.parent)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)), timeout=10_000)
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert box.windowTitle() == "The audit trail has been altered" and f"image {ids[1]}" in box.text()
