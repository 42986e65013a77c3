"""A report as a DICOM Encapsulated PDF (SOP Class 1.2.840.10008.5.1.4.1.1.104.1), for a PACS.

The PDF travels byte for byte; the patient module carries the identifiers the images came with, so the PACS files
the report with the patient. It is its own study: the images' Study Instance UID is not kept after screening.
"""

from __future__ import annotations

import io
from datetime import datetime

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from ran_desktop.engine.records.patient_groups import PatientGroup
from ran_desktop.reports.context import ReportContext

ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
DOCUMENT_TITLE = "Diabetic retinopathy screening report"
_MAX_LO = 64  # Patient ID (LO) and each Patient's Name component group (PN)


def dicom_problem(group: PatientGroup) -> str | None:
    """Why this patient's report cannot be a DICOM object without guessing identifiers; None when it can."""
    if not group.patient_id:
        return "no patient ID: a PACS could not file it with the right patient"
    checks = [("patient ID", group.patient_id), ("patient name", group.patient_name or "")]
    for what, value in checks:
        if "\\" in value or any(ord(ch) < 32 for ch in value):
            return f"the {what} contains characters DICOM does not allow (a backslash or a control character)"
    if len(group.patient_id) > _MAX_LO:
        return f"the patient ID is longer than the {_MAX_LO} characters DICOM allows"
    if len(person_name(group.patient_name or "")) > _MAX_LO:
        return f"the patient name is longer than the {_MAX_LO} characters DICOM allows"
    return None


def person_name(display: str) -> str:
    """The loader's "Family, Given Middle" back into DICOM's "Family^Given Middle"; other names as they are."""
    if "^" in display or ", " not in display:
        return display
    family, given = display.split(", ", 1)
    return f"{family}^{given}"


def _dicom_date(iso: str | None) -> str:
    return iso.replace("-", "") if iso else ""


def encapsulated_pdf(pdf: bytes, group: PatientGroup, context: ReportContext) -> Dataset:
    problem = dicom_problem(group)
    if problem is not None:
        raise ValueError(f"no DICOM copy of this report: {problem}")
    metas = [r.result.metadata for r in group.records if r.result.metadata is not None]
    birth = next((m.birth_date for m in metas if m.birth_date), None)
    sex = next((m.sex for m in metas if m.sex), None)
    study_dates = sorted({m.study_date for m in metas if m.study_date})
    made: datetime = context.generated_at

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: names in any script
    ds.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    ds.SOPInstanceUID = generate_uid()
    # Patient
    ds.PatientName = person_name(group.patient_name or "")
    ds.PatientID = group.patient_id
    ds.PatientBirthDate = _dicom_date(birth)
    ds.PatientSex = sex or ""
    # General Study: one exam date when all images share it, else the day the report was made
    ds.StudyInstanceUID = generate_uid()
    ds.StudyDate = _dicom_date(study_dates[0]) if len(study_dates) == 1 else made.strftime("%Y%m%d")
    ds.StudyTime = made.strftime("%H%M%S") if len(study_dates) != 1 else ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    # Encapsulated Document Series
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 1
    # General Equipment and SC Equipment
    ds.Manufacturer = "RAN Screening"
    ds.SoftwareVersions = context.app_version
    if context.clinic_name:
        ds.InstitutionName = context.clinic_name[:_MAX_LO]
    ds.ConversionType = "WSD"  # made on a workstation
    # Encapsulated Document
    ds.InstanceNumber = 1
    ds.ContentDate = made.strftime("%Y%m%d")
    ds.ContentTime = made.strftime("%H%M%S")
    ds.AcquisitionDateTime = made.strftime("%Y%m%d%H%M%S%z")
    ds.BurnedInAnnotation = "YES"  # the PDF itself names the patient
    ds.DocumentTitle = DOCUMENT_TITLE
    ds.ConceptNameCodeSequence = DicomSequence()
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocumentLength = len(pdf)  # the PDF's own length: the element is padded to an even one
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def encapsulated_pdf_bytes(pdf: bytes, group: PatientGroup, context: ReportContext) -> bytes:
    """The Part 10 file (preamble, file meta, dataset) as bytes, ready to be written atomically."""
    ds = encapsulated_pdf(pdf, group, context)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
