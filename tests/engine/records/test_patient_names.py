"""A patient's two eyes are grouped by their file names where the files carry no patient ID."""

from __future__ import annotations

from pathlib import Path

import pytest

from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.patient_names import (
    DEFAULT_PATTERNS,
    PatternError,
    check_patterns,
    patient_from_filename,
)
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import ImageRecord

INFO = ModelInfo("m", "1", "data", False, True, "", "CPU")


@pytest.mark.parametrize(("name", "patient"), [
    ("123_left.jpg", "123"), ("123_right.jpg", "123"), ("Patient001_L.png", "Patient001"),
    ("Patient001_R.png", "Patient001"), ("2024-05-01 Smith OD.jpg", "2024-05-01 Smith"), ("123L.jpg", "123"),
    ("P-0042_right_2.tif", "P-0042"), ("scan_notes.jpg", None), ("IMG_0001.jpg", None), ("Left.jpg", None),
])
def test_the_default_patterns(name, patient):
    assert patient_from_filename(Path(name)) == patient


def record(i: int, path: str, patient_id: str | None = None, status: Status = Status.SCREENED) -> ImageRecord:
    from ran_desktop.engine.imaging.loading import Eye, ImageMetadata

    meta = ImageMetadata("DICOM", (100, 100), 8, "RGB", eye=Eye.UNKNOWN, patient_id=patient_id) if patient_id else None
    result = ScreeningResult(path, Path(path), status, INFO, metadata=meta, dr_probs=(1, 0, 0, 0, 0),
                             dme_probs=(1, 0, 0))
    return ImageRecord(i, result)


def test_both_eyes_of_a_named_pair_are_one_patient_within_a_folder_only():
    records = [record(1, "/a/123_left.jpg"), record(2, "/a/123_right.jpg"), record(3, "/b/123_left.jpg"),
               record(4, "/a/notes.jpg"), record(5, "/a/77_L.jpg", patient_id="P-77")]
    groups = group_by_patient(records)
    sizes = {g.key: len(g.records) for g in groups}
    assert sizes == {"file:/a/123": 2, "file:/b/123": 1, "image:/a/notes.jpg": 1, "id:P-77": 1}
    assert groups[0].file_name_patient == "123" and groups[0].patient_id is None
    assert [len(g.records) for g in group_by_patient(records, ())] == [1, 1, 1, 1, 1]  # turned off


def test_a_pattern_without_a_patient_group_or_that_is_no_regex_is_refused():
    check_patterns(DEFAULT_PATTERNS)
    with pytest.raises(PatternError, match="no \\(\\?P<patient>"):
        check_patterns([r"^(\d+)_L$"])
    with pytest.raises(PatternError, match="not a regular expression"):
        check_patterns([r"^(?P<patient>\d+"])
