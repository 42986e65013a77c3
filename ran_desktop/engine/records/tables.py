"""The session database's tables as they stand at the newest migration: for building queries (SQLAlchemy Core), and
for creating a new database in one step (`create_new`) without loading Alembic, as a first start must be quick.

The migrations in `migrations/versions/` upgrade existing databases to the same schema; a test builds a database both
ways and compares them (tables, columns, defaults, keys, indexes, triggers). Timestamps are ISO 8601 text in UTC (as
they always were in SQLite files), the same on PostgreSQL so the two hold identical values.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    insert,
    inspect,
    select,
)

metadata = MetaData()

sessions = Table(
    "sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", Text, nullable=False),
)

images = Table(
    "images", metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False),
    Column("key", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("error", Text),
    Column("metadata", Text),
    Column("quality", Text),
    Column("dr_probs", Text),
    Column("dme_probs", Text),
    Column("model", Text, nullable=False),
    Column("timings", Text, nullable=False),
    Column("screened_at", Text, nullable=False),
    Column("location", Text),
    Column("screen_order", Integer),
    Column("suspicion", Float),
    Column("patient_id", Text),  # from the file's metadata: a patient's earlier visits are found by it
    # The worklist's columns, copied out of the JSON cells when stored, so a long list is read without parsing them
    # (record_list.py): the file's name (and frame), eye and patient name, and the model's grades and suspicion as
    # its operating point decided them.
    Column("file_label", Text),
    Column("eye", Text),
    Column("patient_name", Text),
    Column("model_dr", Integer),
    Column("model_dme", Integer),
    Column("model_suspects", Integer),  # 1: the model suspects referable disease (what "suspected" follows)
    Column("study_date", Text),  # when taken, from the file: the patient form's queue orders by it without the JSON
    UniqueConstraint("session_id", "key"),
)

# Each image's small JPEG (about 5 KB), in a table of its own so that an `images` row stays a few hundred bytes: a
# long worklist reads every row's list columns, and SQLite would otherwise step over each blob to reach them.
thumbnails = Table(
    "thumbnails", metadata,
    Column("image_id", Integer, ForeignKey("images.id"), primary_key=True),
    Column("jpeg", LargeBinary, nullable=False),
)

decisions = Table(
    "decisions", metadata,
    Column("image_id", Integer, ForeignKey("images.id"), primary_key=True),
    Column("dr_grade", Integer),
    Column("dme_grade", Integer),
    Column("eye", Text),
    Column("patient_id", Text),
    Column("patient_name", Text),
    Column("comment", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("grader", Text, nullable=False),
    Column("decided_at", Text, nullable=False),
    Column("entry", Text, nullable=False, server_default="graded"),
    Column("review_mode", Text, nullable=False, server_default=""),
    Column("marks", Text),  # the grader's lesion marks, JSON (lesion_marks.py); NULL: none
    Column("fovea", Text),  # where the grader put the macular grid's centre, JSON [x, y]; NULL: where it was found
    Column("change", Text),  # since the patient's last visit: "better", "same", "worse"; NULL: not compared
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("image_id", Integer, ForeignKey("images.id"), nullable=False),
    Column("image_key", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("previous", Text),
    Column("new", Text, nullable=False),
    Column("grader", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("entry_hash", Text),
)
Index("audit_by_image", audit.c.image_id, audit.c.id)
Index("images_by_location", images.c.session_id, images.c.location)
Index("images_by_patient", images.c.patient_id)

# The trail is evidence: the database itself refuses to rewrite or drop it (the same triggers migration 0001 makes).
_APPEND_ONLY = "the audit trail is append-only"
for _action in ("UPDATE", "DELETE"):
    event.listen(audit, "after_create", DDL(
        f"CREATE TRIGGER audit_no_{_action.lower()} BEFORE {_action} ON audit "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END").execute_if(dialect="sqlite"))
event.listen(audit, "after_create", DDL(
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$").execute_if(dialect="postgresql"))
for _action in ("UPDATE", "DELETE"):
    event.listen(audit, "after_create", DDL(
        f"CREATE TRIGGER audit_no_{_action.lower()} BEFORE {_action} ON audit "
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()").execute_if(dialect="postgresql"))

# Who is grading an image now (claims.py): one row per image, taken over once it has expired.
claims = Table(
    "claims", metadata,
    Column("image_id", Integer, ForeignKey("images.id"), primary_key=True),
    Column("token", Text, nullable=False),
    Column("holder", Text, nullable=False),
    Column("expires_at", Float, nullable=False),  # seconds since 1970 by the database's clock
)

# Second grading and arbitration (second_grading.py): each stage's grades, and where each image stands.
gradings = Table(
    "gradings", metadata,
    Column("id", Integer, primary_key=True),
    Column("image_id", Integer, ForeignKey("images.id"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("grader", Text, nullable=False),
    Column("dr_grade", Integer),
    Column("dme_grade", Integer),
    Column("decided_at", Text, nullable=False),
    UniqueConstraint("image_id", "stage"),
)

qa = Table(
    "qa", metadata,
    Column("image_id", Integer, ForeignKey("images.id"), primary_key=True),
    Column("state", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

DECISION_COLUMNS = ("dr_grade", "dme_grade", "eye", "patient_id", "patient_name", "comment", "kind", "grader",
                    "decided_at", "entry", "review_mode", "marks", "fovea", "change")

HEAD_REVISION = "0011"  # the newest revision in migrations/versions (a test holds the two together)
LEGACY_MARK = 7  # what `schema_version` says since Alembic keeps the schema: apps before it refuse the database

_bookkeeping = MetaData()
# Alembic's own table (read and, for a new database, written without Alembic) and the count apps before Alembic kept.
alembic_version = Table("alembic_version", _bookkeeping, Column("version_num", String(32), nullable=False),
                        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
schema_version = Table("schema_version", _bookkeeping, Column("version", Integer, nullable=False))


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for a new database or one from before Alembic."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(select(alembic_version.c.version_num)).scalar()


def is_empty(connection: Connection) -> bool:
    return not inspect(connection).get_table_names()


def create_new(connection: Connection) -> None:
    """Build the newest schema in an empty database, in the caller's transaction, and record it as Alembic would
    (the revision) and as apps before Alembic read it (a schema number they refuse as newer)."""
    metadata.create_all(connection)
    _bookkeeping.create_all(connection)
    connection.execute(insert(alembic_version).values(version_num=HEAD_REVISION))
    connection.execute(insert(schema_version).values(version=LEGACY_MARK))
