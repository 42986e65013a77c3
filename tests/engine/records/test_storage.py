"""The session database: results, decisions with their audit trail, reopening, crashes and schema versions."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from database_targets import fresh_postgres
from legacy_schema import make_legacy_database
from locations import REPO_ROOT
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import DBAPIError

from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.imaging.thumbnails import make_thumbnail
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records import migrate
from ran_desktop.engine.records.migrate import LEGACY_LAST, LEGACY_MARK
from ran_desktop.engine.records.results import ModelInfo, Status
from ran_desktop.engine.records.review import CONFIRMED, OVERRIDDEN, GraderDecision
from ran_desktop.engine.records.session_export import write_session
from ran_desktop.engine.records.storage import DATABASE_NAME, SCHEMA_VERSION, Storage, StorageError, open_storage
from ran_desktop.engine.records.tables import HEAD_REVISION
from ran_desktop.engine.screening.batch import BatchRun
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions

ROOT = REPO_ROOT


@pytest.fixture(scope="module")
def loaded(tiny_bundle):
    return load_bundle(tiny_bundle, device="cpu")


@pytest.fixture(scope="module")
def screened(loaded, sample_path, tmp_path_factory):
    """Real results: a gradable photograph, an ungradable black frame and a file that is not an image."""
    folder = tmp_path_factory.mktemp("images")
    black = folder / "black_OD.png"
    cv2.imwrite(str(black), np.zeros((600, 600, 3), np.uint8))
    bad = folder / "notes.jpg"
    bad.write_text("not a photograph", encoding="utf-8")
    results = list(Screener(loaded, ScreeningOptions(keep_stages=True)).screen([sample_path, black, bad]))
    assert [r.status for r in results] == [Status.SCREENED, Status.UNGRADABLE, Status.ERROR]
    return results


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "data" / DATABASE_NAME


def test_a_new_sqlite_file_is_in_wal_mode_and_refused_by_apps_before_alembic(db_path):
    with Storage(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(LEGACY_MARK,)]
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_results_round_trip_after_reopening(target, screened):
    thumb = make_thumbnail(screened[0].stages["original"])
    with Storage(target) as store:
        session = store.current_session()
        for result in screened:
            store.save_result(session, result, thumb if result.status is Status.SCREENED else None)

    with Storage(target) as store:
        assert store.current_session() == session
        records = store.load_session(session)
    assert [r.key for r in records] == [r.key for r in screened]
    good, black, bad = records
    original = screened[0]
    assert good.result.dr_probs == pytest.approx(original.dr_probs)
    assert good.result.dme_probs == pytest.approx(original.dme_probs)
    assert good.result.dr_grade == original.dr_grade
    assert good.result.metadata == original.metadata
    assert good.result.quality.scores == pytest.approx(original.quality.scores)
    assert good.result.model == original.model
    assert good.thumbnail == thumb
    decoded = cv2.imdecode(np.frombuffer(good.thumbnail, np.uint8), cv2.IMREAD_COLOR)
    assert max(decoded.shape[:2]) == 128
    assert black.status is Status.UNGRADABLE and black.result.quality.reasons == screened[1].quality.reasons
    assert black.eye is Eye.RIGHT
    assert bad.status is Status.ERROR and bad.result.error == screened[2].error and bad.result.metadata is None


def test_decisions_keep_an_audit_trail_with_the_previous_value(target, screened):
    with Storage(target) as store:
        session = store.current_session()
        image = store.save_result(session, screened[0])
        first = store.save_decision(image.image_id, GraderDecision(1, 1, kind=CONFIRMED, grader="A. Grader"))
        second = store.save_decision(
            image.image_id,
            GraderDecision(3, 0, patient_id="P-17", comment="new haemorrhages", kind=OVERRIDDEN, grader="B. Senior"),
        )

    with Storage(target) as store:
        current = store.decision(image.image_id)
        trail = store.audit_trail(image.image_id)
        record = store.load_session(session)[0]
    assert first.decided_at and second.decided_at
    assert current == second
    assert (current.dr_grade, current.dme_grade, current.grader) == (3, 0, "B. Senior")
    assert current.comment == "new haemorrhages"
    assert [(e.grader, e.previous, e.new) for e in trail] == [("A. Grader", None, first), ("B. Senior", first, second)]
    assert record.decision == second and record.grades == (3, 0) and record.patient_id == "P-17"


def test_screening_again_replaces_the_result_but_keeps_the_decision(target, screened):
    with Storage(target) as store:
        session = store.current_session()
        image = store.save_result(session, screened[0])
        store.save_decision(image.image_id, GraderDecision(None, None, kind=OVERRIDDEN, grader="A. Grader"))
        again = store.save_result(session, screened[0])
        assert again.image_id == image.image_id
        assert store.count_images(session) == 1
        assert again.decision is not None and again.ungradable


def test_the_audit_trail_cannot_be_rewritten(target, screened):
    """The database itself refuses UPDATE and DELETE on the trail (SQLite triggers; a PostgreSQL trigger function)."""
    with Storage(target) as store:
        image = store.save_result(store.current_session(), screened[0])
        store.save_decision(image.image_id, GraderDecision(0, 0, grader="A. Grader"))
    engine = create_engine(f"sqlite:///{target}" if isinstance(target, Path) else target)
    for statement in ("UPDATE audit SET grader = 'someone else'", "DELETE FROM audit"):
        with engine.connect() as raw, pytest.raises(DBAPIError, match="append-only"):
            raw.exec_driver_sql(statement)
    engine.dispose()
    with Storage(target) as store:
        assert [e.grader for e in store.audit_trail(image.image_id)] == ["A. Grader"]


def test_a_decision_needs_a_grader_and_valid_grades(target, screened):
    with Storage(target) as store:
        image = store.save_result(store.current_session(), screened[0])
        with pytest.raises(ValueError, match="grader"):
            store.save_decision(image.image_id, GraderDecision(0, 0, grader="  "))
        assert store.audit_trail(image.image_id) == []
    with pytest.raises(ValueError, match="DR grade"):
        GraderDecision(5, 0)
    with pytest.raises(ValueError, match="both"):
        GraderDecision(2, None)


def test_sessions_are_kept_apart(target, screened):
    with Storage(target) as store:
        first = store.current_session()
        store.save_result(first, screened[0])
        second = store.new_session()
        store.save_result(second, screened[1])
        assert second > first and store.current_session() == second
        assert [r.key for r in store.load_session(first)] == [screened[0].key]
        assert [r.key for r in store.load_session(second)] == [screened[1].key]


def test_a_new_database_is_at_the_newest_revision(target):
    with Storage(target) as store:
        assert store.schema_version == SCHEMA_VERSION
    assert HEAD_REVISION == migrate.head()  # tables.py describes what the newest migration builds


def test_a_database_from_a_newer_version_is_refused_readably(target):
    Storage(target).close()
    engine = create_engine(f"sqlite:///{target}" if isinstance(target, Path) else target)
    with engine.begin() as raw:
        raw.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(StorageError, match="newer version of RAN Screening.*9999"):
        Storage(target)


def test_a_file_from_before_alembic_with_a_newer_schema_is_refused(db_path):
    make_legacy_database(db_path, 6)
    raw = sqlite3.connect(db_path)
    raw.execute("UPDATE schema_version SET version = 8")
    raw.commit()
    raw.close()
    with pytest.raises(StorageError, match="newer version"):
        Storage(db_path)


@pytest.mark.parametrize("version", range(1, LEGACY_LAST + 1))
def test_a_file_from_before_alembic_is_migrated_and_keeps_its_data(db_path, version):
    """Files that apps before Alembic wrote (schema 1 to 6) open, migrate, keep their rows and decisions, and are
    then marked so that such an app refuses them."""
    make_legacy_database(db_path, version)
    raw = sqlite3.connect(db_path)
    raw.execute("INSERT INTO sessions (id, started_at) VALUES (1, '2025-01-02T03:04:05+00:00')")
    raw.execute("INSERT INTO images (id, session_id, key, path, status, model, timings, screened_at) VALUES "
                "(1, 1, '/old/eye_OD.jpg', '/old/eye_OD.jpg', 'error', ?, '{}', '2025-01-02T03:04:05+00:00')",
                (json.dumps(asdict(ModelInfo("m", "1", "none", False, False, "warning", "CPU"))),))
    raw.execute("INSERT INTO decisions (image_id, dr_grade, dme_grade, comment, kind, grader, decided_at) VALUES "
                "(1, 2, 1, 'from the old app', 'overridden', 'Old Grader', '2025-01-02T03:05:00+00:00')")
    raw.execute("INSERT INTO images (id, session_id, key, path, status, metadata, model, timings, screened_at) "
                "VALUES (2, 1, 'k2', '/old/p9_OD.jpg', 'error', ?, ?, '{}', '2025-01-02T03:04:05+00:00')",
                (json.dumps({"source_format": "JPEG", "original_size": [10, 10], "bit_depth": 8,
                             "color_model": "RGB", "patient_id": "P-9"}),
                 json.dumps(asdict(ModelInfo("m", "1", "none", False, False, "warning", "CPU")))))
    raw.commit()
    raw.close()
    with Storage(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        record, other = store.load_session(1)
        assert record.key == "/old/eye_OD.jpg" and record.decision.grader == "Old Grader"
        assert [r.key for r in store.last_visit("P-9", 2)] == ["k2"] and other.patient_id == "P-9"
        assert record.decision.entry == "graded" and record.decision.review_mode == ""
        assert record.decision.dr_grade == 2 and store.verify_audit() in ([], [
            "the decision on image 1 is not the one its audit trail ends with: it was changed outside the app"])
        # This file's decision was written with no audit entry, so the verifier must say so, whatever the schema.
        assert store.verify_audit() == [
            "the decision on image 1 is not the one its audit trail ends with: it was changed outside the app"]
        store.save_decision(1, GraderDecision(3, 1, grader="New Grader"))
        assert store.verify_audit() == []
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(LEGACY_MARK,)]
    assert "suspicion" in [row[1] for row in raw.execute("PRAGMA table_info(images)")]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM audit")
    raw.close()


def test_a_file_that_is_not_a_database_gives_a_readable_error(db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StorageError, match="not a usable session database"):
        Storage(db_path)


def test_a_crash_loses_nothing_already_saved(db_path, screened, tmp_path):
    """A process that dies right after saving (no close, no clean exit) leaves the result and decision on disk."""
    script = tmp_path / "crash.py"
    script.write_text(
        "import os, sys\n"
        "from ran_desktop.engine.records.storage import Storage\n"
        "from ran_desktop.engine.records.review import GraderDecision\n"
        "from ran_desktop.engine.records.results import ScreeningResult, ModelInfo, Status\n"
        "from pathlib import Path\n"
        "store = Storage(sys.argv[1])\n"
        "info = ModelInfo('m', '1', 'none', False, False, 'warning', 'CPU')\n"
        "result = ScreeningResult('k', Path('k'), Status.ERROR, info, error='x')\n"
        "image = store.save_result(store.current_session(), result)\n"
        "store.save_decision(image.image_id, GraderDecision(None, None, kind='overridden', grader='A. Grader'))\n"
        "os._exit(3)\n",
        encoding="utf-8",
    )
    done = subprocess.run([sys.executable, str(script), str(db_path)], cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode == 3, done.stderr.decode()
    with Storage(db_path) as store:
        [record] = store.load_session(store.current_session())
    assert record.key == "k" and record.decision.grader == "A. Grader"


def test_each_result_is_committed_before_it_is_reported(db_path, loaded, sample_path, tmp_path):
    """The batch stores every result (visible to another connection) before its callback runs."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        (folder / f"eye{i}_OS.jpg").write_bytes(sample_path.read_bytes())
    with open_storage(db_path.parent) as store:
        session = store.current_session()
    seen: list[int] = []
    planned: list[int] = []

    def on_record(record, done, total):
        with Storage(db_path) as other:
            seen.append(other.count_images(session))
        assert record.image_id > 0 and record.thumbnail and total == 3

    stored = BatchRun(loaded, db_path, session, [folder]).run(planned.append, on_record)
    assert stored == 3 and planned == [3] and seen == [1, 2, 3]


