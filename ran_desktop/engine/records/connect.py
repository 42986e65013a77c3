"""Connections to a session database (`database` says which): SQLAlchemy engines set up for SQLite or PostgreSQL,
and the database server's clock as an SQL expression."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Float

from ran_desktop.engine.records.database import SQLITE_BUSY_SECONDS, Target, describe, is_url


def create(target: Target, *, read_only: bool = False) -> Engine:
    """An engine for `target`. SQLite: WAL, full sync, foreign keys; reads in a deferred transaction and writes in
    an immediate one (`execution_options(write=True)`), so a write never waits for a lock it cannot get.
    `read_only` opens an SQLite file so that nothing can be written (a PostgreSQL server is only read by the caller).
    """
    if not is_url(target):
        path = Path(target)
        if read_only:
            return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    url = make_url(str(target))
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"{describe(target)}: only SQLite files and PostgreSQL servers are supported")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # the driver this app installs
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None  # the driver's own transactions off: _sqlite_begin opens each one
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # each commit is on the disk before it returns
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    write = connection.get_execution_options().get("write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class epoch_now(FunctionElement[float]):
    """The database server's clock in seconds since 1970: claims expire by one clock however many workstations."""

    type = Float()
    inherit_cache = True


@compiles(epoch_now, "sqlite")
def _epoch_now_sqlite(_element: epoch_now, _compiler: Any, **_kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(epoch_now, "postgresql")
def _epoch_now_postgresql(_element: epoch_now, _compiler: Any, **_kw: Any) -> str:
    return "extract(epoch from clock_timestamp())::float8"
