"""One labelled photograph (`Record`), the list an adapter returns, and the checks that turn label cells into grades."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ran_desktop.engine.imaging.loading.types import Eye

DR_GRADES = range(0, 5)  # ICDR 0-4
DME_GRADES = range(0, 3)  # risk of macular edema 0-2

DR_SCALES = ("icdr", "messidor")
DME_SCALES = ("risk", "referable")


@dataclass(frozen=True)
class Record:
    """A photograph and what its dataset says about it.

    `dr` / `dme` are None when the dataset does not grade that question: the training loss masks that head out for
    this image instead of guessing a label.

    `dr_scale` says how far `dr` can be trusted as ICDR: "messidor" means the dataset graded on Messidor's 0-3 scale,
    whose grade 3 lumps severe NPDR with PDR, so `dr` 3 stands for "ICDR 3 or 4" (see `messidor.py`).
    `dme_scale` "referable" means the dataset only says referable DME or not (Messidor-2): `dme` is then 2 or 0, and
    a 0 may hide a grade-1 eye.
    """

    image: Path  # absolute path to the image file
    dr: int | None
    dme: int | None
    patient: str  # patient id; the image's own id when the dataset has none, so each image is its own group
    eye: Eye
    source: str  # dataset name, e.g. "eyepacs"
    split_hint: str | None = None  # "train" / "test" where the dataset ships its own split
    dr_scale: str = "icdr"
    dme_scale: str = "risk"
    lesion_mask: Path | None = None  # lesion bit mask (training/lesion_masks.py) at the photograph's size, if known

    def __post_init__(self) -> None:
        # Adapters validate with file and row in the message; this guards every other way of building a Record.
        if not self.image.is_absolute():
            raise ValueError(f"Record.image must be absolute, got {self.image}")
        if self.dr is not None and self.dr not in DR_GRADES:
            raise ValueError(f"DR grade {self.dr!r} outside 0-4 for {self.image}")
        if self.dme is not None and self.dme not in DME_GRADES:
            raise ValueError(f"DME grade {self.dme!r} outside 0-2 for {self.image}")
        if not self.patient:
            raise ValueError(f"empty patient id for {self.image}")
        if self.split_hint not in (None, "train", "test"):
            raise ValueError(f"split_hint must be None, 'train' or 'test', got {self.split_hint!r}")
        if self.dr_scale not in DR_SCALES or self.dme_scale not in DME_SCALES:
            raise ValueError(f"unknown scale {self.dr_scale!r} / {self.dme_scale!r} for {self.image}")


class LoadedRecords(list[Record]):
    """The records an adapter found, plus `warnings`: rows it skipped (missing image, ungradable, duplicate).

    Skipping instead of crashing lets a user train on the part of a large dataset they have extracted.
    """

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.warnings: list[str] = []
        self._seen: set[Path] = set()

    def add(self, record: Record, where: str) -> None:
        """Append `record` unless its image was already listed (Messidor's annotation files repeat a few)."""
        if record.image in self._seen:
            self.warnings.append(f"{where}: {record.image.name} listed again; the first row is kept")
            return
        self._seen.add(record.image)
        self.append(record)

    def skip(self, where: str, reason: str) -> None:
        self.warnings.append(f"{where}: {reason}; skipped")


def parse_grade(value: object, grades: range, *, where: str, column: str, required: bool = True) -> int | None:
    """An integer grade from a table cell, or a ValueError naming the file, row, column and value.

    Spreadsheets store numbers as floats, so 2.0 and "2.0" are accepted; 2.5, "x" and out-of-range values are not.
    An empty cell is None when the grade is optional.
    """
    text = "" if value is None else str(value).strip()
    if text == "":
        if required:
            raise ValueError(f"{where}: column '{column}' is empty")
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{where}: column '{column}' holds {text!r}, not a grade") from None
    if not number.is_integer() or int(number) not in grades:
        raise ValueError(
            f"{where}: column '{column}' holds {text!r}, outside the grades {grades.start}-{grades.stop - 1}"
        )
    return int(number)


_EYE_WORDS = {
    "od": Eye.RIGHT, "r": Eye.RIGHT, "right": Eye.RIGHT, "re": Eye.RIGHT,
    "os": Eye.LEFT, "l": Eye.LEFT, "left": Eye.LEFT, "le": Eye.LEFT,
    "": Eye.UNKNOWN, "unknown": Eye.UNKNOWN, "ou": Eye.UNKNOWN,
}  # fmt: skip


def parse_eye(value: object, *, where: str, column: str = "eye") -> Eye:
    """OD/OS, right/left, R/L, RE/LE (any case) -> Eye; empty or "unknown" -> UNKNOWN; anything else is an error."""
    text = "" if value is None else str(value).strip().casefold()
    if text not in _EYE_WORDS:
        raise ValueError(f"{where}: column '{column}' holds {value!r}; expected OD/OS, right/left, R/L or empty")
    return _EYE_WORDS[text]
