"""EyePACS, the Kaggle 2015 "Diabetic Retinopathy Detection" competition, as Kaggle distributes it.

    root/
        trainLabels.csv            image,level          e.g. 10_left,0   (35,126 rows)
        train/10_left.jpeg         (train.zip.001-005 extracted)
        retinopathy_solution.csv   image,level,Usage    optional: the test labels released after the competition
        test/1_left.jpeg           optional

DR is ICDR 0-4 ("level"); there is no DME label, so `dme` is None. The number before "_" is the patient: both eyes
of a patient share it, and train and test patients are different people. Images are looked up by stem, so a copy
re-encoded to .jpg or .png (common for resized versions) is found too; `train_images` / `test_images` name other
folders. Rows whose image is missing are skipped with a warning: people often extract only part of the archive.
"""

from __future__ import annotations

from pathlib import Path

from ran_desktop.engine.imaging.loading.types import Eye
from training.datasets.adapters import ImageIndex, cell, read_table, report, text
from training.datasets.records import DR_GRADES, LoadedRecords, Record, parse_grade

SOURCE = "eyepacs"
TRAIN_LABELS = "trainLabels.csv"
TEST_LABELS = "retinopathy_solution.csv"

_EYES = {"left": Eye.LEFT, "right": Eye.RIGHT}


def detect(root: Path) -> bool:
    return (root / TRAIN_LABELS).is_file() or (root / TEST_LABELS).is_file()


def load(root: Path, *, train_images: str = "train", test_images: str = "test", include_test: bool = True
         ) -> LoadedRecords:
    root = root.absolute()
    records = LoadedRecords(SOURCE)
    parts = [(TRAIN_LABELS, train_images, "train")]
    if include_test:
        parts.append((TEST_LABELS, test_images, "test"))
    if not any((root / labels).is_file() for labels, _, _ in parts):
        raise FileNotFoundError(f"{root}: neither {TRAIN_LABELS} nor {TEST_LABELS} found")
    for labels, folder, hint in parts:
        if (root / labels).is_file():
            _load_part(root / labels, root / folder, hint, records)
    return report(records)


def _load_part(labels: Path, folder: Path, hint: str, records: LoadedRecords) -> None:
    table = read_table(labels)
    image_col, level_col = table.column("image"), table.column("level")
    if not folder.is_dir():
        records.warnings.append(f"{labels.name}: image folder {folder} is missing; all {len(table.rows)} rows skipped")
        return
    images = ImageIndex(folder)
    for row, cells in table:
        where = table.where(row)
        name = text(cell(cells, image_col))
        patient, _, side = name.rpartition("_")
        if not patient or side.casefold() not in _EYES:
            raise ValueError(f"{where}: image {name!r} is not '<patient>_left' or '<patient>_right'")
        dr = parse_grade(cell(cells, level_col), DR_GRADES, where=where, column="level")
        path = images.find(name)
        if path is None:
            records.skip(where, f"no image {name} in {folder}")
            continue
        records.add(Record(path, dr, None, patient, _EYES[side.casefold()], SOURCE, split_hint=hint), where)
