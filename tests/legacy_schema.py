"""The session database's schema as apps before Alembic built it (schema 1 to 6, counted in `schema_version`), kept
verbatim so tests can make the files those apps left on clinics' disks and check that today's app migrates them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

AUDIT_NO_UPDATE = """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"""
# Each entry upgrades the schema by one version; statements run in one transaction with the version bump.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL
        )""",
        """CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            key TEXT NOT NULL,
            path TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            metadata TEXT,
            quality TEXT,
            dr_probs TEXT,
            dme_probs TEXT,
            model TEXT NOT NULL,
            timings TEXT NOT NULL,
            thumbnail BLOB,
            screened_at TEXT NOT NULL,
            UNIQUE (session_id, key)
        )""",
        """CREATE TABLE decisions (
            image_id INTEGER PRIMARY KEY REFERENCES images(id),
            dr_grade INTEGER,
            dme_grade INTEGER,
            eye TEXT,
            patient_id TEXT,
            patient_name TEXT,
            comment TEXT NOT NULL,
            kind TEXT NOT NULL,
            grader TEXT NOT NULL,
            decided_at TEXT NOT NULL
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            image_id INTEGER NOT NULL REFERENCES images(id),
            image_key TEXT NOT NULL,
            action TEXT NOT NULL,
            previous TEXT,
            new TEXT NOT NULL,
            grader TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
        "CREATE INDEX audit_by_image ON audit (image_id, id)",
        # The trail is evidence: the database itself refuses to rewrite or drop it.
        AUDIT_NO_UPDATE,
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    ),
    # 2: how the grades got into the form: chosen by the grader, or the model's accepted with the accept key.
    ("ALTER TABLE decisions ADD COLUMN entry TEXT NOT NULL DEFAULT 'graded'",),
    # 3: the clinic's review mode (open, or blind first) when the decision was made.
    ("ALTER TABLE decisions ADD COLUMN review_mode TEXT NOT NULL DEFAULT ''",),
    # 4: keys name a file's content as well as its path (loading.image_key); `location` is the path and frame
    # alone, so a file replaced at the same path shows as a new image beside the one screened before.
    (
        "ALTER TABLE images ADD COLUMN location TEXT",
        "UPDATE images SET location = key",  # keys before 4 were the location (a '#frameN' suffix for frames)
        # Which screening came last (a file screened again moves up): timestamps tie within a second.
        "ALTER TABLE images ADD COLUMN screen_order INTEGER",
        "UPDATE images SET screen_order = id",
        "CREATE INDEX images_by_location ON images (session_id, location)",
    ),
    # 5: the audit trail becomes a hash chain (audit_chain.py); the entries already there are chained as they stand.
    ("ALTER TABLE audit ADD COLUMN entry_hash TEXT",),
    # 6: on an ungradable photograph, the model's probability of referable disease all the same (results.suspicion).
    ("ALTER TABLE images ADD COLUMN suspicion REAL",),
)
# Work a migration needs beyond SQL, run after its statements in the same transaction (by schema version reached).
MIGRATION_STEPS = {5: "chain_audit"}


def make_legacy_database(path: Path, version: int) -> None:
    """An SQLite file at schema `version` exactly as the app of that time wrote it (no audit entries to chain)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statements in MIGRATIONS[:version]:
        for statement in statements:
            db.execute(statement)
    db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    db.execute("COMMIT")
    db.close()
