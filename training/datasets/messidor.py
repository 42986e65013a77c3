"""Messidor (the original 1,200 images) and Messidor-2 with Krause et al.'s adjudicated grades.

Original Messidor, as distributed (one zip per base, 12 bases of 100 images from three departments):

    root/
        Base11/ Annotation_Base11.xls  20051019_38557_0100_PP.tif ...
        ...     (Base11-14 Lariboisiere, Base21-24 CHU St Etienne, Base31-34 LaTIM Brest)
        Base34/ Annotation_Base34.xls  ...

    Annotation_BaseNN.xls, first sheet:
        Image name | Ophthalmologic department | Retinopathy grade | Risk of macular edema     (trailing space)

Annotation files are found by name up to two folders under root ("Annotation*" .xls, .xlsx or a .csv export;
when one base has several formats the .xls wins) and images by name anywhere under root (or under `images`), so
bases extracted flat into one folder work too. Messidor names no patients (some bases hold both eyes of a person,
unmarked), so each image is its own patient, and the eye is unknown.

Messidor's DR scale is its own, defined by lesion counts (MA microaneurysms, H haemorrhages, NV neovessels):
    0: MA = 0 and H = 0                           -> ICDR 0 (no DR)
    1: 0 < MA <= 5 and H = 0                      -> ICDR 1 (mild: microaneurysms only)
    2: 5 < MA < 15 or 0 < H < 5, and NV = 0       -> ICDR 2 (moderate)
    3: MA >= 15 or H >= 5 or NV = 1               -> ICDR 3, standing for "3 or 4"
The numbers are kept, but the mapping is approximate beyond grade 0: Messidor grade 3 lumps severe NPDR with PDR
(Messidor cannot tell ICDR 3 from 4), and eyes with many microaneurysms but no haemorrhage are Messidor 2-3 where
ICDR would say mild. "No DR" vs "any DR" agrees on both scales. Records say `dr_scale="messidor"` so training can
treat `dr` 3 as "3 or 4" (the paper uses Messidor only for 2-class tasks). DME is the 0-2 risk of macular edema
(0 no exudates, 1 exudates more than one papilla diameter from the macula, 2 within one), as in IDRiD.

Messidor-2 (874 examinations, 1,748 images; ADCIS ships the images, Kaggle "messidor2-dr-grades" the labels):

    root/
        messidor_data.csv   image_id,adjudicated_dr_grade,adjudicated_dme,adjudicated_gradable
                            (the "messidor2preprocess" copy names them id_code,diagnosis,... : both accepted)
        messidor-2.csv      optional, from ADCIS: the two images of each examination, ';'-separated (left;right)
        IMAGES/ 20051020_43808_0100_PP.tif, IM002385.JPG ...   or messidor-2/preprocess/*.png: found by stem

DR is ICDR 0-4 (adjudicated). The DME label is binary "referable DME" (hard exudates within one disc diameter of
the fovea), which is grade 2 of the 0-2 risk scale: it becomes `dme` 2, and 0 stays 0 although it may hide a
grade-1 eye; records say `dme_scale="referable"`. Ungradable images are skipped with a warning. With the pairing
file both eyes of an examination share a patient id (the first image's stem) and the eye comes from the column
header when it names left/right; without it each image is its own patient.
"""

from __future__ import annotations

from pathlib import Path

from ran_desktop.engine.imaging.loading.types import Eye
from training.datasets.adapters import (
    IMAGE_SUFFIXES,
    ImageIndex,
    Table,
    cell,
    normalise_header,
    read_grid,
    read_table,
    report,
    text,
)
from training.datasets.records import DME_GRADES, LoadedRecords, Record, parse_grade

SOURCE = "messidor"
SOURCE_2 = "messidor2"
GRADES_2 = "messidor_data.csv"
PAIRS_2 = "messidor-2.csv"

MESSIDOR_DR_GRADES = range(0, 4)
MESSIDOR_TO_ICDR = {0: 0, 1: 1, 2: 2, 3: 3}  # 3 = "severe NPDR or PDR": see the module docstring
REFERABLE_DME_TO_RISK = {0: 0, 1: 2}

_TABLE_SUFFIXES = (".xls", ".xlsx", ".csv")  # preference when a base has its annotation in several formats


def annotation_files(root: Path) -> list[Path]:
    """One annotation table per base: Annotation*.xls / .xlsx / .csv in root or up to two folders down
    (root/Base11/, root/Messidor/Base11/); not deeper, so detecting a layout never walks a whole disk."""
    chosen: dict[str, Path] = {}
    found = (p for pattern in ("*", "*/*", "*/*/*") for p in root.glob(pattern))
    candidates = (p for p in found if p.suffix.casefold() in _TABLE_SUFFIXES and p.is_file())
    for path in sorted(candidates, key=lambda p: (_TABLE_SUFFIXES.index(p.suffix.casefold()), str(p))):
        if path.name.casefold().startswith("annotation"):
            chosen.setdefault(str(path.with_suffix("")).casefold(), path)
    return sorted(chosen.values())


def _near(root: Path, name: str) -> Path | None:
    """`name` in root or one folder down (the Kaggle copies nest one level)."""
    for path in (root / name, *sorted(root.glob(f"*/{name}"))):
        if path.is_file():
            return path
    return None


