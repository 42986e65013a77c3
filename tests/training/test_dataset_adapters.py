"""Each public dataset adapter on a tiny tree built in the dataset's distributed layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ran_desktop.engine.imaging.loading.types import Eye
from training.datasets import KINDS, Record, detect_dataset, load_dataset


def image(path: Path, shade: int = 90) -> Path:
    """A tiny real image; PIL picks JPEG / PNG / TIFF from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 4), (shade, shade // 2, 20)).save(path)
    return path


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def by_name(records: list[Record]) -> dict[str, Record]:
    return {r.image.name: r for r in records}


# --- EyePACS -------------------------------------------------------------------------------------------------


def eyepacs_tree(root: Path) -> Path:
    write(root / "trainLabels.csv", "image,level\n10_left,0\n10_right,1\n13_left,4\n15_left,2\n")
    for name in ("10_left", "10_right", "13_left"):  # 15_left was not extracted
        image(root / "train" / f"{name}.jpeg")
    write(root / "retinopathy_solution.csv", "image,level,Usage\n1_left,3,Public\n1_right,2,Private\n")
    image(root / "test" / "1_left.jpeg")
    image(root / "test" / "1_right.jpeg")
    return root


def test_eyepacs_reads_train_and_released_test_labels(tmp_path):
    records = load_dataset("eyepacs", eyepacs_tree(tmp_path))
    got = by_name(records)
    assert sorted(got) == ["10_left.jpeg", "10_right.jpeg", "13_left.jpeg", "1_left.jpeg", "1_right.jpeg"]
    left, right = got["10_left.jpeg"], got["10_right.jpeg"]
    assert (left.dr, left.eye, left.patient) == (0, Eye.LEFT, "10")
    assert (right.dr, right.eye, right.patient) == (1, Eye.RIGHT, "10")
    assert got["13_left.jpeg"].dr == 4
    assert all(r.dme is None and r.source == "eyepacs" and r.image.is_absolute() for r in records)
    assert {r.split_hint for r in records if r.image.parent.name == "test"} == {"test"}
    assert got["1_right.jpeg"].dr == 2 and left.split_hint == "train"
    assert len(records.warnings) == 1 and "15_left" in records.warnings[0] and "row 5" in records.warnings[0]


def test_eyepacs_without_its_image_folder_warns_instead_of_crashing(tmp_path):
    write(tmp_path / "trainLabels.csv", "image,level\n10_left,0\n")
    records = load_dataset("eyepacs", tmp_path)
    assert list(records) == [] and "train" in records.warnings[0]


@pytest.mark.parametrize("level", ["5", "1.5", "x", ""])
def test_eyepacs_bad_level_names_file_row_and_value(tmp_path, level):
    write(tmp_path / "trainLabels.csv", f"image,level\n10_left,0\n10_right,{level}\n")
    image(tmp_path / "train" / "10_left.jpeg")
    with pytest.raises(ValueError, match=rf"trainLabels\.csv, row 3: column 'level' (holds '{level}'|is empty)"):
        load_dataset("eyepacs", tmp_path)


# --- APTOS ---------------------------------------------------------------------------------------------------


def test_aptos_has_no_dme_and_one_patient_per_image(tmp_path):
    write(tmp_path / "train.csv", "id_code,diagnosis\n000c1434d8d7,2\n001639a390f0,4\n0024cdab0c1e,1\n")
    image(tmp_path / "train_images" / "000c1434d8d7.png")
    image(tmp_path / "train_images" / "001639a390f0.png")
    write(tmp_path / "test.csv", "id_code\n0005cfc8afb6\n")  # unlabelled test set: not read
    image(tmp_path / "test_images" / "0005cfc8afb6.png")
    records = load_dataset("aptos", tmp_path)
    assert [(r.image.name, r.dr, r.dme, r.patient, r.eye) for r in records] == [
        ("000c1434d8d7.png", 2, None, "000c1434d8d7", Eye.UNKNOWN),
        ("001639a390f0.png", 4, None, "001639a390f0", Eye.UNKNOWN),
    ]
    assert "0024cdab0c1e" in records.warnings[0]


# --- Messidor ------------------------------------------------------------------------------------------------

MESSIDOR_HEADER = ["Image name", "Ophthalmologic department", "Retinopathy grade", "Risk of macular edema "]
MESSIDOR_ROWS = [
    ["20051019_38557_0100_PP.tif", "Service Ophtalmologie Lariboisière", 0, 0],
    ["20051019_38558_0100_PP.tif", "Service Ophtalmologie Lariboisière", 3, 2],
    ["20051020_43808_0100_PP.tif", "Service Ophtalmologie Lariboisière", 1, 1],
]


def messidor_images(base: Path) -> None:
    for name, *_ in MESSIDOR_ROWS:
        image(base / name)


def check_messidor(records: list[Record]) -> None:
    got = by_name(records)
    assert [(got[n].dr, got[n].dme) for n, *_ in MESSIDOR_ROWS] == [(0, 0), (3, 2), (1, 1)]
    assert all(r.dr_scale == "messidor" and r.eye == Eye.UNKNOWN and r.source == "messidor" for r in records)
    assert got["20051019_38558_0100_PP.tif"].patient == "20051019_38558_0100_PP"


def test_messidor_reads_the_distributed_xls(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    pytest.importorskip("xlrd")
    base = tmp_path / "Base11"
    book = xlwt.Workbook()
    sheet = book.add_sheet("Feuil1")
    for r, row in enumerate([MESSIDOR_HEADER, *MESSIDOR_ROWS]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    base.mkdir()
    book.save(str(base / "Annotation_Base11.xls"))
    messidor_images(base)
    records = load_dataset("messidor", tmp_path)
    check_messidor(records)
    assert detect_dataset(tmp_path) == "messidor"


def test_messidor_reads_xlsx_and_skips_missing_images(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in [MESSIDOR_HEADER, *MESSIDOR_ROWS, ["20051020_99999_0100_PP.tif", "x", 2, 0]]:
        book.active.append(row)
    (tmp_path / "Base12").mkdir()
    book.save(tmp_path / "Base12" / "Annotation_Base12.xlsx")
    messidor_images(tmp_path / "Base12")
    records = load_dataset("messidor", tmp_path)
    check_messidor(records)
    assert len(records) == 3 and "row 5" in records.warnings[0] and "20051020_99999_0100_PP" in records.warnings[0]


def csv_rows(rows: list[list[object]], sep: str = ",") -> str:
    return "".join(sep.join(str(v) for v in row) + "\n" for row in rows)


def test_messidor_reads_a_french_excel_csv_export_with_images_elsewhere(tmp_path):
    # cp1252 and ';' as a French Excel writes them; the first row repeated, as a few Messidor rows are.
    table = csv_rows([MESSIDOR_HEADER, *MESSIDOR_ROWS, MESSIDOR_ROWS[0]], ";")
    (tmp_path / "Base13").mkdir()
    (tmp_path / "Base13" / "Annotation_Base13.csv").write_bytes(table.encode("cp1252"))
    messidor_images(tmp_path / "all images")
    records = load_dataset("messidor", tmp_path)
    check_messidor(records)
    assert len(records) == 3 and "row 5" in records.warnings[0] and "listed again" in records.warnings[0]


def test_messidor_grade_4_does_not_exist_on_its_scale(tmp_path):
    rows = [MESSIDOR_HEADER, MESSIDOR_ROWS[0], ["20051019_38558_0100_PP.tif", "x", 4, 0]]
    write(tmp_path / "Base14" / "Annotation_Base14.csv", csv_rows(rows))
    messidor_images(tmp_path / "Base14")
    with pytest.raises(ValueError, match=r"Annotation_Base14\.csv, row 3: column 'Retinopathy grade' holds '4'"):
        load_dataset("messidor", tmp_path)


def test_messidor2_pairs_eyes_and_maps_referable_dme(tmp_path):
    write(tmp_path / "messidor_data.csv", csv_rows([
        ["image_id", "adjudicated_dr_grade", "adjudicated_dme", "adjudicated_gradable"],
        ["20051020_43808_0100_PP.tif", 2, 1, 1],
        ["20051020_43832_0100_PP.tif", 0, 0, 1],
        ["IM002385.JPG", "", "", 0],
        ["IM002386.JPG", 4, 0, 1],  # image missing
        ["IM003000.JPG", 1, 0, 1],
    ]))
    write(tmp_path / "messidor-2.csv", "left;right\n20051020_43808_0100_PP.tif;20051020_43832_0100_PP.tif\n")
    for stem in ("20051020_43808_0100_PP", "20051020_43832_0100_PP", "IM002385", "IM003000"):
        image(tmp_path / "messidor-2" / "preprocess" / f"{stem}.png")
    records = load_dataset("messidor", tmp_path)
    got = {r.image.stem: r for r in records}
    assert sorted(got) == ["20051020_43808_0100_PP", "20051020_43832_0100_PP", "IM003000"]
    first, second = got["20051020_43808_0100_PP"], got["20051020_43832_0100_PP"]
    assert (first.dr, first.dme, first.eye) == (2, 2, Eye.LEFT)
    assert (second.dr, second.dme, second.eye) == (0, 0, Eye.RIGHT)
    assert first.patient == second.patient != got["IM003000"].patient
    assert all(r.source == "messidor2" and r.dme_scale == "referable" and r.dr_scale == "icdr" for r in records)
    assert len(records.warnings) == 2 and "ungradable" in records.warnings[0] and "IM002386" in records.warnings[1]
    assert detect_dataset(tmp_path) == "messidor"


def test_messidor2_without_its_grades_says_where_they_come_from(tmp_path):
    write(tmp_path / "messidor-2.csv", "left;right\na.tif;b.tif\n")
    image(tmp_path / "IMAGES" / "a.tif")
    assert detect_dataset(tmp_path) == "messidor"
    with pytest.raises(FileNotFoundError, match="messidor_data.csv.*messidor2-dr-grades"):
        load_dataset("messidor", tmp_path)
    # Both layouts in one folder: Messidor-2 unless the original is asked for.
    write(tmp_path / "Base11" / "Annotation_Base11.csv", csv_rows([MESSIDOR_HEADER, ["a.tif", "x", 1, 0]]))
    write(tmp_path / "messidor_data.csv", "image_id,adjudicated_dr_grade,adjudicated_dme\na.tif,4,1\n")
    [second] = load_dataset("messidor", tmp_path)
    [original] = load_dataset("messidor", tmp_path, variant="original")
    assert (second.source, second.dr, original.source, original.dr) == ("messidor2", 4, "messidor", 1)


def test_messidor2_preprocess_copy_column_names(tmp_path):
    write(tmp_path / "messidor_data.csv", "id_code,diagnosis,adjudicated_dme,adjudicated_gradable\n"
                                          "20051020_43808_0100_PP.png,3,0,1\n")
    image(tmp_path / "messidor-2" / "messidor-2" / "preprocess" / "20051020_43808_0100_PP.png")
    [record] = load_dataset("messidor", tmp_path)
    assert (record.dr, record.dme, record.patient) == (3, 0, "20051020_43808_0100_PP")


# --- IDRiD ---------------------------------------------------------------------------------------------------

IDRID_HEADER = "Image name,Retinopathy grade,Risk of macular edema ,,,,,,,,\n"


def idrid_tree(parent: Path) -> Path:
    grading = parent / "B. Disease Grading"
    truths = grading / "2. Groundtruths"
    train_rows = "IDRiD_001,3,2,,,,,,,,\nIDRiD_002,0,0,,,,,,,,\n,,,\n"  # trailing empty cells and rows, as shipped
    write(truths / "a. IDRiD_Training Set Labels.csv", IDRID_HEADER + train_rows)
    write(truths / "b. IDRiD_Testing Set Labels.csv", IDRID_HEADER + "IDRiD_001,4,1,,,,,,,,\n")
    for split, names in (("a. Training Set", ("IDRiD_001", "IDRiD_002")), ("b. Testing Set", ("IDRiD_001",))):
        for name in names:
            image(grading / "1. Original Images" / split / f"{name}.jpg")
    return grading


def test_idrid_keeps_the_published_split_and_separates_reused_names(tmp_path):
    grading = idrid_tree(tmp_path)
    records = load_dataset("idrid", tmp_path)
    assert load_dataset("idrid", grading) == records  # root = the grading folder itself works too
    table = {(r.split_hint, r.image.stem): r for r in records}
    assert sorted(table) == [("test", "IDRiD_001"), ("train", "IDRiD_001"), ("train", "IDRiD_002")]
    train, test = table[("train", "IDRiD_001")], table[("test", "IDRiD_001")]
    assert (train.dr, train.dme, test.dr, test.dme) == (3, 2, 4, 1)
    assert train.patient != test.patient and train.image != test.image
    assert "b. Testing Set" in str(test.image) and records.warnings == []
    assert detect_dataset(tmp_path) == detect_dataset(grading) == "idrid"


def test_idrid_bad_dme_names_the_testing_file_and_row(tmp_path):
    grading = idrid_tree(tmp_path)
    labels = grading / "2. Groundtruths" / "b. IDRiD_Testing Set Labels.csv"
    write(labels, IDRID_HEADER + "IDRiD_001,4,1\nIDRiD_002,2,3\n")
    with pytest.raises(ValueError, match=r"b\. IDRiD_Testing Set Labels\.csv, row 3: .*Risk of macular edema.*'3'"):
        load_dataset("idrid", tmp_path)


# --- A folder per grade ---------------------------------------------------------------------------------------


def test_folders_per_grade(tmp_path):
    image(tmp_path / "0" / "a.jpg")
    image(tmp_path / "2" / "b_left.png")
    image(tmp_path / "4" / "clinic" / "c_OD.tif")
    write(tmp_path / "2" / "notes.txt", "not an image")
    image(tmp_path / "__MACOSX" / "0" / "._a.jpg")
    records = load_dataset("folders", tmp_path)
    assert [(r.patient, r.dr, r.dme, r.eye) for r in records] == [
        ("0/a.jpg", 0, None, Eye.UNKNOWN),
        ("2/b_left.png", 2, None, Eye.LEFT),
        ("4/clinic/c_OD.tif", 4, None, Eye.RIGHT),
    ]
    image(tmp_path / "5" / "d.jpg")
    with pytest.raises(ValueError, match="must be named 0-4, not '5'"):
        load_dataset("folders", tmp_path)


# --- The project's own labels.csv ----------------------------------------------------------------------------


def test_generic_csv(tmp_path):
    write(tmp_path / "labels.csv", "image,dr,dme,patient,eye,quality\n"
                                   "images/p1_a.png,2,1,p1,OD,good\n"
                                   "images/p1_b.png,3,,p1,left,good\n"
                                   "images/p2_R.png,,0,,,poor\n"
                                   "images/gone.png,1,1,p3,L,good\n")
    for name in ("p1_a", "p1_b", "p2_R"):
        image(tmp_path / "images" / f"{name}.png")
    for root in (tmp_path, tmp_path / "labels.csv"):
        records = load_dataset("csv", root, source="synthetic")
        assert [(r.image.name, r.dr, r.dme, r.patient, r.eye) for r in records] == [
            ("p1_a.png", 2, 1, "p1", Eye.RIGHT),
            ("p1_b.png", 3, None, "p1", Eye.LEFT),
            ("p2_R.png", None, 0, "images/p2_R.png", Eye.RIGHT),  # eye from the file name when the cell is empty
        ]
        assert {r.source for r in records} == {"synthetic"} and "gone.png" in records.warnings[0]
    assert detect_dataset(tmp_path) == detect_dataset(tmp_path / "labels.csv") == "csv"


@pytest.mark.parametrize(("row", "message"), [
    ("a.png,2,3,,", r"labels\.csv, row 3: column 'dme' holds '3'"),
    ("a.png,x,0,,", r"labels\.csv, row 3: column 'dr' holds 'x'"),
    ("a.png,2,0,,up", r"labels\.csv, row 3: column 'eye' holds 'up'"),
])
def test_generic_csv_bad_cells_name_the_row(tmp_path, row, message):
    image(tmp_path / "a.png")
    write(tmp_path / "labels.csv", f"image,dr,dme,patient,eye\na.png,0,0,,\n{row}\n")
    with pytest.raises(ValueError, match=message):
        load_dataset("csv", tmp_path)


def test_generic_csv_without_any_label_column_is_refused(tmp_path):
    write(tmp_path / "labels.csv", "image,patient\na.png,p1\n")
    with pytest.raises(ValueError, match="neither a 'dr' nor a 'dme' column"):
        load_dataset("csv", tmp_path)


# --- Registry -------------------------------------------------------------------------------------------------


def test_detect_dataset_recognises_each_layout(tmp_path):
    eyepacs_tree(tmp_path / "eyepacs")
    write(tmp_path / "aptos" / "train.csv", "id_code,diagnosis\n")
    (tmp_path / "aptos" / "train_images").mkdir()
    image(tmp_path / "folders" / "1" / "x.jpg")
    write(tmp_path / "messidor" / "Base21" / "Annotation_Base21.csv", csv_rows([MESSIDOR_HEADER]))
    (tmp_path / "empty").mkdir()
    assert detect_dataset(tmp_path / "eyepacs") == "eyepacs"
    assert detect_dataset(tmp_path / "aptos") == "aptos"
    assert detect_dataset(tmp_path / "folders") == "folders"
    assert detect_dataset(tmp_path / "messidor") == "messidor"
    assert detect_dataset(tmp_path / "empty") is None
    assert detect_dataset(tmp_path / "missing") is None


def test_unknown_kind_lists_the_known_ones(tmp_path):
    known = "known kinds: eyepacs, aptos, messidor, idrid, idrid-seg, folders, csv, session"
    with pytest.raises(ValueError, match=known):
        load_dataset("kaggle", tmp_path)
    assert set(KINDS) == {"eyepacs", "aptos", "messidor", "idrid", "idrid-seg", "folders", "csv", "session"}


def test_record_refuses_grades_outside_their_scale():
    with pytest.raises(ValueError, match="DR grade 5"):
        Record(Path("/x.png").absolute(), 5, None, "p", Eye.UNKNOWN, "t")
    with pytest.raises(ValueError, match="DME grade 3"):
        Record(Path("/x.png").absolute(), 1, 3, "p", Eye.UNKNOWN, "t")
