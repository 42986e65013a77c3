"""The session database's tables as they stand at the newest migration, for building queries (SQLAlchemy Core).

The migrations in `migrations/versions/` build them; this module only describes the result. Timestamps are ISO 8601
text in UTC (as they always were in SQLite files), the same on PostgreSQL so the two hold identical values.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
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
    Column("thumbnail", LargeBinary),
    Column("screened_at", Text, nullable=False),
    Column("location", Text),
    Column("screen_order", Integer),
    Column("suspicion", Float),
    UniqueConstraint("session_id", "key"),
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
    Column("entry", Text, nullable=False),
    Column("review_mode", Text, nullable=False),
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

# Who is grading an image now (claims.py): one row per image, taken over once it has expired.
claims = Table(
    "claims", metadata,
    Column("image_id", Integer, ForeignKey("images.id"), primary_key=True),
    Column("token", Text, nullable=False),
    Column("holder", Text, nullable=False),
    Column("expires_at", Float, nullable=False),  # seconds since 1970 by the database's clock
)

DECISION_COLUMNS = ("dr_grade", "dme_grade", "eye", "patient_id", "patient_name", "comment", "kind", "grader",
                    "decided_at", "entry", "review_mode")

HEAD_REVISION = "0007"  # the newest revision in migrations/versions (a test holds the two together)

# Alembic's own bookkeeping table, read without Alembic: opening a database that is current stays cheap.
alembic_version = Table("alembic_version", MetaData(), Column("version_num", Text, primary_key=True))


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for a new database or one from before Alembic."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(select(alembic_version.c.version_num)).scalar()
