"""Keeping a damaged session database, whole, out of the way of a new one.

Nothing here deletes or edits a database. SQLite deletes a database's write-ahead log (WAL) when its last connection
closes, even after it found the database unreadable; so the logs a crash left behind are copied before the database
is opened (only they: a cleanly closed database has none), and handed back if the database turns out damaged. The
WAL holds the most recent results and decisions, which are worth keeping for whoever attempts a recovery.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

# The files SQLite keeps beside a database, logs first: should the database itself then fail to move, no new
# database is ever created next to its old log.
COMPANIONS = ("-wal", "-journal", "-shm", "")
_LOGS = ("-wal", "-journal")


def snapshot_logs(database: Path) -> dict[str, Path]:
    """Copies of the database's WAL and rollback journal, where a crash left them: suffix -> copy."""
    copies: dict[str, Path] = {}
    for end in _LOGS:
        log = Path(f"{database}{end}")
        if log.is_file():
            copy = log.with_name(f".{log.name}.before-open")
            try:
                shutil.copyfile(log, copy)
            except OSError:
                continue  # a full disk must not stop the app from starting; the log itself is still there
            copies[end] = copy
    return copies


def drop_snapshots(copies: dict[str, Path]) -> None:
    for copy in copies.values():
        copy.unlink(missing_ok=True)


def set_aside(database: Path, copies: dict[str, Path]) -> Path:
    """Rename the database and its companions to `<name>.damaged-<UTC time>.<suffix>`; logs SQLite has already
    deleted are restored there from `copies`. Returns the new name of the database. Raises OSError."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = _free_name(database, stamp)
    for end in COMPANIONS:
        source = Path(f"{database}{end}")
        if source.exists():
            os.replace(source, f"{kept}{end}")
        elif end in copies:
            os.replace(copies.pop(end), f"{kept}{end}")
    drop_snapshots(copies)
    return kept


def _free_name(database: Path, stamp: str) -> Path:
    for attempt in range(1000):
        tag = stamp if attempt == 0 else f"{stamp}-{attempt}"
        kept = database.with_name(f"{database.stem}.damaged-{tag}{database.suffix}")
        if not any(Path(f"{kept}{end}").exists() for end in COMPANIONS):
            return kept
    raise FileExistsError(f"too many damaged copies of {database.name} beside it")
