"""Safe file names from patient data, and writing a file completely or not at all, never over another one."""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ran_desktop.engine.atomic import sync_folder
from ran_desktop.reports.errors import ReportWriteError, describe_os_error

# Characters Windows forbids in names (and the path separators everywhere).
_FORBIDDEN = set('<>:"/\\|?*')
# Device names Windows reserves, with or without an extension ("CON.pdf" opens the console there).
_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?$", re.IGNORECASE)
# Most file systems allow 255 bytes per name; the part taken from patient data stays far below, leaving room for
# the rest of the name, a "-2" suffix and the temporary name's prefix.
MAX_PART_CHARS = 60
MAX_PART_BYTES = 120
MAX_ATTEMPTS = 999


def safe_file_name(text: str, fallback: str = "unnamed") -> str:
    """A piece of a file name made from untrusted text: one path component, valid on Windows, macOS and Linux.

    Separators, forbidden and control characters become "_", leading and trailing dots and spaces go (no "..",
    no hidden files, nothing Windows would silently trim), reserved device names get a "_" in front, and the
    result is shortened to MAX_PART_CHARS characters and MAX_PART_BYTES bytes of UTF-8.
    """
    value = unicodedata.normalize("NFC", text or "")
    chars = []
    for ch in value:
        category = unicodedata.category(ch)
        if ch in _FORBIDDEN or category.startswith("C") or category in ("Zl", "Zp"):
            chars.append("_")
        elif ch.isspace():
            chars.append(" ")
        else:
            chars.append(ch)
    value = re.sub(r"_+", "_", re.sub(r" +", " ", "".join(chars)))
    value = value.strip(" ._")
    value = value[:MAX_PART_CHARS]
    while len(value.encode("utf-8")) > MAX_PART_BYTES:
        value = value[:-1]
    value = value.strip(" ._")
    if not value:
        value = fallback
    if _RESERVED.match(value):
        value = f"_{value}"
    return value


@dataclass(frozen=True)
class Placed:
    path: Path
    requested: Path  # the name asked for; differs from `path` when a file of that name was already there

    @property
    def renamed(self) -> bool:
        return self.path != self.requested


def write_new_file(folder: Path, name: str, data: bytes, written: tuple[Path, ...] = ()) -> Placed:
    """Write `data` as `folder/name`, or as `stem-2.suffix`, `stem-3.suffix`... when that name is taken.

    The bytes go to a temporary file in the same folder first and are flushed to the disk; only a complete file
    ever appears under a report's name. A failure removes the temporary file and raises ReportWriteError naming
    the folder (`written` lists the files this export finished before, for the message).
    """
    requested = folder / name
    stem, suffix = os.path.splitext(name)
    tmp: str | None = None
    try:
        candidate = str(folder / f".ran-report-{secrets.token_hex(8)}.part")
        # Not mkstemp: its files are private (0600) whatever the umask; a report must be readable by whoever
        # may read that folder, like any other file saved there.
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        tmp = candidate  # ours from here on: removed whatever happens next
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        for attempt in range(1, MAX_ATTEMPTS + 1):
            target = requested if attempt == 1 else folder / f"{stem}-{attempt}{suffix}"
            if _claim(tmp, target):
                sync_folder(folder)
                return Placed(target, requested)
        raise ReportWriteError(folder, f"{MAX_ATTEMPTS} files named like {name} are already there", written)
    except OSError as exc:
        raise ReportWriteError(folder, describe_os_error(exc), written) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass  # renamed into place
            except OSError:
                pass  # the drive went away: nothing more can be tidied


def _claim(tmp: str, target: Path) -> bool:
    """Give the temporary file the name `target` unless that name exists. Returns False when it does.

    A hard link is the one atomic "create this name only if it is free" for a finished file; os.replace would
    silently overwrite. Where links are not supported (FAT, some network shares), check and replace instead.
    """
    try:
        os.link(tmp, target)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass  # no hard links here (the errors differ by system); a real write problem fails the replace too
    if os.path.lexists(target):
        return False
    os.replace(tmp, target)
    return True


def prepare_folder(folder: str | Path) -> Path:
    """Create the export folder if needed; a problem raises ReportWriteError that names it."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise ReportWriteError(path, "it is a file, not a folder") from exc
    except OSError as exc:
        raise ReportWriteError(path, describe_os_error(exc)) from exc
    if not path.is_dir():
        raise ReportWriteError(path, "it is a file, not a folder")
    return path
