"""What every dataset adapter needs: label tables (CSV, .xls, .xlsx) read tolerantly, and images found by name."""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.datasets.records import LoadedRecords

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".tif", ".tiff", ".bmp")  # order = preference when a stem has several


def normalise_header(name: object) -> str:
    """Headers compared stripped, whitespace collapsed and case-folded: IDRiD/Messidor's "Risk of macular edema " has
    a trailing space, and hand-made exports change case."""
    return " ".join(str("" if name is None else name).split()).casefold()


@dataclass(frozen=True)
class Table:
    """A label table: normalised header plus data rows numbered as a spreadsheet shows them (header = row 1)."""

    path: Path
    header: list[str]
    rows: list[tuple[int, list[object]]]

    def find(self, *names: str) -> int | None:
        """Index of the first of `names` present in the header, else None."""
        for name in names:
            key = normalise_header(name)
            if key in self.header:
                return self.header.index(key)
        return None

    def column(self, *names: str) -> int:
        index = self.find(*names)
        if index is None:
            raise ValueError(f"{self.path}: no column {names[0]!r}; the header has {self.header}")
        return index

    def where(self, row: int) -> str:
        return f"{self.path.name}, row {row}"

    def __iter__(self) -> Iterator[tuple[int, list[object]]]:
        return iter(self.rows)


def cell(cells: list[object], index: int | None) -> object:
    """The cell at `index`, or "" where the row is shorter (trailing empty cells are often dropped)."""
    if index is None or index >= len(cells):
        return ""
    return cells[index]


def text(value: object) -> str:
    """A cell as clean text; spreadsheet floats such as 12.0 become "12"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def read_table(path: Path) -> Table:
    """Read a .csv (comma or semicolon), .xls (xlrd) or .xlsx (openpyxl) table; the first sheet, first row = header."""
    numbered = [(number, cells) for number, cells in enumerate(read_grid(path), start=1) if any(text(c) for c in cells)]
    if not numbered:
        raise ValueError(f"{path}: the table is empty")
    (_, header), *rows = numbered
    return Table(path, [normalise_header(h) for h in header], rows)


def read_grid(path: Path) -> list[list[object]]:
    """Every row of a .csv, .xls or .xlsx file (first sheet) as raw cells, header included."""
    suffix = path.suffix.casefold()
    if suffix == ".xls":
        return _read_xls(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    return _read_csv(path)


def _read_csv(path: Path) -> list[list[object]]:
    # A French-locale Excel export (Messidor's department names are French) is cp1252 and ';'-separated;
    # utf-8-sig drops the byte-order mark other Excel exports write.
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = raw.decode("cp1252", errors="replace")
    first = content.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return [list(row) for row in csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)]


def _read_xls(path: Path) -> list[list[object]]:
    try:
        import xlrd
    except ImportError:
        raise ImportError(f"reading {path.name} needs the xlrd package (pip install xlrd)") from None
    book = xlrd.open_workbook(str(path), on_demand=True)
    try:
        sheet = book.sheet_by_index(0)
        return [sheet.row_values(i) for i in range(sheet.nrows)]
    finally:
        book.release_resources()


def _read_xlsx(path: Path) -> list[list[object]]:
    try:
        import openpyxl
    except ImportError:
        raise ImportError(f"reading {path.name} needs the openpyxl package (pip install openpyxl)") from None
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


class ImageIndex:
    """Image files under a folder, looked up by file name or, failing that, by stem (both case-insensitive).

    Stem lookup lets a label that names "x.tif" find a re-encoded "x.png", and EyePACS's extension-less "10_left"
    find "10_left.jpeg". Listing a folder once is much faster than probing each candidate name on 35,000 images.
    """

    def __init__(self, folder: Path, *, recursive: bool = False) -> None:
        self.folder = folder
        self._by_name: dict[str, Path] = {}
        self._by_stem: dict[str, Path] = {}
        rank = {suffix: i for i, suffix in enumerate(IMAGE_SUFFIXES)}
        found = sorted(image_files(folder, recursive=recursive), key=lambda p: (rank[p.suffix.casefold()], str(p)))
        for path in found:  # setdefault keeps the preferred suffix, then the first path in sorted order
            self._by_name.setdefault(path.name.casefold(), path)
            self._by_stem.setdefault(path.stem.casefold(), path)

    def __len__(self) -> int:
        return len(self._by_name)

    def find(self, name: str) -> Path | None:
        key = name.strip().casefold()
        hit = self._by_name.get(key)
        if hit is None:
            hit = self._by_stem.get(Path(key).stem if Path(key).suffix in IMAGE_SUFFIXES else key)
        return hit


def image_files(folder: Path, *, recursive: bool) -> Iterator[Path]:
    """Files under `folder` whose suffix is an image suffix (any case); nothing when the folder is missing."""
    if not folder.is_dir():
        return
    if recursive:
        for parent, _dirs, files in os.walk(folder):
            for name in files:
                if Path(name).suffix.casefold() in IMAGE_SUFFIXES:
                    yield Path(parent, name)
    else:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file() and Path(entry.name).suffix.casefold() in IMAGE_SUFFIXES:
                    yield Path(entry.path)


def report(records: LoadedRecords) -> LoadedRecords:
    """Log one summary line for the skipped rows, so a long list of warnings is not silent."""
    if records.warnings:
        log.warning("%s: %d records loaded, %d rows skipped (see .warnings), e.g. %s",
                    records.source, len(records), len(records.warnings), records.warnings[0])
    return records
