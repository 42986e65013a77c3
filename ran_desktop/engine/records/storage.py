"""The session database: screened images, the grader's decisions and their audit trail, in SQLite or PostgreSQL.

By default one SQLite file in the user's data folder (`RAN_DATA_DIR` overrides it); several workstations share one
PostgreSQL database instead (`database.resolve`: `RAN_DATABASE_URL` or the app's setting). Queries are SQLAlchemy
Core, the same for both; the schema is built and upgraded by Alembic when a database is opened (`migrate`). Every
result and every decision is committed on its own (SQLite: WAL, full sync), so a crash or a power cut loses nothing
the user has already seen.

What is stored: each image's result without pixels (metadata, quality, class probabilities, model identity,
timings), a small JPEG thumbnail (about 5 KB), the current decision per image, an append-only, hash-chained audit
trail of every decision with the value it replaced, and who is grading which image now (claims). Previews and
Grad-CAM heat maps are not stored: they are recomputed from the file when an image is opened.

Each thread opens its own Storage on the same target. Imports neither Qt nor torch.

Long because every statement the app runs on a session database is in this one class, so each transaction (and
the audit entry it writes beside a decision) reads whole in one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ran_desktop.engine import records
from ran_desktop.engine.errors import CorruptDatabaseError as CorruptDatabaseError
from ran_desktop.engine.errors import ScreeningError
from ran_desktop.engine.errors import StorageError as StorageError
from ran_desktop.engine.records import (
    audit_chain,
    claims,
    connect,
    database,
    db_rescue,
    qa_store,
    second_grading,
    tables,
)
from ran_desktop.engine.records.conflicts import StaleDecisionError as StaleDecisionError
from ran_desktop.engine.records.data_folder import APP_NAME as APP_NAME
from ran_desktop.engine.records.data_folder import DATA_DIR_ENV as DATA_DIR_ENV
from ran_desktop.engine.records.data_folder import default_data_dir, utc_now
from ran_desktop.engine.records.database import DATABASE_NAME as DATABASE_NAME
from ran_desktop.engine.records.database import Target
from ran_desktop.engine.records.record_list import ListEntry, RecordList, stand_in
from ran_desktop.engine.records.results import ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision, ImageRecord
from ran_desktop.engine.records.rows import (
    SELECT_ENTRIES,
    SELECT_LIST,
    SELECT_RECORDS,
    decision_from_row,
    decision_row,
    record_from_row,
    result_row,
    to_json,
)
from ran_desktop.engine.records.second_grading import QAPolicy
from ran_desktop.engine.records.tables import (
    HEAD_REVISION,
    audit,
    current_revision,
    decisions,
    images,
    sessions,
    thumbnails,
)

SCHEMA_VERSION = int(HEAD_REVISION)
# PostgreSQL advisory lock held by every write that reads before it writes: the audit chain has one end, screen order
# counts up, an image or a claim is inserted once; so such writers take turns, as SQLite's write transactions do.
_WRITE_LOCK = 0x52414E01
DAMAGED_ROW = ("The stored result of this image cannot be read (the session database's row is damaged; it is kept "
               "unchanged). Screen the file again to grade it. ")


# SQLite's primary result codes: a damaged file, a full disk, a read-only one.
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB, _SQLITE_READONLY = 11, 13, 26, 8


def _code(exc: BaseException) -> int | None:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _plain(exc: BaseException) -> str:
    """A database error in words a user can act on."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if _code(exc) == _SQLITE_FULL or "disk is full" in str(orig):
        return "the disk is full (free some space, then try again)"
    if _code(exc) == _SQLITE_READONLY or "readonly" in str(orig):
        return "the data folder is read-only"
    return str(orig).strip()


def _is_damage(exc: BaseException) -> bool:
    return _code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


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


