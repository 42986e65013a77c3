"""Nothing the user has seen is lost: a killed app, a damaged database, a database from an older version."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from corpus import fundus
from gui_helpers import TIMEOUT_MS, drop, wait_idle
from PIL import Image
from PySide6.QtWidgets import QMessageBox
from sandbox import HERE, PYTHON, ROOT

from ran_desktop.engine.records.review import OVERRIDDEN, GraderDecision
from ran_desktop.engine.records.storage import DATABASE_NAME, SCHEMA_VERSION, Storage, StorageError, open_storage

KILL_AFTER = 5  # decisions


def _read_lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line.split())
    into.put(None)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")
def test_killing_the_app_mid_batch_loses_no_result_and_no_decision(tmp_path, tiny_bundle):
    photos = tmp_path / "photos"
    photos.mkdir()
    picture = Image.fromarray(fundus(512))
    for i in range(60):
        picture.save(photos / f"eye{i:02d}_OD.jpg", quality=90)
    database = tmp_path / "data" / DATABASE_NAME
    proc = subprocess.Popen([PYTHON, str(HERE / "batch_until_killed.py"), str(database), str(tiny_bundle),
                             str(photos)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    said: list[list[str]] = []
    try:
        while sum(words[0] == "decided" for words in said) < KILL_AFTER:
            words = lines.get(timeout=120)
            assert words is not None, f"the batch ended early: {proc.stderr.read()}"
            said.append(words)
        proc.send_signal(signal.SIGKILL)  # no clean-up, no close, no checkpoint: as a power cut or kill -9
        proc.wait(timeout=60)
    finally:
        proc.kill()
    while (words := lines.get(timeout=60)) is not None:  # lines it printed before it died
        said.append(words)
    assert proc.returncode == -signal.SIGKILL
    stored = {int(w[1]): w[2] for w in said if w[0] == "stored"}
    decided = {int(w[1]): (int(w[2]), int(w[3])) for w in said if w[0] == "decided"}
    assert ["finished"] not in said and len(stored) < 60, "the kill came after the batch: nothing was tested"
    assert Path(f"{database}-wal").exists()  # the results were still in the write-ahead log, not checkpointed

    with Storage(database) as store:  # a new process opens the database, as the app does after a restart
        records = {r.image_id: r for r in store.load_session(store.latest_session())}
        trails = {image_id: store.audit_trail(image_id) for image_id in decided}
    assert {i: records[i].key for i in stored} == stored
    for image_id, grades in decided.items():
        decision = records[image_id].decision
        assert (decision.dr_grade, decision.dme_grade, decision.grader) == (*grades, "Dr Kill")
        assert [entry.new.dr_grade for entry in trails[image_id]] == [grades[0]]


def test_every_connection_uses_wal_and_full_sync(tmp_path):
    with Storage(tmp_path / DATABASE_NAME) as store:
        for _ in range(2):  # a pooled connection, and a new one beside it: the settings SQLite keeps per connection
            with store._engine.connect() as first, store._engine.connect() as second:
                for connection in (first, second):
                    assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                    assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
                    assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


# --- a damaged database is kept aside, never deleted -----------------------------------------------------------


def _damage_pages(database: Path) -> bytes:
    """Overwrite everything after the first page (the header stays valid, so SQLite opens the file)."""
    content = bytearray(database.read_bytes())
    page = int.from_bytes(content[16:18], "big")
    content[page:] = b"\xa5" * (len(content) - page)
    database.write_bytes(bytes(content))
    return bytes(content)


def _database_with_results(folder: Path, count: int = 30) -> Path:
    from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status

    info = ModelInfo("m", "1", "none", False, False, "warning", "CPU")
    with open_storage(folder) as store:
        session = store.current_session()
        for i in range(count):
            store.save_result(session, ScreeningResult(f"k{i}", Path(f"k{i}"), Status.ERROR, info, error="x" * 500))
    with sqlite3.connect(folder / DATABASE_NAME) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder / DATABASE_NAME


@pytest.mark.parametrize("damage", ["not a database", "damaged pages"])
def test_a_damaged_database_is_kept_aside_with_a_timestamp_and_a_new_one_started(damage, tmp_path):
    data = tmp_path / "data"
    if damage == "not a database":
        data.mkdir()
        original = b"this was overwritten by something else " * 200
        (data / DATABASE_NAME).write_bytes(original)
        (data / f"{DATABASE_NAME}-wal").write_bytes(b"its write-ahead log")
    else:
        original = _damage_pages(_database_with_results(data))
    with open_storage(data) as store:
        kept = store.set_aside
        assert kept is not None and kept.parent == data
        assert kept.name.startswith("ran-screening.damaged-") and kept.name.endswith(".sqlite3")
        assert kept.read_bytes() == original  # kept exactly as it was
        assert store.schema_version == SCHEMA_VERSION and store.load_session(store.current_session()) == []
    if damage == "not a database":
        assert Path(f"{kept}-wal").read_bytes() == b"its write-ahead log"  # its WAL went with it
    with open_storage(data) as again:
        assert again.set_aside is None  # the new database is healthy: nothing more is set aside


def test_a_database_from_a_newer_app_is_refused_not_set_aside(tmp_path):
    data = tmp_path / "data"
    Storage(data / DATABASE_NAME).close()
    with sqlite3.connect(data / DATABASE_NAME) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError, match="newer version"):
        open_storage(data)
    assert sorted(p.name for p in data.iterdir() if "damaged" in p.name) == []


def test_the_app_tells_the_user_where_the_damaged_database_was_kept(start_window, qtbot, data_dir, sample_path):
    data_dir.mkdir(parents=True)
    (data_dir / DATABASE_NAME).write_bytes(b"\x00garbage" * 512)
    window = start_window()
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)), timeout=TIMEOUT_MS)
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    kept = window.storage.set_aside
    assert box.windowTitle() == "The session database was damaged" and str(kept) in box.text()
    assert kept.read_bytes() == b"\x00garbage" * 512
    box.close()
    drop(window, [sample_path])  # and the new database takes results
    wait_idle(qtbot, window, 1)
    assert window.storage.count_images(window.session_id) == 1


# --- a database from an older version opens, migrated, with its data --------------------------------------------

# Schema 1 exactly as version 0.1.0 of the app wrote it. Frozen here on purpose: whatever migrations later versions
# add, a clinic's database of this shape must keep opening with its results and decisions.
_SCHEMA_1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE sessions (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL);
CREATE TABLE images (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id), key TEXT NOT NULL,
    path TEXT NOT NULL, status TEXT NOT NULL, error TEXT, metadata TEXT, quality TEXT, dr_probs TEXT, dme_probs TEXT,
    model TEXT NOT NULL, timings TEXT NOT NULL, thumbnail BLOB, screened_at TEXT NOT NULL, UNIQUE (session_id, key));
CREATE TABLE decisions (image_id INTEGER PRIMARY KEY REFERENCES images(id), dr_grade INTEGER, dme_grade INTEGER,
    eye TEXT, patient_id TEXT, patient_name TEXT, comment TEXT NOT NULL, kind TEXT NOT NULL, grader TEXT NOT NULL,
    decided_at TEXT NOT NULL);
CREATE TABLE audit (id INTEGER PRIMARY KEY, image_id INTEGER NOT NULL REFERENCES images(id), image_key TEXT NOT NULL,
    action TEXT NOT NULL, previous TEXT, new TEXT NOT NULL, grader TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX audit_by_image ON audit (image_id, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
INSERT INTO sessions VALUES (1, '2025-01-02T09:00:00+00:00');
INSERT INTO images VALUES (1, 1, '/clinic/eye_OD.jpg', '/clinic/eye_OD.jpg', 'screened', NULL,
    '{"source_format":"JPEG","original_size":[1411,1411],"bit_depth":8,"color_model":"RGB","eye":"OD",
      "eye_source":"filename","patient_id":null,"patient_name":null,"birth_date":null,"sex":null,"study_date":null,
      "frame_index":null,"frame_count":1,"extra":{}}',
    '{"gradable":true,"reasons":[],"scores":{"brightness":119.0}}', '[0.6,0.1,0.1,0.1,0.1]', '[0.8,0.1,0.1]',
    '{"name":"ran18","version":"1.0","training_data":"d","synthetic":false,"trained":true,"warning":"","device":"CPU"}',
    '{"load":12.0}', NULL, '2025-01-02T09:01:00+00:00');
INSERT INTO decisions VALUES (1, 2, 1, NULL, NULL, NULL, 'haemorrhages', 'overridden', 'Dr Old',
    '2025-01-02T09:05:00+00:00');
INSERT INTO audit VALUES (1, 1, '/clinic/eye_OD.jpg', 'decision', NULL,
    '{"dr_grade":2,"dme_grade":1,"eye":null,"patient_id":null,"patient_name":null,"comment":"haemorrhages",
      "kind":"overridden","grader":"Dr Old","decided_at":"2025-01-02T09:05:00+00:00"}',
    'Dr Old', '2025-01-02T09:05:00+00:00');
"""


def test_a_schema_1_database_opens_with_its_results_decisions_and_audit_trail(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / DATABASE_NAME) as raw:  # journal mode DELETE, as a copied-over file may be
        raw.executescript(_SCHEMA_1)
    raw.close()
    with open_storage(data) as store:
        assert store.set_aside is None and store.schema_version == SCHEMA_VERSION
        [record] = store.load_session(1)
        assert record.result.dr_grade == 0 and record.decision.dr_grade == 2
        assert record.decision.comment == "haemorrhages" and record.decision.grader == "Dr Old"
        [entry] = store.audit_trail(1)
        assert entry.new.grader == "Dr Old"
        store.save_decision(1, GraderDecision(3, 2, kind=OVERRIDDEN, grader="Dr New"))
        assert len(store.audit_trail(1)) == 2
