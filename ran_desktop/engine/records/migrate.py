"""Bringing a session database to the newest schema: Alembic runs the revisions in `migrations/versions/`, the same
on SQLite and PostgreSQL, all in the caller's one transaction.

Files written before Alembic counted their migrations in a `schema_version` table (1 to 6; revision "000N" is
schema N): they are stamped at that revision and upgraded from there. Afterwards `schema_version` says 7, so an app
from before the move refuses the file as written by a newer version instead of using tables it does not know.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, delete, insert, inspect, select

from ran_desktop.engine.errors import ScreeningError
from ran_desktop.engine.records.tables import LEGACY_MARK as LEGACY_MARK
from ran_desktop.engine.records.tables import current_revision, schema_version

MIGRATIONS = Path(__file__).with_name("migrations")
LEGACY_LAST = 6  # the last schema counted in `schema_version` alone


class NewerDatabaseError(ScreeningError):
    """The database was written by a newer version of the app."""


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    return str(ScriptDirectory(str(MIGRATIONS)).get_current_head())


def upgrade(connection: Connection, where: str) -> None:
    """Run every missing revision on `connection` (inside its open transaction); `where` names the database in
    messages. A database from a newer app raises NewerDatabaseError and is left as it is."""
    config = _config(connection)
    script = ScriptDirectory.from_config(config)
    revision = current_revision(connection)
    if revision is not None:
        try:
            script.get_revision(revision)
        except CommandError:
            raise _newer(where, revision) from None
    elif inspect(connection).has_table("schema_version"):
        legacy = connection.execute(select(schema_version.c.version)).scalar() or 0
        if legacy > LEGACY_LAST:
            raise _newer(where, str(legacy))
        if legacy:
            command.stamp(config, f"{legacy:04d}")
    command.upgrade(config, "head")
    schema_version.create(connection, checkfirst=True)
    connection.execute(delete(schema_version))
    connection.execute(insert(schema_version).values(version=LEGACY_MARK))


def _newer(where: str, found: str) -> NewerDatabaseError:
    return NewerDatabaseError(
        f"{where} was written by a newer version of RAN Screening (database schema {found}; this version understands "
        f"up to {head()}). Update the app, or choose another data folder or database."
    )
