"""Reports as DICOM Encapsulated PDF: the PDF byte for byte, the patient's identifiers right, a valid Part 10 file."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pydicom
import pytest
from pypdf import PdfReader
from report_fixtures import Batch, batch_fixture, pdf_text, with_identity  # noqa: F401 (fixtures)

from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.reports import ENCAPSULATED_PDF_STORAGE, ReportContext, dicom_problem, export_patient_reports
from ran_desktop.reports.dicom_pdf import person_name

WHEN = datetime(2024, 1, 17, 9, 30, 12, tzinfo=UTC)


def context(batch: Batch) -> ReportContext:
    return ReportContext.for_model(batch.loaded, clinic_name="Eye Clinic North", generated_at=WHEN)


def test_encapsulated_pdf_reads_back_with_the_pdf_intact_and_the_patient_right(batch: Batch, tmp_path: Path) -> None:
    (report,) = export_patient_reports([batch.group("id:P-0042")], tmp_path, context(batch), dicom=True)
    assert report.dicom_path == tmp_path / "DR-report_P-0042_20240117.dcm"
    ds = pydicom.dcmread(report.dicom_path)
    assert ds.file_meta.MediaStorageSOPClassUID == ENCAPSULATED_PDF_STORAGE == "1.2.840.10008.5.1.4.1.1.104.1"
    assert ds.SOPClassUID == ENCAPSULATED_PDF_STORAGE
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.Modality == "DOC"
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds.PatientID == "P-0042"
    assert str(ds.PatientName) == "Ødegård^Åse"
    assert ds.PatientName.family_name == "Ødegård" and ds.PatientName.given_name == "Åse"
    assert ds.PatientBirthDate == "19600131" and ds.PatientSex == "F"
    assert ds.StudyDate == "20240115"  # the exam's date, as the images carried it
    assert ds.ContentDate == "20240117" and ds.ContentTime == "093012"
    assert ds.InstitutionName == "Eye Clinic North"
    pdf = report.path.read_bytes()
    assert ds.EncapsulatedDocumentLength == len(pdf)
    assert bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength] == pdf
    assert len(ds.EncapsulatedDocument) % 2 == 0
    assert "P-0042" in pdf_text(bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength])


def test_names_in_other_scripts_survive_in_the_dicom_header(batch: Batch, tmp_path: Path) -> None:
    (report,) = export_patient_reports([batch.group("id:P-0043")], tmp_path, context(batch), dicom=True)
    assert report.dicom_path is not None
    ds = pydicom.dcmread(report.dicom_path)
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == "Иванова^Мария"
    assert len(PdfReader(io.BytesIO(report.path.read_bytes())).pages) >= 1


def test_patients_without_an_id_get_no_dicom_copy_and_are_told_why(batch: Batch, tmp_path: Path) -> None:
    walkin = next(g for g in batch.groups if g.records[0].result.path.name == "walkin_OS.jpg")
    (report,) = export_patient_reports([walkin], tmp_path, context(batch), dicom=True)
    assert report.dicom_path is None
    assert any("No DICOM copy: no patient ID" in note for note in report.notes)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".pdf"]


def test_identifiers_dicom_cannot_hold_are_refused_not_truncated(batch: Batch) -> None:
    letter = batch.record("letter.jpg")
    too_long = group_by_patient([with_identity(letter, "9" * 65, "Doe, Jane")])[0]
    backslash = group_by_patient([with_identity(letter, "A\\B", "Doe, Jane")])[0]
    fine = group_by_patient([with_identity(letter, "9" * 64, "Doe, Jane")])[0]
    assert "longer than the 64 characters" in (dicom_problem(too_long) or "")
    assert "backslash" in (dicom_problem(backslash) or "")
    assert dicom_problem(fine) is None


def test_display_names_go_back_to_dicom_person_names() -> None:
    assert person_name("Doe, Jane") == "Doe^Jane"
    assert person_name("Doe, Jane Mary") == "Doe^Jane Mary"
    assert person_name("山田太郎") == "山田太郎"
    assert person_name("Smith^John") == "Smith^John"


def test_an_existing_dicom_file_is_not_overwritten(batch: Batch, tmp_path: Path) -> None:
    existing = tmp_path / "DR-report_P-0043_20240117.dcm"
    existing.write_bytes(b"DICM from yesterday")
    (report,) = export_patient_reports([batch.group("id:P-0043")], tmp_path, context(batch), dicom=True)
    assert existing.read_bytes() == b"DICM from yesterday"
    assert report.dicom_path == tmp_path / "DR-report_P-0043_20240117-2.dcm"
    assert any("already existed" in note for note in report.notes)
    assert report.path.name == "DR-report_P-0043_20240117.pdf"


def test_dicom_validator_finds_no_errors(batch: Batch, tmp_path: Path) -> None:
    """dciodvfy (Debian's dicom3tools) checks the object against the Encapsulated PDF IOD."""
    validator = shutil.which("dciodvfy")
    if validator is None:
        pytest.skip("dciodvfy is not installed (apt-get install dicom3tools)")
    (report,) = export_patient_reports([batch.group("id:P-0042")], tmp_path, context(batch), dicom=True)
    assert report.dicom_path is not None
    done = subprocess.run([validator, str(report.dicom_path)], capture_output=True, text=True)
    output = done.stdout + done.stderr
    assert "EncapsulatedPDF" in output
    assert "Error" not in output, output
