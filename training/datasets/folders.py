"""A folder per DR grade, the layout image-classification tools export:

    root/
        0/ a.jpg b_left.png ...      (sub-folders are searched too)
        1/ ...
        ...
        4/ ...

DR only (`dme` None). Folders whose name is not a number are ignored (e.g. "__MACOSX"); a numbered folder outside
0-4 is an error, since it clearly meant a grade. No patient ids: each image is its own patient, its id the path
relative to root. The eye comes from the file name (OD/OS, left/right, L/R tokens) when it says.
"""

from __future__ import annotations

from pathlib import Path

from ran_desktop.engine.imaging.loading.laterality import laterality_from_filename
from training.datasets.adapters import image_files, report
from training.datasets.records import DR_GRADES, LoadedRecords, Record

SOURCE = "folders"


def grade_folders(root: Path) -> list[tuple[int, Path]]:
    """(grade, folder) for every numbered sub-folder; ValueError for a number outside 0-4."""
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isascii() and p.name.isdigit()):
        if int(folder.name) not in DR_GRADES:
            raise ValueError(f"{folder}: a grade folder must be named 0-4, not {folder.name!r}")
        found.append((int(folder.name), folder))
    return found


def detect(root: Path) -> bool:
    try:
        return bool(grade_folders(root))
    except ValueError:
        return False


def load(root: Path, *, source: str = SOURCE) -> LoadedRecords:
    root = root.absolute()
    folders = grade_folders(root)
    if not folders:
        raise FileNotFoundError(f"{root}: no grade folders 0/ ... 4/")
    records = LoadedRecords(source)
    for grade, folder in folders:
        before = len(records)
        for path in sorted(image_files(folder, recursive=True)):
            image_id = path.relative_to(root).as_posix()
            records.add(Record(path, grade, None, image_id, laterality_from_filename(path.name), source), image_id)
        if len(records) == before:
            records.warnings.append(f"{folder}: no images")
    return report(records)
