"""PDF screening reports: one per patient and a batch summary, optionally as DICOM Encapsulated PDF.

    context = ReportContext.for_model(loaded, clinic_name="Eye Clinic", grader="A. Grader")
    written = export_patient_reports(group_by_patient(records), folder, context, dicom=True)
    summary = export_batch_summary(groups, folder, context)

Built with reportlab; imports no Qt, and torch only when a Grad-CAM overlay is drawn. Safe to call from a worker
thread (model use holds LoadedModel.lock).
"""

from .batch_summary import build_batch_summary
from .context import ReportContext
from .counts import BatchCounts, batch_counts
from .dicom_pdf import ENCAPSULATED_PDF_STORAGE, dicom_problem, encapsulated_pdf, encapsulated_pdf_bytes
from .errors import ReportError, ReportWriteError
from .export import (
    WrittenReport,
    batch_summary_file_name,
    export_batch_summary,
    export_patient_reports,
    report_file_name,
)
from .files import safe_file_name
from .patient_report import build_patient_report

__all__ = [
    "ENCAPSULATED_PDF_STORAGE",
    "BatchCounts",
    "ReportContext",
    "ReportError",
    "ReportWriteError",
    "WrittenReport",
    "batch_counts",
    "batch_summary_file_name",
    "build_batch_summary",
    "build_patient_report",
    "dicom_problem",
    "encapsulated_pdf",
    "encapsulated_pdf_bytes",
    "export_batch_summary",
    "export_patient_reports",
    "report_file_name",
    "safe_file_name",
]
