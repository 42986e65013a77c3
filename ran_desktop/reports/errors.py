"""Errors of report export, with messages a clinician can act on."""

from __future__ import annotations

import errno
from pathlib import Path

from ran_desktop.engine.errors import ScreeningError


class ReportError(ScreeningError):
    """A report cannot be made (an unreadable logo, a missing font, identifiers DICOM cannot hold...)."""


class ReportWriteError(ReportError):
    """Reports could not be written to `folder`. Files in `written` were complete before the failure and are kept;
    nothing half-written is left behind and nothing was overwritten."""

    def __init__(self, folder: str | Path, problem: str, written: tuple[Path, ...] = ()):
        self.folder = Path(folder)
        self.problem = problem
        self.written = tuple(written)
        message = f"Reports could not be written to {self.folder}: {problem}."
        if self.written:
            message += (
                f" The {len(self.written)} file(s) written before this are complete and were kept "
                f"(last: {self.written[-1].name})."
            )
        message += " No file was left half-written and none was overwritten."
        super().__init__(message)


_PROBLEMS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the folder is on a read-only drive",
    errno.EACCES: "there is no permission to write there",
    errno.EPERM: "there is no permission to write there",
    errno.ENOTDIR: "part of the path is a file, not a folder",
    errno.ENOENT: "the folder does not exist (was the drive removed?)",
    errno.ENAMETOOLONG: "the path is too long for this drive",
    errno.EIO: "the drive reported an input/output error",
}


def describe_os_error(exc: OSError) -> str:
    """Plain words for why a write failed, with the system's own message kept for IT."""
    plain = _PROBLEMS.get(exc.errno or -1)
    detail = exc.strerror or str(exc)
    return f"{plain} ({detail})" if plain else detail
