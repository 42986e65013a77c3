"""Exporting reports to a folder: one PDF per patient (optionally with a DICOM copy) and the batch summary.

Made for a worker thread: no Qt, progress and cancellation through plain callables, every failure a
ReportError with a message to show as it is. Everything that can be checked before writing (logo, fonts, DICOM
identifiers) is checked first; then each file is made in memory and written completely or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ran_desktop.engine.records.patient_groups import PatientGroup
from ran_desktop.reports.batch_summary import build_batch_summary
from ran_desktop.reports.context import ReportContext
from ran_desktop.reports.dicom_pdf import dicom_problem, encapsulated_pdf_bytes
from ran_desktop.reports.files import prepare_folder, safe_file_name, write_new_file
from ran_desktop.reports.fonts import register_fonts
from ran_desktop.reports.logo import Logo
from ran_desktop.reports.patient_report import build_patient_report

Progress = Callable[[int, int], None]  # (patients done, patients in the export)
Cancelled = Callable[[], bool]


@dataclass(frozen=True)
class WrittenReport:
    path: Path  # where the PDF was written
    requested: Path  # the name it was meant to have; another file already had it when they differ
    patient_key: str | None  # PatientGroup.key; None for a batch summary
    dicom_path: Path | None = None
    notes: tuple[str, ...] = ()  # what the user should be told: a new name, a DICOM copy left out and why

    @property
    def renamed(self) -> bool:
        return self.path != self.requested


def report_file_name(group: PatientGroup, context: ReportContext) -> str:
    """`DR-report_<patient ID, else name, else the image's file>_<date>.pdf`, safe on every file system."""
    if group.patient_id or group.patient_name:
        who = safe_file_name(group.patient_id or group.patient_name or "")
    else:
        who = "unidentified_" + safe_file_name(group.records[0].result.path.stem, fallback="image")
    return f"DR-report_{who}_{context.generated_at.strftime('%Y%m%d')}.pdf"


def batch_summary_file_name(context: ReportContext) -> str:
    return f"DR-batch-summary_{context.generated_at.strftime('%Y%m%d-%H%M')}.pdf"


def export_patient_reports(
    groups: Sequence[PatientGroup],
    folder: str | Path,
    context: ReportContext,
    *,
    dicom: bool = False,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> list[WrittenReport]:
    """Write one report per patient into `folder` (created if needed); returns what was written, in order.

    Existing files are never overwritten: a taken name gets "-2", "-3"... (see WrittenReport.renamed and notes).
    With `dicom`, each patient with a usable patient ID also gets `<same name>.dcm`, an Encapsulated PDF.
    `cancelled` is asked before each patient; when it says yes, the reports written so far are returned.
    Raises ReportError (ReportWriteError for the folder) with nothing half-written left behind.
    """
    register_fonts()
    logo = Logo.read(context.clinic_logo) if context.clinic_logo is not None else None
    target = prepare_folder(folder)
    written: list[WrittenReport] = []
    done_paths: list[Path] = []
    for index, group in enumerate(groups):
        if cancelled is not None and cancelled():
            break
        pdf = build_patient_report(group, context, logo=logo)
        placed = write_new_file(target, report_file_name(group, context), pdf, tuple(done_paths))
        done_paths.append(placed.path)
        notes = [f"{placed.requested.name} already existed; written as {placed.path.name}"] if placed.renamed else []
        dicom_path = None
        if dicom:
            problem = dicom_problem(group)
            if problem is None:
                data = encapsulated_pdf_bytes(pdf, group, context)
                dcm = write_new_file(target, placed.path.with_suffix(".dcm").name, data, tuple(done_paths))
                dicom_path = dcm.path
                done_paths.append(dcm.path)
                if dcm.renamed:
                    notes.append(f"{dcm.requested.name} already existed; written as {dcm.path.name}")
            else:
                notes.append(f"No DICOM copy: {problem}.")
        written.append(WrittenReport(placed.path, placed.requested, group.key, dicom_path, tuple(notes)))
        if progress is not None:
            progress(index + 1, len(groups))
    return written


def export_batch_summary(groups: Sequence[PatientGroup], path: str | Path, context: ReportContext) -> WrittenReport:
    """Write the batch summary as `path`, or under its default name when `path` is an existing folder.

    Like the patient reports: never overwrites (a taken name gets "-2"...), nothing half-written on failure.
    """
    register_fonts()
    logo = Logo.read(context.clinic_logo) if context.clinic_logo is not None else None
    path = Path(path)
    if path.is_dir():
        folder, name = path, batch_summary_file_name(context)
    else:
        folder, name = path.parent, path.name
    target = prepare_folder(folder)
    pdf = build_batch_summary(groups, context, logo=logo)
    placed = write_new_file(target, name, pdf)
    notes = (f"{placed.requested.name} already existed; written as {placed.path.name}",) if placed.renamed else ()
    return WrittenReport(placed.path, placed.requested, None, None, notes)
