"""Public fundus datasets read as distributed, turned into `Record`s, and split by patient for training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from training.datasets import (
    aptos,
    eyepacs,
    folders,
    generic_csv,
    idrid,
    idrid_grading,
    idrid_segmentation,
    messidor,
    session,
)
from training.datasets.records import LoadedRecords, Record
from training.datasets.splits import Splits, load_split, save_split, split_records

_LOADERS: dict[str, Callable[..., LoadedRecords]] = {
    "eyepacs": eyepacs.load,
    "aptos": aptos.load,
    "messidor": messidor.load,
    "idrid": idrid.load,
    "idrid-seg": idrid_grading.load,
    "folders": folders.load,
    "csv": generic_csv.load,
    "session": session.load,
}
KINDS = tuple(_LOADERS)

# Most specific layouts first; Messidor last because finding its annotation files walks the whole tree.
_DETECTORS: tuple[tuple[str, Callable[[Path], bool]], ...] = (
    ("session", session.detect),
    ("eyepacs", eyepacs.detect),
    ("aptos", aptos.detect),
    ("idrid", idrid.detect),
    ("idrid-seg", idrid_segmentation.detect),
    ("csv", generic_csv.detect),
    ("folders", folders.detect),
    ("messidor", messidor.detect),
)


def load_dataset(kind: str, root: Path | str, **options: object) -> LoadedRecords:
    """Records of dataset `kind` under `root`; `options` go to that adapter (see each module's `load`).

    Rows whose image is missing are skipped and described in the result's `.warnings`; malformed labels raise
    ValueError naming the file, row and value.
    """
    if kind not in _LOADERS:
        raise ValueError(f"unknown dataset kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return _LOADERS[kind](Path(root), **options)


def detect_dataset(root: Path | str) -> str | None:
    """The kind whose distributed layout `root` looks like, or None."""
    root = Path(root)
    if root.is_file():
        return "csv" if generic_csv.detect(root) else None
    if not root.is_dir():
        return None
    for kind, detect in _DETECTORS:
        if detect(root):
            return kind
    return None


__all__ = [
    "KINDS",
    "LoadedRecords",
    "Record",
    "Splits",
    "detect_dataset",
    "load_dataset",
    "load_split",
    "save_split",
    "split_records",
]
