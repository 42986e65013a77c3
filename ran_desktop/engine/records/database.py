"""Where the session database is and how to connect to it: an SQLite file in the data folder (the default), or a
PostgreSQL server that several workstations share (`RAN_DATABASE_URL` or the app's setting).

A database is named by a *target*: a file path (SQLite) or a URL such as
`postgresql+psycopg://ran@db.clinic.local/ran`. Every thread opens its own Storage on the same target. Light (no
SQLAlchemy): the window resolves its database before the database layer loads; `connect` makes the engines.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DATABASE_URL_ENV = "RAN_DATABASE_URL"
DATABASE_NAME = "ran-screening.sqlite3"
SQLITE_BUSY_SECONDS = 10.0
SQLITE_URL = "sqlite:///"

Target = str | Path


def is_url(target: Target) -> bool:
    return isinstance(target, str) and "://" in target


def resolve(data_dir: Path, configured: str = "") -> Target:
    """The database to use: `RAN_DATABASE_URL`, else the configured URL, else the SQLite file in `data_dir`. A
    `sqlite:///PATH` URL names a database file elsewhere (PATH, as a path)."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip() or configured.strip()
    if url.startswith(SQLITE_URL):
        return Path(url.removeprefix(SQLITE_URL))
    return url if url else Path(data_dir) / DATABASE_NAME


def describe(target: Target) -> str:
    """The target for a message: a URL without its password."""
    if not is_url(target):
        return str(target)
    parts = urlsplit(str(target))
    if parts.password is None:
        return str(target)
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
