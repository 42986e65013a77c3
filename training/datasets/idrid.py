"""IDRiD (Indian Diabetic Retinopathy Image Dataset), part B "Disease Grading", as distributed on IEEE DataPort.

    B. Disease Grading/
        1. Original Images/
            a. Training Set/IDRiD_001.jpg ... IDRiD_413.jpg
            b. Testing Set/IDRiD_001.jpg ... IDRiD_103.jpg      (the test set reuses the names)
        2. Groundtruths/
            a. IDRiD_Training Set Labels.csv
            b. IDRiD_Testing Set Labels.csv
               Image name,Retinopathy grade,Risk of macular edema ,,,...   (trailing space; empty trailing columns)
               IDRiD_001,3,2

`root` may be "B. Disease Grading" itself, its parent (the IDRiD folder with A./B./C.), or a folder the zip
extracted into twice ("B. Disease Grading/B. Disease Grading"). DR is ICDR 0-4, DME is the 0-2 risk of macular
edema. IDRiD names no patients, so each image is its own patient; the id carries the split ("train/IDRiD_001",
"test/IDRiD_001") because the two sets reuse names for different photographs. `split_hint` keeps the published
train/test split. The eye is unknown: the file names do not say.
"""

from __future__ import annotations

from pathlib import Path

from ran_desktop.engine.imaging.loading.types import Eye
from training.datasets.adapters import ImageIndex, cell, read_table, report, text
from training.datasets.records import DME_GRADES, DR_GRADES, LoadedRecords, Record, parse_grade

SOURCE = "idrid"
GRADING = "B. Disease Grading"
_PARTS = (
    ("train", "a. IDRiD_Training Set Labels.csv", "a. Training Set"),
    ("test", "b. IDRiD_Testing Set Labels.csv", "b. Testing Set"),
)


def grading_folder(root: Path) -> Path | None:
    """The folder holding "2. Groundtruths", searched at the places people extract the zip to."""
    for folder in (root, root / GRADING, root / GRADING / GRADING):
        if (folder / "2. Groundtruths").is_dir():
            return folder
    return None


def detect(root: Path) -> bool:
    return grading_folder(root) is not None


def load(root: Path) -> LoadedRecords:
    folder = grading_folder(root.absolute())
    if folder is None:
        raise FileNotFoundError(f"{root}: no '{GRADING}/2. Groundtruths' folder")
    records = LoadedRecords(SOURCE)
    found_labels = False
    for hint, labels, images in _PARTS:
        path = folder / "2. Groundtruths" / labels
        if path.is_file():
            found_labels = True
            _load_part(path, ImageIndex(folder / "1. Original Images" / images), hint, records)
    if not found_labels:
        raise FileNotFoundError(f"{folder / '2. Groundtruths'}: neither {_PARTS[0][1]!r} nor {_PARTS[1][1]!r}")
    return report(records)


def _load_part(labels: Path, images: ImageIndex, hint: str, records: LoadedRecords) -> None:
    table = read_table(labels)
    name_col = table.column("Image name")
    dr_col = table.column("Retinopathy grade")
    dme_col = table.column("Risk of macular edema")
    for row, cells in table:
        where = table.where(row)
        name = text(cell(cells, name_col))
        if not name:
            raise ValueError(f"{where}: column 'Image name' is empty")
        dr = parse_grade(cell(cells, dr_col), DR_GRADES, where=where, column="Retinopathy grade")
        dme = parse_grade(cell(cells, dme_col), DME_GRADES, where=where, column="Risk of macular edema")
        path = images.find(name)
        if path is None:
            records.skip(where, f"no image {name}.jpg in {images.folder}")
            continue
        patient = f"{hint}/{Path(name).stem}"
        records.add(Record(path, dr, dme, patient, Eye.UNKNOWN, SOURCE, split_hint=hint), where)
