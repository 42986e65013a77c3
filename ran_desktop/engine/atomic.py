"""Writing a file the user asked for all at once or not at all.

The content goes to a temporary file beside the target, is flushed to the disk, and only then replaces the target
in one rename. A full disk, a read-only folder or a crash half-way therefore leaves either the old file or the new
one, never a half-written one, and never a stray temporary file.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ran_desktop.engine.errors import WriteError

_PLAIN_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the folder is on a read-only disk",
    errno.EACCES: "permission denied: the folder cannot be written",
    errno.EPERM: "permission denied: the folder cannot be written",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "the folder does not exist (a file has its name)",
    errno.EFBIG: "the file would be larger than this system allows",
    errno.ENAMETOOLONG: "the file name is too long for this system",
}
# Temporary files are named by the app alone (short, whatever the target's name: a 248-character photograph name
# once made the temporary name too long to create, or to delete in the error handler), so the next run can find
# and remove the ones a kill between write and rename left behind.
TEMP_PREFIX = ".ran-"
TEMP_SUFFIX = ".tmp"
STALE_AFTER_S = 3600  # older than any write in progress
_cleaned: set[str] = set()


def _temporary(path: Path) -> Path:
    # not mkstemp: its files are private (0600) whatever the umask, and an export must get the usual permissions.
    # os.urandom(6).hex() is secrets.token_hex(6), without importing secrets (and hashlib) when the window starts.
    clean_stale_temporaries(path.parent)
    return path.with_name(f"{TEMP_PREFIX}{os.urandom(6).hex()}{TEMP_SUFFIX}")


def _discard(tmp: Path) -> None:
    """Remove a temporary file; never raises (it runs inside error handlers, whose error is the one to report)."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass


def clean_stale_temporaries(folder: str | Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the app's own temporary files older than `older_than_s` from `folder` (once per folder and process):
    what a kill between write and rename left, which may hold patient data. Returns what was removed."""
    folder = Path(folder)
    key = os.path.abspath(folder)
    if key in _cleaned:
        return []
    _cleaned.add(key)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > older_than_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # another process took it, or it cannot be removed: not this write's problem
    return removed


def write_text_atomically(path: str | Path, write: Callable[[TextIO], None], *, newline: str | None = None) -> Path:
    """Call `write(stream)` on a temporary text file (UTF-8), then put it in place of `path`.

    Raises WriteError, saying in plain words why, when the file cannot be written; nothing is left behind then.
    """
    path = Path(path)
    tmp = _temporary(path)
    try:
        stream = open(tmp, "x", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise WriteError(path, f"nothing was written: {plain_reason(exc)}") from exc
    try:
        with stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())  # on the disk before it replaces anything: a power cut keeps the old file
        os.replace(tmp, path)
    except BaseException as exc:
        _discard(tmp)
        if isinstance(exc, OSError):
            raise WriteError(path, f"nothing was written: {plain_reason(exc)}") from exc
        raise
    sync_folder(path.parent)
    return path


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """`data` in place of `path`, whole or not at all (see write_text_atomically); WriteError when it cannot be."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        with open(tmp, "xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise WriteError(path, f"nothing was written: {plain_reason(exc)}") from exc
    return path


def ensure_writable_folder(folder: str | Path) -> Path:
    """Create `folder` if needed and check a file can be written in it; WriteError, in plain words, if not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(folder, f"cannot create this folder: {plain_reason(exc)}") from exc
    check_writable_folder(folder / "probe")
    return folder


def check_writable_folder(path: str | Path) -> None:
    """Raise WriteError now when a file could not be created beside `path` (before a long batch, not after)."""
    path = Path(path)
    try:
        with tempfile.TemporaryFile(dir=path.parent, prefix=TEMP_PREFIX, suffix=".probe"):
            pass
    except OSError as exc:
        raise WriteError(path, f"cannot write here: {plain_reason(exc)}") from exc


def plain_reason(exc: OSError) -> str:
    reason = _PLAIN_REASONS.get(exc.errno) if exc.errno is not None else None
    return reason or (exc.strerror or str(exc) or type(exc).__name__)


def sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows has no handle on a folder to sync, NTFS journals renames."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (network shares) cannot sync a folder; the file itself is already synced
    finally:
        os.close(fd)
