"""APTOS 2019 Blindness Detection (Kaggle), as distributed.

    root/
        train.csv                  id_code,diagnosis    e.g. 000c1434d8d7,2   (3,662 rows)
        train_images/000c1434d8d7.png
        test.csv, test_images/     unlabelled: ignored

DR is ICDR 0-4 ("diagnosis"); no DME label (`dme` None). APTOS publishes neither patient ids nor laterality, so each
image is its own patient and the eye is unknown.
"""

from __future__ import annotations

from pathlib import Path

from ran_desktop.engine.imaging.loading.types import Eye
from training.datasets.adapters import ImageIndex, cell, read_table, report, text
from training.datasets.records import DR_GRADES, LoadedRecords, Record, parse_grade

SOURCE = "aptos"
LABELS = "train.csv"
IMAGES = "train_images"


def detect(root: Path) -> bool:
    return (root / LABELS).is_file() and (root / IMAGES).is_dir()


def load(root: Path, *, images: str = IMAGES) -> LoadedRecords:
    root = root.absolute()
    table = read_table(root / LABELS)
    id_col, grade_col = table.column("id_code"), table.column("diagnosis")
    index = ImageIndex(root / images)
    records = LoadedRecords(SOURCE)
    for row, cells in table:
        where = table.where(row)
        id_code = text(cell(cells, id_col))
        if not id_code:
            raise ValueError(f"{where}: column 'id_code' is empty")
        dr = parse_grade(cell(cells, grade_col), DR_GRADES, where=where, column="diagnosis")
        path = index.find(id_code)
        if path is None:
            records.skip(where, f"no image {id_code}.png in {root / images}")
            continue
        records.add(Record(path, dr, None, id_code, Eye.UNKNOWN, SOURCE), where)
    return report(records)
