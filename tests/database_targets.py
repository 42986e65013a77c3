"""Session databases for tests: a fresh SQLite file, or a fresh database on the PostgreSQL server that `.ci/run`
starts (Debian's package; `RAN_TEST_POSTGRES_URL` names a role that may create databases). Where no server is
configured the PostgreSQL half skips with the reason, except under `RAN_REQUIRE_POSTGRES=1` (CI), where it fails."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

POSTGRES_ENV = "RAN_TEST_POSTGRES_URL"
REQUIRE_ENV = "RAN_REQUIRE_POSTGRES"
BACKENDS = ("sqlite", "postgresql")


def postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        reason = f"no PostgreSQL server for tests ({POSTGRES_ENV} unset; .ci/run starts one)"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards; yields its URL."""
    admin = postgres_admin_url()
    name = f"ran_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as db:
            db.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as db:
            db.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()
