"""Writing reports: safe names from patient data, never overwriting, atomic files, clear typed errors."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from report_fixtures import Batch, batch_fixture, pdf_text, tmpfs, with_identity  # noqa: F401 (fixtures)

from ran_desktop.engine.records.patient_groups import PatientGroup, group_by_patient
from ran_desktop.reports import (
    ReportContext,
    ReportWriteError,
    build_patient_report,
    export_batch_summary,
    export_patient_reports,
    report_file_name,
    safe_file_name,
)

WHEN = datetime(2024, 1, 17, 9, 30, tzinfo=UTC)
EVIL = ["../../x", "..", ".", "CON", "con.txt", "NUL", "LPT1", "a/b\\c:d*?", "x" * 300, "", "   ", " .hidden",
        "tab\there\nnew", "\u202eevil.exe", "ü" * 200, "<>|\"?*:"]
WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def context(batch: Batch) -> ReportContext:
    return ReportContext.for_model(batch.loaded, generated_at=WHEN)


def assert_valid_name(name: str) -> None:
    assert name and name not in (".", "..")
    assert not (set(name) & WINDOWS_FORBIDDEN)
    assert not any(ord(ch) < 32 or ch == "\u202e" for ch in name)
    assert not name.startswith((".", " ")) and not name.endswith((".", " "))
    assert name.split(".")[0].upper() not in RESERVED
    assert len(name.encode("utf-8")) <= 255


@pytest.mark.parametrize("text", EVIL)
def test_safe_file_name_gives_one_valid_component(text: str) -> None:
    name = safe_file_name(text)
    assert_valid_name(name)
    assert len(name) <= 60 and len(name.encode("utf-8")) <= 120


def test_safe_file_name_keeps_ordinary_ids_and_names_readable() -> None:
    assert safe_file_name("P-0042") == "P-0042"
    assert safe_file_name("Ødegård, Åse") == "Ødegård, Åse"
    assert safe_file_name("山田太郎") == "山田太郎"
    assert safe_file_name("a/b") == "a_b"


def unreadable_patients(batch: Batch, ids: list[str]) -> list[PatientGroup]:
    """Cheap patients for file tests: the unreadable file under each ID (reports without pictures)."""
    letter = batch.record("letter.jpg")
    records = [with_identity(letter, pid, None) for pid in ids]
    records = [replace(r, image_id=i) for i, r in enumerate(records)]
    return group_by_patient(records)


def test_patient_data_cannot_escape_the_folder_or_make_an_invalid_name(batch: Batch, tmp_path: Path) -> None:
    ids = [pid for pid in EVIL if pid.strip()]  # a blank ID is no ID: the app groups such images by file
    groups = unreadable_patients(batch, ids)
    assert len(groups) == len(ids)
    out = tmp_path / "reports"
    written = export_patient_reports(groups, out, context(batch))
    assert len(written) == len(ids)
    assert len({w.path for w in written}) == len(ids)  # names that sanitise alike get "-2", "-3"...
    for report in written:
        assert report.path.parent == out and report.path.resolve().parent == out.resolve()
        assert_valid_name(report.path.name)
        assert report.path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]  # nothing landed beside the folder
    assert sorted(p.name for p in out.iterdir()) == sorted(w.path.name for w in written)


def test_existing_reports_are_never_overwritten(batch: Batch, tmp_path: Path) -> None:
    group = batch.group("id:P-0043")
    ctx = context(batch)
    name = report_file_name(group, ctx)
    assert name == "DR-report_P-0043_20240117.pdf"
    (tmp_path / name).write_bytes(b"a signed report that must survive")
    first = export_patient_reports([group], tmp_path, ctx)[0]
    second = export_patient_reports([group], tmp_path, ctx)[0]
    assert (tmp_path / name).read_bytes() == b"a signed report that must survive"
    assert first.path.name == "DR-report_P-0043_20240117-2.pdf" and first.renamed
    assert second.path.name == "DR-report_P-0043_20240117-3.pdf"
    assert f"{name} already existed; written as {first.path.name}" in first.notes
    assert "Иванова, Мария" in pdf_text(second.path.read_bytes())


def test_batch_summary_takes_a_folder_or_a_file_and_does_not_overwrite(batch: Batch, tmp_path: Path) -> None:
    ctx = context(batch)
    into_folder = export_batch_summary(batch.groups, tmp_path, ctx)
    assert into_folder.path == tmp_path / "DR-batch-summary_20240117-0930.pdf"
    chosen = tmp_path / "clinic" / "january.pdf"
    first = export_batch_summary(batch.groups, chosen, ctx)
    again = export_batch_summary(batch.groups, chosen, ctx)
    assert first.path == chosen and not first.renamed
    assert again.path == tmp_path / "clinic" / "january-2.pdf" and again.renamed
    assert len(PdfReader(io.BytesIO(chosen.read_bytes())).pages) >= 1


def test_no_temporary_files_are_left_after_writing(batch: Batch, tmp_path: Path) -> None:
    export_patient_reports(unreadable_patients(batch, ["A", "B"]), tmp_path, context(batch))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DR-report_A_20240117.pdf", "DR-report_B_20240117.pdf"]


def test_folder_under_a_regular_file_raises_a_clear_error(batch: Batch, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    target = blocker / "reports"
    with pytest.raises(ReportWriteError) as caught:
        export_patient_reports(batch.groups, target, context(batch))
    assert caught.value.folder == target
    assert str(target) in str(caught.value) and "not a folder" in str(caught.value)
    assert blocker.read_text(encoding="utf-8") == "x"


def test_a_file_where_the_folder_should_be_raises_a_clear_error(batch: Batch, tmp_path: Path) -> None:
    target = tmp_path / "reports"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(ReportWriteError, match="it is a file, not a folder"):
        export_batch_summary(batch.groups, target / "summary.pdf", context(batch))


def test_read_only_drive_raises_a_clear_error_and_writes_nothing(batch: Batch, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", 1 << 20, read_only=True) as mount:
        with pytest.raises(ReportWriteError) as caught:
            export_patient_reports(batch.groups[:1], mount, context(batch))
        assert caught.value.folder == mount
        assert "read-only" in str(caught.value) and str(mount) in str(caught.value)
        assert caught.value.written == ()
        assert list(mount.iterdir()) == []


def test_full_disk_keeps_earlier_reports_and_leaves_no_partial_file(batch: Batch, tmp_path: Path) -> None:
    first, second = batch.group("id:P-0042"), batch.group("id:P-0044")
    ctx = context(batch)
    size_first = len(build_patient_report(first, ctx))
    size_second = len(build_patient_report(second, ctx))
    assert size_second > 64 * 1024  # a photograph and its heat map: far more than the space left below
    room = (size_first + 32 * 1024 + 4095) // 4096 * 4096  # the first report fits, the second cannot
    with tmpfs(tmp_path / "small", room) as mount:
        with pytest.raises(ReportWriteError) as caught:
            export_patient_reports([first, second], mount, ctx)
        error = caught.value
        assert "disk is full" in str(error) and str(mount) in str(error)
        assert error.written == (mount / "DR-report_P-0042_20240117.pdf",)
        assert sorted(p.name for p in mount.iterdir()) == ["DR-report_P-0042_20240117.pdf"]  # no .part left
        kept = error.written[0].read_bytes()
        assert "P-0042" in pdf_text(kept)  # complete and readable
        assert os.path.getsize(error.written[0]) == len(kept)


def test_progress_is_reported_and_cancel_stops_between_patients(batch: Batch, tmp_path: Path) -> None:
    groups = unreadable_patients(batch, ["A", "B", "C"])
    seen: list[tuple[int, int]] = []
    written = export_patient_reports(groups, tmp_path / "all", context(batch),
                                     progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)] and len(written) == 3
    stop_after_one = export_patient_reports(groups, tmp_path / "some", context(batch),
                                            cancelled=lambda: len(list((tmp_path / "some").iterdir())) >= 1)
    assert [w.path.name for w in stop_after_one] == ["DR-report_A_20240117.pdf"]
    assert [p.name for p in (tmp_path / "some").iterdir()] == ["DR-report_A_20240117.pdf"]


@pytest.mark.skipif(os.name != "posix", reason="file modes and umask are POSIX")
def test_reports_get_the_folders_usual_permissions_not_private_ones(batch: Batch, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        (report,) = export_patient_reports(unreadable_patients(batch, ["A"]), tmp_path, context(batch))
    finally:
        os.umask(previous)
    assert report.path.stat().st_mode & 0o777 == 0o644  # readable by colleagues, as any saved file would be
