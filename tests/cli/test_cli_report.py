"""`ran-screen ... --report DIR`: one PDF per patient (grouped as the app groups them) and the batch summary."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from report_fixtures import pdf_text, tmpfs, write_batch_files

from ran_desktop.cli.screen import EXIT_REPORT_FAILED, EXIT_SOME_FAILED, EXIT_USAGE, main


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-photos")
    write_batch_files(folder)
    return folder


def run(photos: Path, tiny_bundle: Path, out: Path, report: Path) -> int:
    return main([str(photos), "--out", str(out), "--model", str(tiny_bundle), "--report", str(report), "--quiet"])


def test_report_writes_one_pdf_per_patient_and_a_summary(photos: Path, tiny_bundle: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "reports"
    # the letter is not an image: exit 1 as without --report, and its patient still gets a report
    assert run(photos, tiny_bundle, tmp_path / "r.csv", report) == EXIT_SOME_FAILED
    names = sorted(p.name for p in report.iterdir())
    patients = [n for n in names if n.startswith("DR-report_")]
    summaries = [n for n in names if n.startswith("DR-batch-summary_")]
    assert len(summaries) == 1 and len(patients) == 5 and len(names) == 6
    assert any(n.startswith("DR-report_P-0042_") for n in patients)
    # images without a patient ID stand alone, named by their file
    assert any(n.startswith("DR-report_unidentified_walkin_OS_") for n in patients)
    assert any(n.startswith("DR-report_unidentified_letter_") for n in patients)

    p42 = pdf_text(next(report.glob("DR-report_P-0042_*.pdf")).read_bytes())
    assert "Right eye (OD)" in p42 and "Left eye (OS)" in p42 and "Not reviewed" in p42
    assert "UNTRAINED MODEL" in p42
    summary = pdf_text((report / summaries[0]).read_bytes())
    for expected in ("P-0042", "P-0043", "P-0044", "walkin_OS.jpg", "letter.jpg"):
        assert expected in summary
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 6
    assert "5 patient report(s) and the batch summary" in capsys.readouterr().err


def test_a_second_run_never_overwrites_and_says_so(photos: Path, tiny_bundle: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "reports"
    run(photos, tiny_bundle, tmp_path / "r.csv", report)
    before = {p.name: p.read_bytes() for p in report.iterdir()}
    capsys.readouterr()
    run(photos, tiny_bundle, tmp_path / "r.csv", report)
    after = {p.name: p.read_bytes() for p in report.iterdir()}
    assert all(after[name] == data for name, data in before.items())
    new = sorted(set(after) - set(before))
    assert len([n for n in new if n.startswith("DR-report_")]) == 5
    assert all(n.endswith("-2.pdf") for n in new if n.startswith("DR-report_"))
    assert "already existed; written as DR-report_P-0042_" in capsys.readouterr().err


def test_unusable_report_folder_fails_before_screening(photos: Path, tiny_bundle: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    out = tmp_path / "r.csv"
    assert run(photos, tiny_bundle, out, blocker / "reports") == EXIT_USAGE
    err = capsys.readouterr().err
    assert str(blocker / "reports") in err and "not a folder" in err
    assert not out.exists()


def test_report_failure_after_screening_keeps_the_results(photos: Path, tiny_bundle: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.csv"
    with tmpfs(tmp_path / "tiny", 32 * 1024) as mount:
        assert run(photos, tiny_bundle, out, mount) == EXIT_REPORT_FAILED
        assert not [p for p in mount.iterdir() if p.name.endswith(".part")]
    err = capsys.readouterr().err
    assert "disk is full" in err and str(mount) in err
    assert out.is_file()