def detect(root: Path) -> bool:
    return _near(root, GRADES_2) is not None or _near(root, PAIRS_2) is not None or bool(annotation_files(root))


def load(root: Path, *, images: Path | str | None = None, variant: str = "auto") -> LoadedRecords:
    """`variant`: "original", "messidor2" or "auto" (Messidor-2 when messidor_data.csv is there)."""
    root = root.absolute()
    image_root = root / images if images is not None else root
    if variant not in ("auto", "original", "messidor2"):
        raise ValueError(f"variant must be 'auto', 'original' or 'messidor2', got {variant!r}")
    grades_2, pairs_2 = _near(root, GRADES_2), _near(root, PAIRS_2)
    if variant == "auto":  # ADCIS's pairing file alone still means Messidor-2: say where its grades come from
        only_pairs = pairs_2 is not None and not annotation_files(root)
        variant = "messidor2" if grades_2 is not None or only_pairs else "original"
    if variant == "messidor2":
        if grades_2 is None:
            raise FileNotFoundError(
                f"{root}: no {GRADES_2}; ADCIS ships Messidor-2 without grades, which come from Kaggle's "
                "'messidor2-dr-grades' (Krause et al. 2018)"
            )
        return load_messidor2(grades_2, ImageIndex(image_root, recursive=True), pairs_2)
    tables = annotation_files(root)
    if not tables:
        raise FileNotFoundError(f"{root}: no Annotation_BaseNN.xls (or .xlsx/.csv) found")
    index = ImageIndex(image_root, recursive=True)
    records = LoadedRecords(SOURCE)
    for path in tables:
        _load_base(read_table(path), index, records)
    return report(records)


def _load_base(table: Table, images: ImageIndex, records: LoadedRecords) -> None:
    name_col = table.column("Image name")
    dr_col = table.column("Retinopathy grade")
    dme_col = table.column("Risk of macular edema")
    for row, cells in table:
        where = table.where(row)
        name = text(cell(cells, name_col))
        if not name:
            raise ValueError(f"{where}: column 'Image name' is empty")
        raw = parse_grade(cell(cells, dr_col), MESSIDOR_DR_GRADES, where=where, column="Retinopathy grade")
        dme = parse_grade(cell(cells, dme_col), DME_GRADES, where=where, column="Risk of macular edema")
        path = images.find(name)
        if path is None:
            records.skip(where, f"no image {name} under {images.folder}")
            continue
        dr = MESSIDOR_TO_ICDR[raw] if raw is not None else None
        records.add(Record(path, dr, dme, Path(name).stem, Eye.UNKNOWN, SOURCE, dr_scale="messidor"), where)


def load_messidor2(grades: Path, images: ImageIndex, pairs: Path | None) -> LoadedRecords:
    table = read_table(grades)
    name_col = table.column("image_id", "id_code")
    dr_col = table.column("adjudicated_dr_grade", "diagnosis")
    dme_col = table.find("adjudicated_dme")
    gradable_col = table.find("adjudicated_gradable")
    exams = read_pairs(pairs) if pairs is not None else {}
    records = LoadedRecords(SOURCE_2)
    for row, cells in table:
        where = table.where(row)
        name = text(cell(cells, name_col))
        if not name:
            raise ValueError(f"{where}: column 'image_id' is empty")
        gradable = parse_grade(cell(cells, gradable_col), range(2), where=where, column="adjudicated_gradable",
                               required=False)
        if gradable == 0:
            records.skip(where, f"{name} is ungradable")
            continue
        dr = parse_grade(cell(cells, dr_col), range(5), where=where, column="adjudicated_dr_grade")
        referable = parse_grade(cell(cells, dme_col), range(2), where=where, column="adjudicated_dme",
                                required=False)
        path = images.find(name)
        if path is None:
            records.skip(where, f"no image {Path(name).stem}.* under {images.folder}")
            continue
        patient, eye = exams.get(Path(name).stem.casefold(), (Path(name).stem, Eye.UNKNOWN))
        dme = REFERABLE_DME_TO_RISK[referable] if referable is not None else None
        records.add(Record(path, dr, dme, patient, eye, SOURCE_2, dme_scale="referable"), where)
    return report(records)


def read_pairs(path: Path) -> dict[str, tuple[str, Eye]]:
    """Image stem (case-folded) -> (examination id, eye) from the ADCIS pairing file.

    Tolerant of its exact shape: every row's cells that look like image file names form one examination; a header
    row (one without image names) whose cells say "left"/"right" gives each column's eye.
    """
    eyes: dict[int, Eye] = {}
    exams: dict[str, tuple[str, Eye]] = {}
    for cells in read_grid(path):
        names = [(i, text(c)) for i, c in enumerate(cells) if Path(text(c)).suffix.casefold() in IMAGE_SUFFIXES]
        if not names:
            for i, c in enumerate(cells):
                header = normalise_header(c)
                eye = Eye.LEFT if "left" in header else Eye.RIGHT if "right" in header else None
                if eye is not None:
                    eyes[i] = eye
            continue
        exam = Path(names[0][1]).stem
        for i, name in names:
            exams[Path(name).stem.casefold()] = (exam, eyes.get(i, Eye.UNKNOWN))
    return exams
