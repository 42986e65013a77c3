"""A session's worklist without reading every record: each image's light entry (what the list sorts, filters and
finds rows by) for every row, read in one narrow query, and full records built a page at a time as rows are shown.

A worklist of 100,000 images opens in the time it takes to read the narrow columns; building 100,000 full records
(JSON, paths, dataclasses) would take several seconds that the grader, who sees forty rows, does not need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from ran_desktop.engine.grading import EyeGrades
from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import Grades, ImageRecord, eye_grades, is_referable

PAGE_ROWS = 200  # records built at once around a row that is asked for: a screenful several times over
_EYES = {eye.value: eye for eye in Eye}


class ListEntry(NamedTuple):
    """One row's list columns: the image's own (the model's grades as its operating point decided when screened, the
    file's eye and patient) and its decision's, read without the JSON cells. Properties mirror ImageRecord's."""

    image_id: int
    key: str
    path: str
    status_value: str
    file_label: str  # the file's name, and the frame of a multi-frame file
    model_dr: int | None
    model_dme: int | None
    model_suspects: bool
    file_eye: str | None
    file_patient_id: str | None
    file_patient_name: str | None
    decision_kind: str | None  # None: not yet decided
    decided_dr: int | None
    decided_dme: int | None
    decided_eye: str | None
    decided_patient_id: str | None
    decided_patient_name: str | None
    study_date: str | None  # when the photograph was taken, from the file
    screened_at: str

    @property
    def status(self) -> Status:
        return Status(self.status_value)

    @property
    def file_path(self) -> Path:
        return Path(self.path)

    @property
    def reviewed(self) -> bool:
        return self.decision_kind is not None

    @property
    def grades(self) -> Grades:
        return (self.decided_dr, self.decided_dme) if self.reviewed else (self.model_dr, self.model_dme)

    @property
    def ungradable(self) -> bool:
        return self.status_value != Status.ERROR.value and self.grades[0] is None

    @property
    def eye_decision(self) -> EyeGrades | None:
        return eye_grades(self.grades)

    @property
    def referable(self) -> bool:
        return is_referable(self.grades)

    @property
    def suspected(self) -> bool:
        return self.ungradable and self.model_suspects

    @property
    def eye(self) -> Eye:
        return _EYES.get(self.decided_eye or self.file_eye or "", Eye.UNKNOWN)

    @property
    def taken(self) -> str:
        return self.study_date or self.screened_at[:10]

    @property
    def patient_id(self) -> str | None:
        return self.decided_patient_id or self.file_patient_id

    @property
    def patient_name(self) -> str | None:
        return self.decided_patient_name or self.file_patient_name


GONE = "This image is no longer in the session database (removed since the list was opened)."
NO_MODEL = ModelInfo("none", "", "", synthetic=False, trained=False, warning="", device="")


def stand_in(image_id: int, key: str, path: str, why: str) -> ImageRecord:
    """A row whose stored result cannot be read (a damaged cell) or is gone: listed as an error that says why, so
    the rest of the list works and nothing is hidden from the grader."""
    return ImageRecord(image_id, ScreeningResult(key, Path(path), Status.ERROR, NO_MODEL, error=why))


def entry_of(record: ImageRecord) -> ListEntry:
    """The entry of a record already built (one just screened, or one changed): the same values the narrow query
    reads for it once stored."""
    result, meta, d = record.result, record.result.metadata, record.decision
    model_dr, model_dme = record.model_grades
    return ListEntry(
        record.image_id, record.key, str(result.path), result.status.value, result.file_label, model_dr, model_dme,
        result.suspected, meta.eye.value if meta is not None else None,
        meta.patient_id if meta is not None else None, meta.patient_name if meta is not None else None,
        d.kind if d is not None else None, d.dr_grade if d is not None else None,
        d.dme_grade if d is not None else None, d.eye.value if d is not None and d.eye is not None else None,
        d.patient_id if d is not None else None, d.patient_name if d is not None else None,
        meta.study_date if meta is not None else None, record.screened_at,
    )


Fetch = Callable[[Sequence[int]], dict[int, ImageRecord]]  # image ids -> their records (those that still exist)


class RecordList(Sequence[ImageRecord]):
    """The worklist's rows in order: every row's entry at hand, its full record built when first asked for (a page
    of its neighbours with it) through `fetch`, then kept. Records added or replaced whole are kept as given."""

    def __init__(self, entries: list[ListEntry], fetch: Fetch | None = None):
        self._entries = entries
        self._built: dict[int, ImageRecord] = {}
        self._fetch = fetch

    @classmethod
    def of(cls, records: Sequence[ImageRecord]) -> RecordList:
        listed = cls([entry_of(r) for r in records])
        listed._built = dict(enumerate(records))
        return listed

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, row: int) -> ListEntry:
        return self._entries[row]

    def entries(self) -> list[ListEntry]:
        return self._entries

    def built(self, row: int) -> bool:
        return row in self._built

    def built_count(self) -> int:
        """How many rows' records have been read (or given) so far."""
        return len(self._built)

    def __getitem__(self, row: int) -> ImageRecord:  # type: ignore[override]  # rows only: no slices are asked for
        if row < 0:
            row += len(self._entries)
        record = self._built.get(row)
        if record is None:
            self._build(range(max(0, row - PAGE_ROWS // 4), min(len(self._entries), row + PAGE_ROWS * 3 // 4)))
            record = self._built[row]
        return record

    def __iter__(self) -> Iterator[ImageRecord]:
        for start in range(0, len(self._entries), PAGE_ROWS * 5):
            self._build(range(start, min(len(self._entries), start + PAGE_ROWS * 5)))
            for row in range(start, min(len(self._entries), start + PAGE_ROWS * 5)):
                yield self._built[row]

    def _build(self, rows: range) -> None:
        missing = [row for row in rows if row not in self._built]
        if not missing:
            return
        if self._fetch is None:
            raise LookupError("rows without records and nothing to build them from")
        found = self._fetch([self._entries[row].image_id for row in missing])
        for row in missing:
            entry = self._entries[row]
            self._built[row] = found.get(entry.image_id) or stand_in(entry.image_id, entry.key, entry.path, GONE)

    def append(self, record: ImageRecord) -> None:
        self._built[len(self._entries)] = record
        self._entries.append(entry_of(record))

    def __setitem__(self, row: int, record: ImageRecord) -> None:
        self._built[row] = record
        self._entries[row] = entry_of(record)