class Storage:
    """The session database at `target` (a file path, or a PostgreSQL URL), created or migrated when opened.

    `check_integrity` reads every page of an SQLite file once (quick_check): the window does it at start, so damage
    is found before anything new is added to a damaged file. A damaged file raises CorruptDatabaseError.
    """

    set_aside: Path | None = None  # where open_storage kept a damaged database it replaced with this one

    def __init__(self, target: Target, *, check_integrity: bool = False):
        self.target: Target = target if database.is_url(target) else Path(target)
        self.where = database.describe(self.target)
        self.unreadable_rows: list[str] = []  # rows the last load_session left out (damaged cells)
        try:
            if isinstance(self.target, Path):
                self.target.parent.mkdir(parents=True, exist_ok=True)
            self._engine = connect.create(self.target)
            self.dialect = self._engine.dialect.name
            if check_integrity and self.dialect == "sqlite":
                self._check_integrity()
            self._migrate()
        except (OSError, SQLAlchemyError, ValueError, ScreeningError) as exc:
            if hasattr(self, "_engine"):
                self._engine.dispose()
            cause = exc.__cause__ if isinstance(exc, StorageError) and exc.__cause__ is not None else exc
            if isinstance(cause, ScreeningError):  # already in words: damage found, or a newer app's database
                raise (cause if isinstance(cause, StorageError) else StorageError(str(cause))) from exc
            if isinstance(cause, OSError):
                raise StorageError(f"The session database {self.where} cannot be opened ({cause}).") from exc
            kind = CorruptDatabaseError if _is_damage(cause) else StorageError
            raise kind(f"{self.where} is not a usable session database ({_plain(cause)}).") from exc

    @property
    def path(self) -> Path:
        """The SQLite file (for PostgreSQL, the URL as a path-like name for messages)."""
        return self.target if isinstance(self.target, Path) else Path(self.where)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as db:
                yield db
        except DBAPIError as exc:
            raise StorageError(f"The session database {self.where} cannot be read: {_plain(exc)}.") from exc

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One write transaction: SQLite's BEGIN IMMEDIATE (database.create); everything or nothing is saved."""
        try:
            connection = self._engine.connect().execution_options(write=True)
            transaction = connection.begin()
        except DBAPIError as exc:
            raise StorageError(f"The session database cannot be written ({_plain(exc)}).") from exc
        try:
            yield connection
            transaction.commit()
        except DBAPIError as exc:
            raise StorageError(f"Saving to the session database failed: {_plain(exc)}; nothing was changed.") from exc
        finally:
            transaction.close()  # rolls back whatever was not committed
            connection.close()

    def _check_integrity(self) -> None:
        with self._engine.connect() as db:
            problems = [row[0] for row in db.exec_driver_sql("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise CorruptDatabaseError(f"{self.where} is damaged ({'; '.join(problems)}).")

    def _lock(self, db: Connection) -> None:
        """PostgreSQL: take the one write lock (SQLite's write transactions already take turns)."""
        if self.dialect == "postgresql":
            db.execute(select(func.pg_advisory_xact_lock(_WRITE_LOCK)))

    # --- schema -------------------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        with self._read() as db:
            revision = current_revision(db)
        return int(revision) if revision else 0

    def _migrate(self) -> None:
        with self._read() as db:
            if current_revision(db) == HEAD_REVISION:
                return  # the common case, without loading Alembic
        with self._transaction() as db:
            if tables.is_empty(db):
                tables.create_new(db)  # a first start: the newest schema in one step, without Alembic
            else:
                records.migrate.upgrade(db, self.where)

    # --- sessions -----------------------------------------------------------------------------------------

    def latest_session(self) -> int | None:
        with self._read() as db:
            value = db.execute(select(func.max(sessions.c.id))).scalar()
        return None if value is None else int(value)

    def has_session(self, session_id: int) -> bool:
        with self._read() as db:
            return db.execute(select(sessions.c.id).where(sessions.c.id == session_id)).first() is not None

    def new_session(self) -> int:
        with self._transaction() as db:
            return int(db.execute(insert(sessions).values(started_at=utc_now()).returning(sessions.c.id)).scalar_one())

    def sessions(self, search: str = "") -> list[SessionSummary]:
        """Every session, newest first, with how many images it holds and how many a grader has reviewed;
        `search` keeps those with an image whose path or patient data contains it (case-insensitive)."""
        query = (
            select(sessions.c.id, sessions.c.started_at, func.count(images.c.id), func.count(decisions.c.image_id))
            .select_from(sessions.outerjoin(images, images.c.session_id == sessions.c.id).outerjoin(decisions))
            .group_by(sessions.c.id, sessions.c.started_at).order_by(sessions.c.id.desc())
        )
        if term := search.strip():
            matching = select(images.c.session_id).where(
                images.c.path.icontains(term, autoescape=True) | images.c.metadata.icontains(term, autoescape=True))
            query = query.where(sessions.c.id.in_(matching))
        with self._read() as db:
            return [SessionSummary(int(r[0]), r[1], int(r[2]), int(r[3])) for r in db.execute(query)]

    def current_session(self) -> int:
        """The session to continue: the latest one, or a new one in an empty database."""
        latest = self.latest_session()
        return latest if latest is not None else self.new_session()

    # --- results ------------------------------------------------------------------------------------------

    def save_result(self, session_id: int, result: ScreeningResult, thumbnail: bytes | None = None) -> ImageRecord:
        """Store (or, for an image screened again in this session, replace) one result; its decision is kept."""
        values = result_row(session_id, result, utc_now())
        kept = ("session_id", "key", "location")  # an image screened again keeps its place and decision
        with self._transaction() as db:
            self._lock(db)  # screen order counts up across workstations too
            values["screen_order"] = db.execute(select(func.coalesce(func.max(images.c.screen_order), 0) + 1)
                                                ).scalar_one()
            image_id = db.execute(select(images.c.id).where(images.c.session_id == session_id,
                                                            images.c.key == result.key)).scalar()
            if image_id is None:
                image_id = db.execute(insert(images).values(values).returning(images.c.id)).scalar_one()
            else:
                db.execute(update(images).where(images.c.id == image_id)
                           .values({k: v for k, v in values.items() if k not in kept}))
                db.execute(delete(thumbnails).where(thumbnails.c.image_id == image_id))
            if thumbnail is not None:
                db.execute(insert(thumbnails).values(image_id=image_id, jpeg=thumbnail))
        return self.record(image_id)

    def record(self, image_id: int) -> ImageRecord:
        with self._read() as db:
            row = db.execute(SELECT_RECORDS.where(images.c.id == image_id)).mappings().first()
            status = qa_store.status(db, image_id) if row is not None else None
        if row is None:
            raise StorageError(f"image {image_id} is not in the session database")
        try:
            record = record_from_row(row)
        except (ValueError, TypeError, KeyError) as exc:
            raise StorageError(f"image {image_id} ({row['path']}) cannot be read from the session database: "
                               f"its row is damaged ({exc})") from exc
        return replace(record, gradings=status.gradings) if status is not None else record

    def load_session(self, session_id: int, thumbnails: bool = True) -> list[ImageRecord]:
        """Every image of the session with its decision, in the order first screened. A row that cannot be read (a
        damaged cell) is left out, untouched, and described in `unreadable_rows`: one bad row must not keep the rest
        of the session, or the app, from opening. Without `thumbnails`, records carry none (a long worklist asks
        `thumbnails` for the rows on screen)."""
        query = (SELECT_RECORDS if thumbnails else SELECT_LIST).where(
            images.c.session_id == session_id).order_by(images.c.id)
        records_: list[ImageRecord] = []
        self.unreadable_rows = []
        with self._read() as db:
            for row in db.execute(query).mappings():
                try:
                    records_.append(record_from_row(row))
                except (ValueError, TypeError, KeyError) as exc:  # json, enum and dataclass errors of a damaged cell
                    self.unreadable_rows.append(f"image {row['id']} ({row['path']}): {type(exc).__name__}: {exc}")
            stages = qa_store.gradings_of_session(db, session_id)
        return [replace(r, gradings=stages[r.image_id]) if r.image_id in stages else r for r in records_]

    def list_session(self, session_id: int) -> RecordList:
        """The session's worklist as it opens: every image's list entry (in the order first screened), its full record
        read when its row is first shown (`records_by_id`). A damaged row is listed as an error row when read, and
        described in `unreadable_rows`."""
        query = SELECT_ENTRIES.where(images.c.session_id == session_id).order_by(images.c.id)
        self.unreadable_rows = []
        with self._read() as db:
            entries = list(map(ListEntry._make, db.execute(query).all()))
        return RecordList(entries, self.records_by_id)

    def records_by_id(self, image_ids: Sequence[int], thumbnails: bool = False) -> dict[int, ImageRecord]:
        """These images' records (with `thumbnails`, theirs too), by id. A row that cannot be read (a damaged cell)
        comes back as an error record saying so, untouched in the database, and is described in `unreadable_rows`."""
        found: dict[int, ImageRecord] = {}
        query = SELECT_RECORDS if thumbnails else SELECT_LIST
        with self._read() as db:
            for row in db.execute(query.where(images.c.id.in_(list(image_ids)))).mappings():
                image_id = int(row["id"])
                try:
                    found[image_id] = record_from_row(row)
                except (ValueError, TypeError, KeyError) as exc:  # json, enum and dataclass errors of a damaged cell
                    problem = f"image {image_id} ({row['path']}): {type(exc).__name__}: {exc}"
                    self.unreadable_rows.append(problem)
                    found[image_id] = stand_in(image_id, row["key"], row["path"], DAMAGED_ROW + problem)
            stages = qa_store.gradings_of_images(db, list(found))
        return {i: replace(r, gradings=stages[i]) if i in stages else r for i, r in found.items()}

    def last_visit(self, patient_id: str, session_id: int) -> list[ImageRecord]:
        """The patient's images (by the file's patient ID, or the one a grader typed) from the latest session before
        `session_id` that has any: the previous visit, to compare with today's. [] where there is none."""
        of_patient = (images.c.patient_id == patient_id) | (decisions.c.patient_id == patient_id)
        latest = (select(func.max(images.c.session_id)).select_from(images.outerjoin(decisions))
                  .where(of_patient, images.c.session_id < session_id).scalar_subquery())
        query = (SELECT_RECORDS.where(of_patient, images.c.session_id == latest).order_by(images.c.id))
        with self._read() as db:
            return [record_from_row(row) for row in db.execute(query).mappings()]

    def thumbnails(self, image_ids: list[int]) -> dict[int, bytes]:
        """The stored thumbnails of these images (those that have one)."""
        query = select(thumbnails.c.image_id, thumbnails.c.jpeg).where(thumbnails.c.image_id.in_(image_ids))
        with self._read() as db:
            return {int(r[0]): bytes(r[1]) for r in db.execute(query)}

    def earlier_contents(self, record: ImageRecord) -> list[ImageRecord]:
        """Other images of the record's session screened from the same file and frame, when the file held another
        photograph (another key): what a grader must be told about when a file has been replaced."""
        with self._read() as db:
            row = db.execute(select(images.c.session_id, images.c.location)
                             .where(images.c.id == record.image_id)).first()
            if row is None:
                return []
            query = SELECT_RECORDS.where(images.c.session_id == row[0], images.c.location == row[1],
                                         images.c.id != record.image_id).order_by(images.c.id)
            return [record_from_row(r) for r in db.execute(query).mappings()]

    def count_images(self, session_id: int) -> int:
        with self._read() as db:
            return int(db.execute(select(func.count()).select_from(images)
                                  .where(images.c.session_id == session_id)).scalar_one())

    def count_graded(self) -> int:
        """Images, in every session, that a grader graded (not ungradable) and that were read: one query, for a
        window that must not wait on loading every record."""
        query = (select(func.count()).select_from(images.join(decisions))
                 .where(decisions.c.dr_grade.is_not(None), images.c.status != Status.ERROR.value))
        with self._read() as db:
            return int(db.execute(query).scalar_one())

    def latest_change(self) -> int:
        """The newest audit entry's id (0: none yet): where `changed_since` starts for a window that has just loaded."""
        with self._read() as db:
            return int(db.execute(select(func.coalesce(func.max(audit.c.id), 0))).scalar_one())

    def changed_since(self, session_id: int, after: int) -> tuple[int, list[ImageRecord]]:
        """The session's images whose decision changed after audit entry `after` (on any workstation), and the
        newest entry's id to ask from next time: how another grader's decisions reach this window."""
        with self._read() as db:
            latest = db.execute(select(func.coalesce(func.max(audit.c.id), 0))).scalar_one()
            changed = select(audit.c.image_id).where(audit.c.id > after, audit.c.id <= latest)
            query = SELECT_RECORDS.where(images.c.session_id == session_id, images.c.id.in_(changed))
            rows = list(db.execute(query.order_by(images.c.id)).mappings())
        return int(latest), [record_from_row(r) for r in rows]

    # --- decisions ----------------------------------------------------------------------------------------

    # Every change of a decision takes `expected_version`: the record's `decision_version` when the grader saw it.
    # Given, a change made since (by another window or workstation) refuses this one (StaleDecisionError) instead of
    # overwriting it unseen; None skips the check (tools that own the database alone). `claim`, given, is the
    # token of this window's claim on the image: another window's live claim refuses the change (claims.py).

    def save_decision(self, image_id: int, decision: GraderDecision, expected_version: int | None = None,
                      claim: str | None = None, qa: QAPolicy | None = None) -> GraderDecision:
        """Make `decision` the image's current one and append it, with the one it replaces, to the audit trail.
        `qa`: the clinic's second-grading policy, which may send it to a second grader."""
        if not decision.grader.strip():
            raise ValueError("a decision needs the grader's name")
        decision = decision if decision.decided_at else replace(decision, decided_at=utc_now())
        self._replace_decision(image_id, decision, decision.grader, "decision", decision.decided_at,
                               expected_version, claim, qa)
        return decision

    def set_not_reviewed(self, image_id: int, grader: str, expected_version: int | None = None,
                         claim: str | None = None) -> GraderDecision | None:
        """Remove the image's current decision (it is not reviewed any more); the trail keeps what it was.
        Returns the decision removed, or None when there was none."""
        return self._replace_decision(image_id, None, grader, "not reviewed", None, expected_version, claim)

    def undo_decision(self, image_id: int, grader: str, expected_version: int | None = None,
                      claim: str | None = None, qa: QAPolicy | None = None) -> GraderDecision | None:
        """Put back the decision the image had before its last one (or none), as a new entry of the trail.
        Returns the decision now current."""
        query = (select(audit.c.previous).where(audit.c.image_id == image_id, audit.c.action == "decision")
                 .order_by(audit.c.id.desc()).limit(1))
        with self._read() as db:
            row = db.execute(query).first()
        if row is None:
            raise StorageError("there is no decision on this image to undo")
        before = GraderDecision.from_dict(json.loads(row[0])) if row[0] else None
        self._replace_decision(image_id, before, grader, "undo", None, expected_version, claim, qa)
        return before

    def _replace_decision(self, image_id: int, decision: GraderDecision | None, grader: str, action: str,
                          at: str | None, expected_version: int | None, claim: str | None,
                          qa: QAPolicy | None = None) -> GraderDecision | None:
        """Make `decision` (None: none) the image's current one, and append the change to the audit trail. With a
        quality-assurance policy, the first grader's decision is sent for second grading where it says."""
        if not grader.strip():
            raise ValueError("changing a decision needs the grader's name")
        with self._transaction() as db:
            self._lock(db)  # no other writer slips in between the version read and the write
            key = self._key(db, image_id)
            if claim is not None:
                claims.check_not_taken(db, image_id, claim)
            version = db.execute(select(func.count()).select_from(audit)
                                 .where(audit.c.image_id == image_id)).scalar_one()
            if expected_version is not None and version != expected_version:
                raise StaleDecisionError(self.record(image_id), decision)
            qa_store.check_first_may_change(db, image_id)
            previous = self._write_decision(db, image_id, key, decision, grader, action, at)
            qa_store.after_first(db, image_id, key, decision, qa, utc_now())
        return previous

    @staticmethod
    def _key(db: Connection, image_id: int) -> str:
        key = db.execute(select(images.c.key).where(images.c.id == image_id)).scalar()
        if key is None:
            raise StorageError(f"image {image_id} is not in the session database")
        return str(key)

    def _write_decision(self, db: Connection, image_id: int, key: str, decision: GraderDecision | None, grader: str,
                        action: str, at: str | None) -> GraderDecision | None:
        old = db.execute(select(decisions).where(decisions.c.image_id == image_id)).mappings().first()
        previous = decision_from_row(old) if old is not None else None
        if decision is None:
            db.execute(delete(decisions).where(decisions.c.image_id == image_id))
        else:
            row = decision_row(decision)
            if previous is None:
                db.execute(insert(decisions).values(image_id=image_id, **row))
            else:
                db.execute(update(decisions).where(decisions.c.image_id == image_id).values(**row))
        self._audit(db, image_id, key, action, previous, decision, grader, at)
        return previous

    @staticmethod
    def _audit(db: Connection, image_id: int, key: str, action: str, previous: GraderDecision | None,
               new: GraderDecision | None, grader: str, at: str | None) -> None:
        values = (image_id, key, action, to_json(previous.to_dict()) if previous else None,
                  to_json(new.to_dict() if new else None), grader, at or utc_now())
        entry = dict(zip(audit_chain.FIELDS, values, strict=True))
        db.execute(insert(audit).values(**entry, entry_hash=audit_chain.entry_hash(audit_chain.last_hash(db), values)))

    # --- second grading and arbitration (second_grading.py) ------------------------------------------------------

    def grade_again(self, image_id: int, stage: str, decision: GraderDecision) -> str:
        """A second grading or an arbitration (`stage`), when due and from a grader who may give it. A grading
        that settles the image (agreement, or arbitration) becomes its decision; a disagreement goes to arbitration.
        Both are audited. Returns the image's new state."""
        if not decision.grader.strip():
            raise ValueError("a grading needs the grader's name")
        decision = decision if decision.decided_at else replace(decision, decided_at=utc_now())
        with self._transaction() as db:
            self._lock(db)
            key = self._key(db, image_id)
            state = qa_store.grade(db, image_id, stage, decision, utc_now())
            if state == second_grading.FINAL:
                self._write_decision(db, image_id, key, decision, decision.grader, audit_chain.QA_ACTIONS[stage],
                                     decision.decided_at)
            else:  # the decision stands until the arbitrator's; the trail keeps the second grading all the same
                current = db.execute(select(decisions).where(decisions.c.image_id == image_id)).mappings().first()
                self._audit(db, image_id, key, audit_chain.SENT_TO_ARBITRATION,
                            decision_from_row(current) if current is not None else None, decision, decision.grader,
                            decision.decided_at)
        return state

    def qa_queue(self, state: str, grader: str, session_id: int | None = None) -> list[int]:
        with self._read() as db:
            return qa_store.queue(db, state, grader, session_id)

    def qa_status(self, image_id: int) -> qa_store.QAStatus | None:
        with self._read() as db:
            return qa_store.status(db, image_id)

    def qa_statuses(self) -> list[qa_store.QAStatus]:
        with self._read() as db:
            return qa_store.all_statuses(db)

    def verify_audit(self) -> list[str]:
        """What is wrong with the audit trail (audit_chain.verify), in words; [] when it holds."""
        with self._read() as db:
            return audit_chain.verify(db)

    def decision(self, image_id: int) -> GraderDecision | None:
        with self._read() as db:
            row = db.execute(select(decisions).where(decisions.c.image_id == image_id)).mappings().first()
        return decision_from_row(row) if row is not None else None

    def audit_trail(self, image_id: int) -> list[AuditEntry]:
        with self._read() as db:
            rows = list(db.execute(select(audit).where(audit.c.image_id == image_id).order_by(audit.c.id)).mappings())
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

    # --- claims: who is grading which image now (claims.py) ---------------------------------------------------

    def claim(self, image_id: int, token: str, holder: str, seconds: float = claims.CLAIM_SECONDS) -> claims.Claim:
        """Claim the image for `seconds` (or renew this token's claim); the claim returned says who holds it."""
        with self._transaction() as db:
            self._lock(db)
            return claims.take(db, image_id, token, holder, seconds)

    def release(self, image_id: int, token: str) -> None:
        with self._transaction() as db:
            claims.release(db, image_id, token)

    def claimed_by_others(self, session_id: int, token: str) -> dict[int, str]:
        """Images of the session another window holds a live claim on: image id -> who."""
        with self._read() as db:
            return claims.held_by_others(db, session_id, token)


def open_storage(data_dir: str | Path | None = None, target: Target | None = None) -> Storage:
    """The session database `target` (default: `database.resolve` for `data_dir`, the user's data folder unless
    given), an SQLite file checked for damage.

    A damaged file is never deleted or written to: it is renamed with a timestamp, with its WAL and other companion
    files (see db_rescue), and a new, empty database is started; the returned Storage's `set_aside` says where the
    old one is, so the app can tell the user. A PostgreSQL server looks after its own files.
    """
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    chosen = target if target is not None else database.resolve(folder)
    if database.is_url(chosen):
        return Storage(chosen)
    path = Path(chosen)
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
