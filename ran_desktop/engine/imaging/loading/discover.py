"""Turn what the user dropped (files and folders) into the list of image files to load."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from ran_desktop.engine.imaging.loading.formats import SUPPORTED_SUFFIXES, file_has_dicom_preamble

# DICOMDIR indexes a DICOM media folder; it carries the DICOM marker but holds no picture.
_NEVER_IMAGES = frozenset({"dicomdir"})


def iter_image_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; folders walked recursively in name order, keeping only likely image files.

    A file given directly is always yielded, whatever its name, so the loader can report what is wrong
    with it. Inside folders, hidden entries are skipped and a file is kept when its suffix is supported,
    or when it has no suffix (or a numeric one, as in UID-named exports) but starts like a DICOM file.
    Each real file is yielded once, and each real folder walked once, so symlink loops end.

    Nothing that might hold photographs is dropped without a word: a folder that cannot be listed (no
    permission, a path over the system's limit), an entry that cannot be examined, a dangling link, and a
    pipe, socket or device named like an image are yielded too, so the loader reports each as a row with its
    reason (a special file is never opened here: reading a pipe would block).
    """
    seen_files: set[str] = set()
    seen_dirs: set[str] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from _walk(path, seen_files, seen_dirs)
        elif _first_visit(path, seen_files):
            yield path


def _walk(root: Path, seen_files: set[str], seen_dirs: set[str]) -> Iterator[Path]:
    if not _first_visit(root, seen_dirs):
        return
    listing = _sorted_entries(root)
    if listing is None:
        yield root  # the loader says why it cannot be read
        return
    # an explicit stack of directory listings instead of recursion: depth is then limited by nothing
    stack = [iter(listing)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        if _is_hidden(entry):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()  # follows symlinks; loops are cut by seen_dirs
            is_file = not is_dir and entry.is_file()
        except OSError:
            if _first_visit(path, seen_files):
                yield path  # cannot even be examined (a name over the limit): the loader reports why
            continue
        if is_dir:
            if _first_visit(path, seen_dirs):
                inner = _sorted_entries(path)
                if inner is None:
                    yield path
                else:
                    stack.append(iter(inner))
        elif is_file:
            if _looks_like_image(path) and _first_visit(path, seen_files):
                yield path
        elif _named_like_an_image(path) and _first_visit(path, seen_files):
            yield path  # a pipe, socket, device or dangling link where a photograph was expected


def _sorted_entries(folder: Path) -> list[os.DirEntry[str]] | None:
    """The folder's entries in name order; None when it cannot be listed."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return None
    # case-insensitive, as file managers show it; the exact name breaks ties so the order is total
    return sorted(entries, key=lambda e: (e.name.casefold(), e.name))


def _is_hidden(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return True
    if os.name != "nt":
        return False
    try:
        attributes = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)  # Windows only
    except OSError:
        return False
    return bool(attributes & stat.FILE_ATTRIBUTE_HIDDEN)


def _named_like_an_image(path: Path) -> bool:
    """By name alone (nothing is opened): a supported suffix, or none or a numeric one (possible DICOM)."""
    if path.name.casefold() in _NEVER_IMAGES:
        return False
    suffix = path.suffix.lower()
    return suffix in SUPPORTED_SUFFIXES or suffix == "" or suffix[1:].isdigit()


def _looks_like_image(path: Path) -> bool:
    if path.name.casefold() in _NEVER_IMAGES:
        return False
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return True
    if suffix == "" or suffix[1:].isdigit():
        return file_has_dicom_preamble(path)
    return False


def _first_visit(path: Path, seen: set[str]) -> bool:
    key = os.path.normcase(os.path.realpath(path))
    if key in seen:
        return False
    seen.add(key)
    return True
