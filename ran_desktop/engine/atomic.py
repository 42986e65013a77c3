"""Writing a file the user asked for all at once or not at all.

The content goes to a temporary file beside the target, is flushed to the disk, and only then replaces the target
in one rename. A full disk, a read-only folder or a crash half-way therefore leaves either the old file or the new
one, never a half-written one, and never a stray temporary file.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from .errors import WriteError

_PLAIN_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the folder is on a read-only disk",
    errno.EACCES: "permission denied: the folder cannot be written",
    errno.EPERM: "permission denied: the folder cannot be written",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "the folder does not exist (a file has its name)",
    errno.EFBIG: "the file would be larger than this system allows",
}


def write_text_atomically(path: str | Path, write: Callable[[TextIO], None], *, newline: str | None = None) -> Path:
    """Call `write(stream)` on a temporary text file (UTF-8), then put it in place of `path`.

    Raises WriteError, saying in plain words why, when the file cannot be written; nothing is left behind then.
    """
    path = Path(path)
    # not mkstemp: its files are private (0600) whatever the umask, and an export must get the usual permissions.
    # os.urandom(4).hex() is secrets.token_hex(4), without importing secrets (and hashlib) when the window starts.
    tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
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
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteError(path, f"nothing was written: {plain_reason(exc)}") from exc
        raise
    sync_folder(path.parent)
    return path


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """`data` in place of `path`, whole or not at all (see write_text_atomically); WriteError when it cannot be."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
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
    import tempfile  # here: only this check needs it, and the window imports this module at start

    path = Path(path)
    try:
        with tempfile.TemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
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