def test_a_cancelled_batch_keeps_what_it_stored(db_path, loaded, sample_path, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(40):
        (folder / f"eye{i:02d}.jpg").write_bytes(sample_path.read_bytes())
    with open_storage(db_path.parent) as store:
        session = store.current_session()
    run = BatchRun(loaded, db_path, session, [folder])
    reported: list[str] = []

    def on_record(record, done, total):
        reported.append(record.key)
        if len(reported) == 2:
            run.cancel()

    stored = run.run(lambda total: None, on_record)
    assert run.cancelled and stored == len(reported) == 2
    with Storage(db_path) as store:
        assert [r.key for r in store.load_session(session)] == reported


def test_a_cancel_before_the_batch_starts_stores_nothing(db_path, loaded, sample_path):
    with open_storage(db_path.parent) as store:
        session = store.current_session()
    run = BatchRun(loaded, db_path, session, [sample_path])
    run.cancel()
    assert run.run(lambda total: None, lambda *a: None) == 0


def test_the_window_and_a_worker_write_at_the_same_time(target, screened):
    """WAL and the busy timeout let a decision be saved while a batch keeps committing results."""
    with Storage(target) as store:
        session = store.current_session()
        image = store.save_result(session, screened[0])
        errors: list[BaseException] = []

        def worker():
            try:
                with Storage(target) as mine:
                    for i in range(50):
                        mine.save_result(session, replace(screened[2], key=f"bad{i}"))
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        for grade in range(5):
            store.save_decision(image.image_id, GraderDecision(grade, 0, kind=OVERRIDDEN, grader="A. Grader"))
        thread.join(60)
        assert not errors
        assert store.count_images(session) == 51
        assert len(store.audit_trail(image.image_id)) == 5


def test_export_has_the_model_and_the_grader_columns(target, screened, tmp_path):
    import csv
    import json

    with Storage(target) as store:
        session = store.current_session()
        records = [store.save_result(session, r) for r in screened]
        decision = GraderDecision(3, 2, kind=OVERRIDDEN, grader="A. Grader", comment="NVE")
        store.save_decision(records[0].image_id, decision)
        records = store.load_session(session)
    rows = list(csv.DictReader(open(write_session(records, tmp_path / "out.csv"), encoding="utf-8")))
    assert [r["status"] for r in rows] == ["screened", "ungradable", "error"]
    assert rows[0]["dr_grade"] == str(screened[0].dr_grade)
    assert (rows[0]["final_dr_grade"], rows[0]["grader"]) == ("3", "A. Grader")
    assert rows[0]["final_outcome"] == "urgent referral"
    assert rows[0]["model_caveat"] == ""  # reviewed: the grader's grades need no caveat
    assert rows[1]["final_outcome"].startswith("ungradable") and rows[2]["final_outcome"] == ""
    data = json.loads(write_session(records, tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["results"][1]["model_caveat"] is None and data["results"][0]["review"] == OVERRIDDEN
    with pytest.raises(ValueError, match=".csv or .json"):
        write_session(records, tmp_path / "out.xlsx")


def test_undo_and_set_back_to_not_reviewed_are_audited(target, screened):
    with Storage(target) as store:
        session = store.current_session()
        image = store.save_result(session, screened[0]).image_id
        store.save_decision(image, GraderDecision(1, 0, kind="overridden", grader="Dr A"))
        store.save_decision(image, GraderDecision(3, 2, kind="overridden", grader="Dr A"))
        assert store.undo_decision(image, "Dr A").dr_grade == 1  # the one before the last
        assert store.decision(image).dr_grade == 1
        assert store.set_not_reviewed(image, "Dr B").dr_grade == 1
        assert store.decision(image) is None
        assert store.record(image).decision is None
        trail = store.audit_trail(image)
        assert [(e.action, e.previous and e.previous.dr_grade, e.new and e.new.dr_grade, e.grader) for e in trail] == [
            ("decision", None, 1, "Dr A"), ("decision", 1, 3, "Dr A"), ("undo", 3, 1, "Dr A"),
            ("not reviewed", 1, None, "Dr B")]
        with pytest.raises(ValueError):
            store.set_not_reviewed(image, " ")


def test_sessions_are_listed_newest_first_and_searched_by_file_or_patient(target, screened):
    from dataclasses import replace as _replace

    with Storage(target) as store:
        first = store.current_session()
        store.save_result(first, _replace(screened[0], key="a", path=Path("/clinic/monday/anna_L.jpg")))
        image = store.save_result(first, _replace(screened[1], key="b", path=Path("/clinic/monday/bob_R.jpg")))
        store.save_decision(image.image_id, GraderDecision(0, 0, kind="overridden", grader="G"))
        second = store.new_session()
        store.save_result(second, _replace(screened[0], key="c", path=Path("/clinic/tuesday/carla_L.jpg")))
        listed = store.sessions()
        assert [(s.id, s.images, s.reviewed) for s in listed] == [(second, 1, 0), (first, 2, 1)]
        assert [s.id for s in store.sessions("MONDAY")] == [first]
        assert [s.id for s in store.sessions("carla")] == [second]
        assert store.sessions("nobody") == []


def test_graded_images_are_counted_in_one_query_across_sessions(target, screened):
    """What the fine-tune window counts: images a grader graded (not ungradable) that were read, in every session;
    the same number as counting the loaded records."""
    with Storage(target) as store:
        first = store.current_session()
        records = [store.save_result(first, r) for r in screened]
        second = store.new_session()
        records += [store.save_result(second, r) for r in screened]
        graded = [r for r in records if r.status is not Status.ERROR]
        store.save_decision(graded[0].image_id, GraderDecision(2, 1, grader="G"))
        store.save_decision(graded[-1].image_id, GraderDecision(0, 0, grader="G"))
        store.save_decision(graded[1].image_id, GraderDecision(None, None, grader="G"))  # ungradable: not a label
        errors = [r for r in records if r.status is Status.ERROR]
        if errors:
            store.save_decision(errors[0].image_id, GraderDecision(1, 0, grader="G"))  # an unread file: not counted
        loaded = [r for s in store.sessions() for r in store.load_session(s.id)]
        expected = sum(1 for r in loaded if r.decision is not None and not r.decision.ungradable
                       and r.status is not Status.ERROR)
        assert store.count_graded() == expected == 2


def _schema(target) -> dict:
    """Everything about a database's schema that queries and the audit trail's protection depend on."""
    engine = create_engine(f"sqlite:///{target}" if isinstance(target, Path) else target)
    with engine.connect() as db:
        found = inspect(db)
        schema = {}
        for name in sorted(found.get_table_names()):
            schema[name] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], c["default"]) for c in found.get_columns(name)],
                "primary": found.get_pk_constraint(name),
                "foreign": sorted((tuple(f["constrained_columns"]), f["referred_table"])
                                  for f in found.get_foreign_keys(name)),
                "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(name)),
                "indexes": sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(name)
                                  if not i["name"].startswith("sqlite_autoindex")),
            }
        if db.dialect.name == "sqlite":
            triggers = db.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
            schema["triggers"] = sorted((n, " ".join(sql.split())) for n, sql in triggers)
        else:
            schema["triggers"] = sorted(db.exec_driver_sql(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal").all())
        schema["versions"] = (db.exec_driver_sql("SELECT version_num FROM alembic_version").all(),
                              db.exec_driver_sql("SELECT version FROM schema_version").all())
    engine.dispose()
    return schema


def test_a_new_database_is_the_schema_the_migrations_build(target, tmp_path):
    """A first start creates the newest schema in one step (tables.create_new, no Alembic); upgrading an empty
    database through every migration must give exactly the same."""
    Storage(target).close()
    if isinstance(target, Path):
        other = tmp_path / "migrated.sqlite3"
        migrated = _migrated(other)
    else:
        with fresh_postgres() as other:
            migrated = _migrated(other)
    assert _schema(target) == migrated
    assert "audit_no_update" in str(migrated["triggers"])
    assert migrated["versions"] == ([(HEAD_REVISION,)], [(LEGACY_MARK,)])


def _migrated(target) -> dict:
    engine = create_engine(f"sqlite:///{target}" if isinstance(target, Path) else target)
    with engine.begin() as db:
        migrate.upgrade(db, str(target))
    engine.dispose()
    return _schema(target)
