"""PDF screening reports: one per patient and a batch summary, optionally as DICOM Encapsulated PDF.

    context = ReportContext.for_model(loaded, clinic_name="Eye Clinic", grader="A. Grader")
    written = export_patient_reports(group_by_patient(records), folder, context, dicom=True)
    summary = export_batch_summary(groups, folder, context)

Built with reportlab; imports no Qt, and torch only when a Grad-CAM overlay is drawn. Safe to call from a worker
thread (model use holds LoadedModel.lock).

Public names load on first use (lazy_loader), so importing one submodule never pulls in the others."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach_stub(__name__, __file__)
