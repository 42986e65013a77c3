"""Reports menu: PDF reports for the current patient, the selected patients and the whole batch, written by the real
reports package in the background from the session's records in the database (decisions included), read back with
pypdf.

Only the folder chooser and the file manager are replaced (they would block on native windows); the export itself
is the real one.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from dicom_factory import write_dicom
from gui_helpers import TIMEOUT_MS, drop, wait_idle
from pypdf import PdfReader
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QPushButton

from ran_desktop.app import launch
from ran_desktop.engine.records.review import OVERRIDDEN
from ran_desktop.gui.main_window import MainWindow
from ran_desktop.gui.report_export import ExportOutcome
from ran_desktop.gui.results_model import Column
from ran_desktop.reports import ENCAPSULATED_PDF_STORAGE
from ran_desktop.reports.facts import grade_label

# Patient ID -> eyes photographed; the files are real DICOM ophthalmic photographs carrying these IDs.
PATIENTS = {"P-1001": ("R", "L"), "P-1002": ("L",), "P-1003": ("R",)}
IMAGES = sum(len(eyes) for eyes in PATIENTS.values())


def pdf_text(path: Path) -> str:
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


@pytest.fixture
def dicom_folder(tmp_path, sample_path) -> Path:
    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (512, 512), interpolation=cv2.INTER_AREA)  # still gradable, quick to screen and report
    folder = tmp_path / "clinic-day"
    folder.mkdir()
    for patient, eyes in PATIENTS.items():
        for eye in eyes:
            pixels = np.ascontiguousarray(rgb[:, ::-1]) if eye == "R" else rgb
            write_dicom(folder / f"{patient}_{eye}.dcm", pixels, image_laterality=eye, patient_id=patient,
                        patient_name=f"Test^{patient[-4:]}")
    return folder


@pytest.fixture
def screened(open_window, qtbot, dicom_folder) -> MainWindow:
    window = open_window()
    drop(window, [dicom_folder])
    wait_idle(qtbot, window, IMAGES)
    return window


def export(window: MainWindow, qtbot, action: QAction, folder: Path, asked: list[str] | None = None) -> ExportOutcome:
    """Trigger `action` with `folder` as the user's choice and wait until the export has ended. Drafts are written
    when asked; the questions go into `asked`."""
    chosen: list[str] = []

    def choose(parent, caption: str, start: str) -> str:
        chosen.append(caption)
        return str(folder)

    window.reports.choose_folder = choose
    window.reports.confirm_drafts = (
        lambda parent, title, text: (asked if asked is not None else []).append(text) or True)
    assert action.isEnabled()
    with qtbot.waitSignal(window.reports.finished, timeout=TIMEOUT_MS) as blocker:
        action.trigger()
    assert len(chosen) == 1
    return blocker.args[0]


def outcome_box(window: MainWindow) -> QMessageBox:
    boxes = [b for b in window.findChildren(QMessageBox) if b.objectName() == "reportOutcome" and b.isVisible()]
    assert len(boxes) == 1
    return boxes[0]


def close_box(box: QMessageBox) -> None:
    box.button(QMessageBox.StandardButton.Ok).click()


def key_of(window: MainWindow, patient: str, eye: str = "") -> str:
    return next(r.key for r in window.results.records()
                if r.patient_id == patient and r.result.path.stem.endswith(eye))


def report_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("DR-report_*.pdf"))


def test_current_patient_report_holds_the_patient_and_the_graders_override(screened, qtbot, tmp_path):
    window = screened
    right = window.results.record(window.results.row_of(key_of(window, "P-1001", "_R")))
    model_dr, model_dme = right.model_grades
    grader_dr = 3 if model_dr != 3 else 4
    window.select_key(right.key)
    window.workspace.review.set_grades(grader_dr, model_dme)
    window.workspace.review.submit()  # saved just now, and the list moves on to the next image
    assert window.storage.decision(right.image_id).kind == OVERRIDDEN
    window.select_key(right.key)

    folder = tmp_path / "reports"
    outcome = export(window, qtbot, window.commands.report_current, folder)
    assert not outcome.problem and not outcome.cancelled and outcome.summary is None
    names = report_names(folder)
    assert len(names) == 1 and names[0].startswith("DR-report_P-1001_")
    text = pdf_text(folder / names[0])
    assert "P-1001" in text and "P-1002" not in text
    assert f"{grade_label('dr', grader_dr)} (OVERRIDDEN by grader)" in text
    assert "Right eye (OD)" in text and "Left eye (OS)" in text  # the whole patient, not only the selected image
    assert "Dr Test" in text

    box = outcome_box(window)
    assert "1 patient report was written to" in box.text() and str(folder) in box.text()
    opened: list[Path] = []
    window.reports.open_folder = opened.append
    box.findChild(QPushButton, "openReportFolder").click()
    assert opened == [folder]
    assert window.settings.report_folder == str(folder)  # the next chooser starts here

    # Again into the same folder: the first report is kept, the new one gets another name, and the user is told.
    first = (folder / names[0]).read_bytes()
    outcome = export(window, qtbot, window.commands.report_current, folder)
    assert (folder / names[0]).read_bytes() == first
    assert outcome.reports[0].renamed and len(report_names(folder)) == 2
    box = outcome_box(window)
    assert f"{names[0]} already existed; written as {outcome.reports[0].path.name}" in box.informativeText()
    close_box(box)


def test_whole_batch_writes_every_patient_and_the_summary_with_dicom_copies(screened, qtbot, tmp_path, data_dir):
    window = screened
    window.commands.report_dicom.trigger()  # the menu's checkbox: also DICOM Encapsulated PDF, remembered
    assert window.settings.report_dicom

    folder = tmp_path / "batch"
    outcome = export(window, qtbot, window.commands.report_batch, folder)
    assert not outcome.problem and len(outcome.reports) == len(PATIENTS) and outcome.summary is not None
    names = report_names(folder)
    assert [n.split("_")[1] for n in names] == sorted(PATIENTS)
    summaries = list(folder.glob("DR-batch-summary_*.pdf"))
    assert len(summaries) == 1
    summary = pdf_text(summaries[0])
    assert all(patient in summary for patient in PATIENTS)
    copies = sorted(folder.glob("*.dcm"))
    assert [p.stem for p in copies] == [Path(n).stem for n in names]
    assert pydicom.dcmread(copies[0]).SOPClassUID == ENCAPSULATED_PDF_STORAGE
    assert len(list(folder.iterdir())) == 2 * len(PATIENTS) + 1  # nothing else: no temporary file left

    text = outcome_box(window).text()
    assert f"3 patient reports and the batch summary were written to:\n{folder}" in text
    assert "3 DICOM Encapsulated PDF copies" in text
    from ran_desktop.gui.settings import AppSettings

    assert AppSettings(data_dir).report_dicom


def test_selected_patients_exports_exactly_those(screened, qtbot, tmp_path):
    window = screened
    selection = window.workspace.table.selectionModel()
    selection.clearSelection()
    for patient, eye in (("P-1001", "_L"), ("P-1003", "_R")):
        row = window.results.row_of(key_of(window, patient, eye))
        index = window.proxy.mapFromSource(window.results.index(row, Column.FILE))
        selection.select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)

    folder = tmp_path / "selected"
    outcome = export(window, qtbot, window.commands.report_selected, folder)
    assert [r.patient_key for r in outcome.reports] == ["id:P-1001", "id:P-1003"]
    names = report_names(folder)
    assert [n.split("_")[1] for n in names] == ["P-1001", "P-1003"]
    assert "Left eye (OS)" in pdf_text(folder / names[0]) and "Right eye (OD)" in pdf_text(folder / names[0])
    assert not list(folder.glob("DR-batch-summary_*"))
    close_box(outcome_box(window))

    # In the patient view, the patients picked there count.
    window.workspace.list_tabs.setCurrentWidget(window.workspace.patients)
    tree = window.workspace.patients.tree
    row = next(i for i, g in enumerate(window.workspace.patients.groups) if g.patient_id == "P-1002")
    tree.selectionModel().select(window.workspace.patients.model.index(row, 0),
                                 QItemSelectionModel.SelectionFlag.ClearAndSelect
                                 | QItemSelectionModel.SelectionFlag.Rows)
    folder = tmp_path / "from-patients"
    export(window, qtbot, window.commands.report_selected, folder)
    assert [n.split("_")[1] for n in report_names(folder)] == ["P-1002"]


def test_an_unwritable_folder_is_a_readable_message_and_the_app_stays_up(screened, qtbot, tmp_path):
    window = screened
    blocker = tmp_path / "not-a-folder.txt"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    target = blocker / "reports"

    outcome = export(window, qtbot, window.commands.report_batch, target)
    assert outcome.problem and not outcome.reports and outcome.summary is None
    box = outcome_box(window)
    assert box.windowTitle() == "Reports not written"
    assert str(target) in box.text() and "not a folder" in box.text()
    assert "Traceback" not in box.text() + box.informativeText() + box.detailedText()
    assert window.reporter.dialog is None  # no crash dialog: this is a foreseen problem
    assert blocker.read_text(encoding="utf-8") == "a file where a folder should be"
    assert window.settings.report_folder == ""  # a place that failed is not offered next time
    close_box(box)

    # The app goes on: the commands are back and the next export works.
    assert window.commands.report_batch.isEnabled() and window.isVisible()
    window.select_key(key_of(window, "P-1002"))
    export(window, qtbot, window.commands.report_current, tmp_path / "good")
    assert len(report_names(tmp_path / "good")) == 1


def test_cancel_stops_after_the_report_being_written_and_keeps_it(screened, qtbot, tmp_path):
    window = screened
    folder = tmp_path / "cancelled"
    window.reports.choose_folder = lambda parent, caption, start: str(folder)
    window.reports.confirm_drafts = lambda parent, title, text: True
    with qtbot.waitSignal(window.reports.finished, timeout=TIMEOUT_MS) as blocker:
        window.commands.report_batch.trigger()
        progress = window.reports.progress
        assert progress is not None and progress.isVisible()
        assert not window.commands.report_batch.isEnabled()  # one export at a time
        progress.cancel_button.click()
    outcome = blocker.args[0]
    assert outcome.cancelled and outcome.summary is None and len(outcome.reports) < len(PATIENTS)
    assert report_names(folder) == sorted(r.path.name for r in outcome.reports)
    assert not list(folder.glob("DR-batch-summary_*"))
    box = outcome_box(window)
    assert box.windowTitle() == "Report export cancelled" and "The batch summary was not written" in box.text()
    assert window.reports.progress is None and window.commands.report_batch.isEnabled()


def test_the_commands_wait_for_images_a_selection_and_the_model(open_window, qtbot, dicom_folder, models_folder,
                                                              data_dir):
    window = open_window()
    a = window.commands
    assert window.results.rowCount() == 0
    assert not any(x.isEnabled() for x in (a.report_current, a.report_selected, a.report_batch))
    assert a.report_current.shortcuts() and a.report_current.toolTip()

    drop(window, [dicom_folder])
    wait_idle(qtbot, window, IMAGES)
    assert a.report_batch.isEnabled()
    window.select_key(window.results.record(0).key)
    assert a.report_current.isEnabled() and a.report_selected.isEnabled()
    window.workspace.table.selectionModel().clear()
    assert not a.report_current.isEnabled() and not a.report_selected.isEnabled() and a.report_batch.isEnabled()
    window.close()

    # Reopened: the list is back at once, but the reports wait for the model (the heat maps need it).
    reopened = launch([], data_dir, models_folder)
    qtbot.addWidget(reopened)
    assert reopened.results.rowCount() == IMAGES and reopened.controller.model_state == "loading"
    assert not reopened.commands.report_batch.isEnabled()
    qtbot.waitUntil(lambda: reopened.controller.model_state == "ready", timeout=TIMEOUT_MS)
    assert reopened.commands.report_batch.isEnabled()


def test_without_a_model_reports_are_made_without_heat_maps_and_say_so(open_window, qtbot, dicom_folder,
                                                                       bundle_copy, data_dir, tmp_path):
    window = open_window()
    drop(window, [dicom_folder])
    wait_idle(qtbot, window, IMAGES)
    window.close()
    weights = bundle_copy / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])

    broken = launch([], data_dir, bundle_copy.parent)
    qtbot.addWidget(broken)
    qtbot.waitUntil(lambda: broken.controller.model_state == "failed", timeout=TIMEOUT_MS)
    folder = tmp_path / "no-model"
    outcome = export(broken, qtbot, broken.commands.report_batch, folder)
    assert not outcome.with_heat_maps and len(outcome.reports) == len(PATIENTS) and outcome.summary is not None
    assert "No model is loaded, so the reports have no heat maps." in outcome_box(broken).text()
    assert "no model was loaded when this report was made" in pdf_text(outcome.reports[0].path)


def test_a_clinic_logo_that_is_no_image_stops_the_export_before_any_file_is_written(screened, qtbot, tmp_path):
    window = screened
    logo = tmp_path / "logo.png"
    logo.write_text("not a picture", encoding="utf-8")
    window.settings.clinic_logo = str(logo)
    folder = tmp_path / "with-logo"
    outcome = export(window, qtbot, window.commands.report_batch, folder)
    assert outcome.problem and not outcome.anything_written
    box = outcome_box(window)
    assert box.windowTitle() == "Reports not written" and str(logo) in box.text() and "PNG or JPEG" in box.text()
    assert box.findChild(QPushButton, "openReportFolder") is None  # nothing to open
    assert not list(folder.glob("*.pdf"))
    assert window.reporter.dialog is None


def test_unreviewed_reports_are_asked_about_and_written_as_drafts(screened, qtbot, tmp_path):
    window = screened
    asked: list[str] = []
    outcome = export(window, qtbot, window.commands.report_batch, tmp_path / "drafts", asked)
    readable = sum(1 for r in window.results.records() if r.status.value != "error")
    assert asked == [asked[0]] and asked[0].startswith(f"{readable} of {readable} image(s) have not been reviewed")
    close_box(outcome_box(window))
    text = pdf_text(outcome.reports[0].path)
    assert "DRAFT" in text and "NOT REVIEWED (DRAFT)" in text
    assert "ROUTINE RESCREENING" not in text  # an unreviewed report never shows an outcome as decided
    summary = pdf_text(outcome.summary.path)
    assert "DRAFT" in summary and "have not been reviewed by a grader" in summary

    folders: list[str] = []
    window.reports.choose_folder = lambda *args: folders.append("asked") or ""
    window.reports.confirm_drafts = lambda parent, title, text: False  # the grader says no
    window.commands.report_batch.trigger()
    assert folders == [] and not window.reports.running  # nothing chosen, nothing written


def test_reviewed_reports_are_not_drafts(screened, qtbot, tmp_path):
    window = screened
    key = key_of(window, "P-1002")
    for record in [r for r in window.results.records() if r.patient_id == "P-1002"]:
        window.select_key(record.key)
        window.workspace.review.set_grades(0, 0)
        window.workspace.review.submit()
    window.select_key(key)
    asked: list[str] = []
    outcome = export(window, qtbot, window.commands.report_current, tmp_path / "final", asked)
    assert asked == []  # nothing to ask: every image of this patient is reviewed
    close_box(outcome_box(window))
    text = pdf_text(outcome.reports[0].path)
    assert "DRAFT" not in text and "NOT REVIEWED" not in text and "ROUTINE RESCREENING" in text



def test_reports_are_made_from_the_database_not_from_the_list(screened, qtbot, tmp_path, data_dir):
    """A decision saved by another workstation on the same data folder, which this window's list has not seen yet,
    is in the report: the export reads the session's records from the database when it starts."""
    from ran_desktop.engine.records.review import GraderDecision
    from ran_desktop.engine.records.storage import DATABASE_NAME, Storage

    window = screened
    record = window.results.record(window.results.row_of(key_of(window, "P-1002", "_L")))
    assert record.decision is None
    with Storage(data_dir / DATABASE_NAME) as elsewhere:
        elsewhere.save_decision(record.image_id, GraderDecision(4, 2, kind=OVERRIDDEN, grader="Dr Elsewhere"))
    assert window.results.record(window.results.row_of(record.key)).decision is None  # the list has not seen it
    window.select_key(record.key)
    folder = tmp_path / "reports"
    outcome = export(window, qtbot, window.commands.report_current, folder)
    assert not outcome.problem
    text = pdf_text(folder / report_names(folder)[0])
    assert "Dr Elsewhere" in text and f"{grade_label('dr', 4)} (OVERRIDDEN by grader)" in text
