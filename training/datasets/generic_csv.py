"""The project's own layout (the synthetic generator writes it), also the easiest way to bring any other data:

    root/
        labels.csv       image,dr,dme,patient,eye        extra columns are ignored
                         images/p001_OD.png,2,1,p001,OD
                         images/p002.png,0,,,             (empty dr/dme: not graded; empty patient: own id)
        images/...

`image` is a path relative to the CSV (or absolute). `dr` 0-4 and `dme` 0-2 may be empty, or their column absent,
when not graded, but a table with neither column is refused. `patient` defaults to the image path as written.
`eye` accepts OD/OS, right/left, R/L, RE/LE or "unknown"; empty or absent, the file name decides.
An optional `lesion_mask` column names each photograph's lesion mask (a bit mask PNG, `training/lesion_masks.py`;
empty: not known), which trains the lesion head.
An optional `split` column ("train" / "test") keeps rows on that side of a split made with
`--use-predefined-split`, as a data set's own split would.
`root` is the CSV itself or the folder holding labels.csv.
"""

from __future__ import annotations

import os
from pathlib import Path

from ran_desktop.engine.imaging.loading.laterality import laterality_from_filename
from training.datasets.adapters import cell, read_table, report, text
from training.datasets.records import DME_GRADES, DR_GRADES, LoadedRecords, Record, parse_eye, parse_grade

SOURCE = "csv"
LABELS = "labels.csv"


def labels_file(root: Path, labels: str = LABELS) -> Path:
    return root if root.is_file() else root / labels


def detect(root: Path) -> bool:
    path = labels_file(root)
    if not (path.is_file() and path.suffix.casefold() == ".csv"):
        return False
    try:
        return read_table(path).find("image") is not None
    except ValueError:  # empty or not text: not our layout
        return False


def load(root: Path, *, labels: str = LABELS, source: str = SOURCE) -> LoadedRecords:
    path = labels_file(root.absolute(), labels)
    table = read_table(path)
    image_col = table.column("image")
    dr_col, dme_col = table.find("dr"), table.find("dme")
    patient_col, eye_col = table.find("patient"), table.find("eye")
    split_col = table.find("split")
    mask_col = table.find("lesion_mask")
    if dr_col is None and dme_col is None:
        raise ValueError(f"{path}: neither a 'dr' nor a 'dme' column; the header has {table.header}")
    records = LoadedRecords(source)
    for row, cells in table:
        where = table.where(row)
        name = text(cell(cells, image_col))
        if not name:
            raise ValueError(f"{where}: column 'image' is empty")
        dr = parse_grade(cell(cells, dr_col), DR_GRADES, where=where, column="dr", required=False)
        dme = parse_grade(cell(cells, dme_col), DME_GRADES, where=where, column="dme", required=False)
        eye = parse_eye(cell(cells, eye_col), where=where)
        image = Path(os.path.normpath(path.parent / name))  # "../x.png" must still compare equal elsewhere
        if not image.is_file():
            records.skip(where, f"no image {image}")
            continue
        if not text(cell(cells, eye_col)):
            eye = laterality_from_filename(image.name)
        patient = text(cell(cells, patient_col)) or Path(name).as_posix()
        split = text(cell(cells, split_col)).casefold() or None
        if split not in (None, "train", "test"):
            raise ValueError(f"{where}: column 'split' must be 'train', 'test' or empty, not {split!r}")
        mask_name = text(cell(cells, mask_col))
        mask = Path(os.path.normpath(path.parent / mask_name)) if mask_name else None
        if mask is not None and not mask.is_file():
            raise ValueError(f"{where}: no lesion mask {mask}")
        records.add(Record(image, dr, dme, patient, eye, source, split, lesion_mask=mask), where)
    return report(records)
