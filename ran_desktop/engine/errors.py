"""Typed errors the engine raises. Each names the file it concerns and says what is wrong in plain words."""

from __future__ import annotations

from pathlib import Path


class ScreeningError(Exception):
    """Base of every error the engine raises on purpose."""


class FileProblem(ScreeningError):
    """A problem with one file; `path` and `reason` are kept apart so callers can show them separately."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageLoadError(FileProblem):
    """The file could not be read as a fundus image (unreadable, corrupt, unsupported, too large...)."""


class UnsupportedFormatError(ImageLoadError):
    """The file is of a kind the engine does not read."""


class ImageChangedError(ImageLoadError):
    """The file now holds another photograph than the one screened (and graded) under its name."""


class BundleError(FileProblem):
    """A model bundle is missing, incomplete, tampered with or does not match its manifest."""


class WriteError(FileProblem):
    """A file the user asked for (results, an export) could not be written; nothing half-written was left."""


class StorageError(ScreeningError):
    """The session database cannot be used; the message says why in plain words."""


class CorruptDatabaseError(StorageError):
    """The file is damaged or is no SQLite database at all (as opposed to locked, or written by a newer app)."""
