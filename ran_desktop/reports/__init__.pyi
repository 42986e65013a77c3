"""Public entry points, read by lazy_loader at run time and by type checkers."""

from . import batch_summary as batch_summary
from . import blocks as blocks
from . import context as context
from . import counts as counts
from . import dicom_pdf as dicom_pdf
from . import errors as errors
from . import export as export
from . import facts as facts
from . import files as files
from . import fonts as fonts
from . import layout as layout
from . import logo as logo
from . import patient_report as patient_report
from . import pictures as pictures
from . import validation_report as validation_report
from .batch_summary import build_batch_summary as build_batch_summary
from .blocks import short_warning as short_warning
from .context import ReportContext as ReportContext
from .counts import BatchCounts as BatchCounts
from .counts import batch_counts as batch_counts
from .dicom_pdf import ENCAPSULATED_PDF_STORAGE as ENCAPSULATED_PDF_STORAGE
from .dicom_pdf import dicom_problem as dicom_problem
from .dicom_pdf import encapsulated_pdf as encapsulated_pdf
from .dicom_pdf import encapsulated_pdf_bytes as encapsulated_pdf_bytes
from .dicom_pdf import person_name as person_name
from .errors import ReportError as ReportError
from .errors import ReportWriteError as ReportWriteError
from .export import WrittenReport as WrittenReport
from .export import batch_summary_file_name as batch_summary_file_name
from .export import export_batch_summary as export_batch_summary
from .export import export_patient_reports as export_patient_reports
from .export import report_file_name as report_file_name
from .facts import grade_label as grade_label
from .facts import model_status as model_status
from .files import prepare_folder as prepare_folder
from .files import safe_file_name as safe_file_name
from .layout import REFERABLE_BG as REFERABLE_BG
from .layout import PageDecor as PageDecor
from .layout import build_pdf as build_pdf
from .patient_report import build_patient_report as build_patient_report
from .pictures import record_pictures as record_pictures
from .validation_report import build_validation_report as build_validation_report

__all__ = [
    "build_validation_report",
    "validation_report",
    "BatchCounts",
    "ENCAPSULATED_PDF_STORAGE",
    "PageDecor",
    "REFERABLE_BG",
    "ReportContext",
    "ReportError",
    "ReportWriteError",
    "WrittenReport",
    "batch_counts",
    "batch_summary",
    "batch_summary_file_name",
    "blocks",
    "build_batch_summary",
    "build_patient_report",
    "build_pdf",
    "context",
    "counts",
    "dicom_pdf",
    "dicom_problem",
    "encapsulated_pdf",
    "encapsulated_pdf_bytes",
    "errors",
    "export",
    "export_batch_summary",
    "export_patient_reports",
    "facts",
    "files",
    "fonts",
    "grade_label",
    "layout",
    "logo",
    "model_status",
    "patient_report",
    "person_name",
    "pictures",
    "prepare_folder",
    "record_pictures",
    "report_file_name",
    "safe_file_name",
    "short_warning",
]
