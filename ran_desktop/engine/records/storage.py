"""The local session database: screened images, the grader's decisions and their audit trail, in SQLite.

One file in the user's data folder (`RAN_DATA_DIR` overrides it). Every result and every decision is committed
on its own, in WAL mode with full sync, so a crash or a power cut loses nothing the user has already seen. The
`schema_version` table records which migrations ran; a newer app adds migrations, never edits old ones.

What is stored: each image's result without pixels (metadata, quality, class probabilities, model identity,
timings), a small JPEG thumbnail (about 5 KB), the current decision per image and an append-only audit trail of
every decision with the value it replaced. Previews and Grad-CAM heat maps are not stored: they are recomputed
from the file when an image is opened, which keeps the database small and the maps tied to the loaded model.

A connection belongs to the thread that opened it: the screening worker and the window each open their own.
Imports neither Qt nor torch. The schema's migrations are `schema`'s, the mapping of rows to records `rows`'s.

Long because every statement the app runs on a session database is in this one class, so each transaction (and
the audit entry it writes beside a decision) reads whole in one place.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from ran_desktop.engine.errors import ScreeningError
from ran_desktop.engine.imaging.loading import image_location
from ran_desktop.engine.records import audit_chain, db_rescue
from ran_desktop.engine.records.results import ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision, ImageRecord
from ran_desktop.engine.records.rows import (
    SELECT_RECORDS,
    decision_from_row,
    metadata_to_dict,
    record_from_row,
    to_json,
)
from ran_desktop.engine.records.schema import AUDIT_NO_UPDATE, MIGRATION_STEPS, MIGRATIONS, SCHEMA_VERSION

APP_NAME = "RAN Screening"
DATA_DIR_ENV = "RAN_DATA_DIR"
DATABASE_NAME = "ran-screening.sqlite3"

class StorageError(ScreeningError):
    """The session database cannot be used; the message says why in plain words."""


class StaleDecisionError(StorageError):
    """The decision changed (another window or workstation) since this one was shown; nothing was saved.
    `current` is the image as stored now, to show the grader beside what they tried to save."""

    def __init__(self, current: ImageRecord, attempted: GraderDecision | None):
        self.current = current
        self.attempted = attempted
        theirs = _describe_decision(current.decision)
        mine = _describe_decision(attempted)
        super().__init__(
            f"{current.result.path.name} was changed by someone else since you opened it. Saved now: {theirs}. "
            f"Yours, not saved: {mine}. Look at the image again and decide; saving then replaces theirs, audited."
        )


def _plain(exc: sqlite3.Error) -> str:
    """An SQLite error in words a user can act on."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
        return "the disk is full (free some space, then try again)"
    if code == sqlite3.SQLITE_READONLY or "readonly" in str(exc):
        return "the data folder is read-only"
    return str(exc)


def _describe_decision(decision: GraderDecision | None) -> str:
    if decision is None:
        return "not reviewed"
    grades = ("ungradable" if decision.dr_grade is None
              else f"DR {decision.dr_grade}, DME {decision.dme_grade}")
    who = f" by {decision.grader}" if decision.grader else ""
    when = f" at {decision.decided_at}" if decision.decided_at else ""
    return f"{grades} ({decision.kind}{who}{when})"


class CorruptDatabaseError(StorageError):
    """The file is damaged or is no SQLite database at all (as opposed to locked, or written by a newer app)."""


# SQLite's primary result codes for a damaged file; "busy", "locked" or "read-only" are not damage.
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


@dataclass(frozen=True)
class SessionSummary:
    id: int
    started_at: str
    images: int
    reviewed: int


@dataclass(frozen=True)
class AuditEntry:
    image_id: int
    image_key: str
    action: str  # "decision", "undo" (the one before it restored) or "not reviewed" (set back)
    previous: GraderDecision | None
    new: GraderDecision | None  # None: the image is not reviewed any more
    grader: str
    at: str


def default_data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Storage:
    """The session database at `path` (created, or migrated to SCHEMA_VERSION, when opened).

    `check_integrity` reads every page once (SQLite's quick_check): the window does it at start, so damage is
    found before anything new is added to a damaged file. A damaged file raises CorruptDatabaseError.
    """

    set_aside: Path | None = None  # where open_storage kept a damaged database it replaced with this one

    def __init__(self, path: str | Path, *, check_integrity: bool = False):
        self.path = Path(path)
        self.unreadable_rows: list[str] = []  # rows the last load_session left out (damaged cells)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit transactions; every write below opens its own.
            self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"The session database {self.path} cannot be opened ({exc}).") from exc
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # each commit is on the disk before it returns
            self._db.execute("PRAGMA foreign_keys=ON")
            if check_integrity:
                self._check_integrity()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            kind = CorruptDatabaseError if _is_damage(exc) else StorageError
            raise kind(f"{self.path} is not a usable session database ({exc}).") from exc
        except StorageError:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"The session database cannot be written ({exc}).") from exc
        try:
            yield self._db
        except sqlite3.Error as exc:
            self._rollback()
            raise StorageError(f"Saving to the session database failed: {_plain(exc)}; nothing was changed.") from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StorageError(f"Saving to the session database failed: {_plain(exc)}; nothing was changed.") from exc

    def _rollback(self) -> None:
        # SQLite rolls a transaction back itself on some errors (a full disk, an I/O error): rolling back again
        # would raise "cannot rollback - no transaction is active" over the error that matters.
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the transaction is gone either way; the original error is what the user must see

    def _check_integrity(self) -> None:
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise CorruptDatabaseError(f"{self.path} is damaged ({'; '.join(problems)}).")

    # --- schema -------------------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = self.schema_version
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} was written by a newer version of RAN Screening (database schema {version}; "
                    f"this version understands up to {SCHEMA_VERSION}). Update the app, or choose another data folder."
                )
            for reached, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    db.execute(statement)
                if MIGRATION_STEPS.get(reached) == "chain_audit":
                    # The append-only triggers stay in force for everyone else: lifted for the upgrade alone.
                    db.execute("DROP TRIGGER audit_no_update")
                    audit_chain.chain_all(db)
                    db.execute(AUDIT_NO_UPDATE)
            if version == 0:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif version < SCHEMA_VERSION:
                db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    # --- sessions -----------------------------------------------------------------------------------------

    def latest_session(self) -> int | None:
        row = self._db.execute("SELECT max(id) FROM sessions").fetchone()
        return None if row[0] is None else int(row[0])

    def has_session(self, session_id: int) -> bool:
        return self._db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None

    def new_session(self) -> int:
        with self._transaction() as db:
            row = db.execute("INSERT INTO sessions (started_at) VALUES (?) RETURNING id", (utc_now(),)).fetchone()
        return int(row[0])

    def sessions(self, search: str = "") -> list[SessionSummary]:
        """Every session, newest first, with how many images it holds and how many a grader has reviewed;
        `search` keeps those with an image whose path or patient data contains it (case-insensitive)."""
        where = ""
        args: tuple[str, ...] = ()
        if search.strip():
            like = f"%{search.strip()}%"
            where = "WHERE s.id IN (SELECT session_id FROM images WHERE path LIKE ? OR metadata LIKE ?)"
            args = (like, like)
        rows = self._db.execute(
            "SELECT s.id, s.started_at, count(i.id) AS images, count(d.image_id) AS reviewed "
            f"FROM sessions s LEFT JOIN images i ON i.session_id = s.id "
            f"LEFT JOIN decisions d ON d.image_id = i.id {where} GROUP BY s.id ORDER BY s.id DESC", args)
        return [SessionSummary(int(r["id"]), r["started_at"], int(r["images"]), int(r["reviewed"])) for r in rows]

    def current_session(self) -> int:
        """The session to continue: the latest one, or a new one in an empty database."""
        latest = self.latest_session()
        return latest if latest is not None else self.new_session()

    # --- results ------------------------------------------------------------------------------------------

    def save_result(self, session_id: int, result: ScreeningResult, thumbnail: bytes | None = None) -> ImageRecord:
        """Store (or, for an image screened again in this session, replace) one result; its decision is kept."""
        meta = result.metadata
        values = {
            "session_id": session_id,
            "key": result.key,
            "location": image_location(result.path, meta.frame_index if meta is not None else None),
            "path": str(result.path),
            "status": result.status.value,
            "error": result.error,
            "metadata": to_json(metadata_to_dict(result.metadata)) if result.metadata else None,
            "quality": to_json(result.quality.to_dict()) if result.quality else None,
            "dr_probs": to_json(list(result.dr_probs)) if result.dr_probs is not None else None,
            "dme_probs": to_json(list(result.dme_probs)) if result.dme_probs is not None else None,
            "suspicion": result.suspicion,
            "model": to_json(asdict(result.model)),
            "timings": to_json(result.timings_ms),
            "thumbnail": thumbnail,
            "screened_at": utc_now(),
        }
        columns = ", ".join(values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*values, "screen_order")
                            if c not in ("session_id", "key", "location"))
        with self._transaction() as db:
            image_id = db.execute(
                f"INSERT INTO images ({columns}, screen_order) VALUES ({', '.join('?' * len(values))}, "
                "(SELECT coalesce(max(screen_order), 0) + 1 FROM images)) "
                f"ON CONFLICT (session_id, key) DO UPDATE SET {updates} RETURNING id",
                tuple(values.values()),
            ).fetchone()[0]
        return self.record(int(image_id))

    def record(self, image_id: int) -> ImageRecord:
        row = self._db.execute(f"{SELECT_RECORDS} WHERE images.id = ?", (image_id,)).fetchone()
        if row is None:
            raise StorageError(f"image {image_id} is not in the session database")
        try:
            return record_from_row(row)
        except (ValueError, TypeError, KeyError) as exc:
            raise StorageError(f"image {image_id} ({row['path']}) cannot be read from the session database: "
                               f"its row is damaged ({exc})") from exc

    def load_session(self, session_id: int) -> list[ImageRecord]:
        """Every image of the session with its decision, in the order first screened. A row that cannot be read (a
        damaged cell) is left out, untouched, and described in `unreadable_rows`: one bad row must not keep the rest
        of the session, or the app, from opening."""
        rows = self._db.execute(f"{SELECT_RECORDS} WHERE images.session_id = ? ORDER BY images.id", (session_id,))
        records: list[ImageRecord] = []
        self.unreadable_rows = []
        for row in rows:
            try:
                records.append(record_from_row(row))
            except (ValueError, TypeError, KeyError) as exc:  # json, enum and dataclass errors of a damaged cell
                self.unreadable_rows.append(f"image {row['id']} ({row['path']}): {type(exc).__name__}: {exc}")
        return records

    def earlier_contents(self, record: ImageRecord) -> list[ImageRecord]:
        """Other images of the record's session screened from the same file and frame, when the file held another
        photograph (another key): what a grader must be told about when a file has been replaced."""
        row = self._db.execute("SELECT session_id, location FROM images WHERE id = ?", (record.image_id,)).fetchone()
        if row is None:
            return []
        rows = self._db.execute(f"{SELECT_RECORDS} WHERE images.session_id = ? AND images.location = ? "
                                "AND images.id != ? ORDER BY images.id", (row[0], row[1], record.image_id))
        return [record_from_row(r) for r in rows]

    def count_images(self, session_id: int) -> int:
        return int(self._db.execute("SELECT count(*) FROM images WHERE session_id = ?", (session_id,)).fetchone()[0])

    def count_graded(self) -> int:
        """Images, in every session, that a grader graded (not ungradable) and that were read: one query, for a
        window that must not wait on loading every record."""
        query = ("SELECT count(*) FROM images JOIN decisions ON decisions.image_id = images.id "
                 "WHERE decisions.dr_grade IS NOT NULL AND images.status != ?")
        return int(self._db.execute(query, (Status.ERROR.value,)).fetchone()[0])

    # --- decisions ----------------------------------------------------------------------------------------

    # Every change of a decision takes `expected_version`: the record's `decision_version` when the grader saw it.
    # Given, a change made since (by another window or workstation) refuses this one (StaleDecisionError) instead of
    # overwriting it unseen; None skips the check (tools that own the database alone).

    def save_decision(self, image_id: int, decision: GraderDecision,
                      expected_version: int | None = None) -> GraderDecision:
        """Make `decision` the image's current one and append it, with the one it replaces, to the audit trail."""
        if not decision.grader.strip():
            raise ValueError("a decision needs the grader's name")
        decision = decision if decision.decided_at else replace(decision, decided_at=utc_now())
        self._replace_decision(image_id, decision, decision.grader, "decision", decision.decided_at, expected_version)
        return decision

    def set_not_reviewed(self, image_id: int, grader: str,
                         expected_version: int | None = None) -> GraderDecision | None:
        """Remove the image's current decision (it is not reviewed any more); the trail keeps what it was.
        Returns the decision removed, or None when there was none."""
        return self._replace_decision(image_id, None, grader, "not reviewed", expected_version=expected_version)

    def undo_decision(self, image_id: int, grader: str, expected_version: int | None = None) -> GraderDecision | None:
        """Put back the decision the image had before its last one (or none), as a new entry of the trail.
        Returns the decision now current."""
        row = self._db.execute("SELECT previous FROM audit WHERE image_id = ? AND action = 'decision' "
                               "ORDER BY id DESC LIMIT 1", (image_id,)).fetchone()
        if row is None:
            raise StorageError("there is no decision on this image to undo")
        before = GraderDecision.from_dict(json.loads(row["previous"])) if row["previous"] else None
        self._replace_decision(image_id, before, grader, "undo", expected_version=expected_version)
        return before

    def _replace_decision(self, image_id: int, decision: GraderDecision | None, grader: str, action: str,
                          at: str | None = None, expected_version: int | None = None) -> GraderDecision | None:
        """Make `decision` (None: none) the image's current one, and append the change to the audit trail."""
        if not grader.strip():
            raise ValueError("changing a decision needs the grader's name")
        with self._transaction() as db:
            image = db.execute("SELECT key FROM images WHERE id = ?", (image_id,)).fetchone()
            if image is None:
                raise StorageError(f"image {image_id} is not in the session database")
            # Read and written in one write transaction (BEGIN IMMEDIATE): no other writer can slip in between.
            version = db.execute("SELECT count(*) FROM audit WHERE image_id = ?", (image_id,)).fetchone()[0]
            if expected_version is not None and version != expected_version:
                raise StaleDecisionError(self.record(image_id), decision)
            old = db.execute("SELECT * FROM decisions WHERE image_id = ?", (image_id,)).fetchone()
            previous = decision_from_row(old) if old is not None else None
            if decision is None:
                db.execute("DELETE FROM decisions WHERE image_id = ?", (image_id,))
            else:
                d = decision.to_dict()
                db.execute(
                    "INSERT OR REPLACE INTO decisions (image_id, dr_grade, dme_grade, eye, patient_id, patient_name, "
                    "comment, kind, grader, decided_at, entry, review_mode) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (image_id, d["dr_grade"], d["dme_grade"], d["eye"], d["patient_id"], d["patient_name"],
                     d["comment"], d["kind"], d["grader"], d["decided_at"], d["entry"], d["review_mode"]),
                )
            values = (image_id, image["key"], action, to_json(previous.to_dict()) if previous else None,
                      to_json(decision.to_dict() if decision else None), grader, at or utc_now())
            db.execute(
                "INSERT INTO audit (image_id, image_key, action, previous, new, grader, at, entry_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, audit_chain.entry_hash(audit_chain.last_hash(db), values)),
            )
        return previous

    def verify_audit(self) -> list[str]:
        """What is wrong with the audit trail (audit_chain.verify), in words; [] when it holds."""
        return audit_chain.verify(self._db)

    def decision(self, image_id: int) -> GraderDecision | None:
        row = self._db.execute("SELECT * FROM decisions WHERE image_id = ?", (image_id,)).fetchone()
        return decision_from_row(row) if row is not None else None

    def audit_trail(self, image_id: int) -> list[AuditEntry]:
        rows = self._db.execute("SELECT * FROM audit WHERE image_id = ? ORDER BY id", (image_id,))
        return [
            AuditEntry(
                image_id=int(row["image_id"]),
                image_key=row["image_key"],
                action=row["action"],
                previous=GraderDecision.from_dict(json.loads(row["previous"])) if row["previous"] else None,
                new=GraderDecision.from_dict(new) if (new := json.loads(row["new"])) else None,
                grader=row["grader"],
                at=row["at"],
            )
            for row in rows
        ]


def open_storage(data_dir: str | Path | None = None) -> Storage:
    """The session database in `data_dir` (default: the user's data folder), checked for damage.

    A damaged database is never deleted or written to: it is renamed with a timestamp, with its WAL and other
    companion files (see db_rescue), and a new, empty database is started; the returned Storage's `set_aside` says
    where the old one is, so the app can tell the user.
    """
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    path = folder / DATABASE_NAME
    copies = db_rescue.snapshot_logs(path)
    try:
        return Storage(path, check_integrity=True)
    except CorruptDatabaseError:
        try:
            kept = db_rescue.set_aside(path, copies)
        except OSError as exc:
            raise StorageError(
                f"{path} is damaged and could not be set aside ({exc.strerror or exc}). Move it away by hand, "
                "or choose another data folder (RAN_DATA_DIR)."
            ) from exc
    finally:
        db_rescue.drop_snapshots(copies)
    storage = Storage(path, check_integrity=True)
    storage.set_aside = kept
    return storage


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
