"""Second grading and arbitration in the window: a referable first grading goes to a second grader, who grades blind
and disagrees; the arbitrator sees both gradings and settles the image; the graders' table and the worklist follow."""

from __future__ import annotations

import io

from gui_helpers import TIMEOUT_MS, wait_idle
from pypdf import PdfReader
from PySide6.QtWidgets import QApplication, QLabel, QListWidget

from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.second_grading import AWAITING_ARBITRATION, FINAL, QAPolicy
from ran_desktop.gui.second_grading_dialog import SecondGradingDialog
from ran_desktop.reports import ReportContext, build_patient_report


def _dialog(qtbot, window) -> SecondGradingDialog:
    window.second_grading_dialog()
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, SecondGradingDialog) and w.isVisible())
    qtbot.waitUntil(lambda: "(" in dialog.tabs.tabText(0), timeout=TIMEOUT_MS)  # the queues have been read
    return dialog


def _texts(widget) -> str:
    return " ".join([label.text() for label in widget.findChildren(QLabel)]
                    + [lst.item(i).text() for lst in widget.findChildren(QListWidget) for i in range(lst.count())])


def test_a_disagreement_goes_blind_to_a_second_grader_and_is_settled_by_an_arbitrator(open_window, photos, qtbot,
                                                                                     data_dir):
    from ran_desktop.gui.settings import AppSettings

    settings = AppSettings(data_dir)
    settings.second_grading = QAPolicy(enabled=True, sample_share=0.0)
    window = open_window([photos(2, nested=False)], grader="Dr Ana")
    wait_idle(qtbot, window, 2)
    record = window.results.record(0)
    window.select_key(record.key)
    window.workspace.review.set_grades(2, 1)
    window.workspace.review.submit()
    assert window.storage.qa_status(record.image_id).state == "awaiting second grading"

    settings.grader_name = "Dr Ben"
    dialog = _dialog(qtbot, window)
    assert dialog.tabs.tabText(0) == "Second grading (1)" and dialog.tabs.tabText(1) == "Arbitration (0)"
    page = dialog.second_page
    qtbot.waitUntil(lambda: page.view.has_image, timeout=TIMEOUT_MS)  # the photograph itself, decoded for grading
    assert "Blind" in page.earlier.text()
    assert "Dr Ana" not in _texts(dialog) and "DR 2" not in _texts(dialog)  # nothing of the first grading
    assert page.form.dr.currentData() is None  # nothing proposed
    page.form.dr.setCurrentIndex(page.form.dr.findData(0))
    page.form.dme.setCurrentIndex(page.form.dme.findData(0))
    page.form.save_button.click()
    qtbot.waitUntil(lambda: "sent to arbitration" in dialog.note.text(), timeout=TIMEOUT_MS)
    assert window.storage.qa_status(record.image_id).state == AWAITING_ARBITRATION
    qtbot.waitUntil(lambda: dialog.tabs.tabText(0) == "Second grading (0)", timeout=TIMEOUT_MS)
    assert dialog.tabs.tabText(1) == "Arbitration (0)"  # Ben may not arbitrate his own disagreement
    dialog.close()

    settings.grader_name = "Dr Lead"
    dialog = _dialog(qtbot, window)
    assert dialog.tabs.tabText(1) == "Arbitration (1)"
    page = dialog.arbitration_page
    dialog.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: "Second grading: Dr Ben" in page.earlier.text(), timeout=TIMEOUT_MS)
    assert "First grading: Dr Ana, DR 2" in page.earlier.text()
    page.form.dr.setCurrentIndex(page.form.dr.findData(2))
    page.form.dme.setCurrentIndex(page.form.dme.findData(0))
    page.form.save_button.click()
    qtbot.waitUntil(lambda: "settled" in dialog.note.text(), timeout=TIMEOUT_MS)
    assert window.storage.qa_status(record.image_id).state == FINAL
    decision = window.storage.decision(record.image_id)
    assert (decision.dr_grade, decision.dme_grade, decision.grader) == (2, 0, "Dr Lead")
    graders = dialog.graders
    qtbot.waitUntil(lambda: graders.rowCount() == 2, timeout=TIMEOUT_MS)
    assert [graders.item(r, 0).text() for r in range(2)] == ["Dr Ana", "Dr Ben"]
    assert graders.item(0, 2).text().startswith("1.00") and graders.item(1, 2).text().startswith("0.00")
    dialog.close()
    # The worklist shows the settled decision (the window re-reads what changed).
    qtbot.waitUntil(lambda: window.results.record(window.results.row_of(record.key)).decision.grader == "Dr Lead",
                    timeout=TIMEOUT_MS)
    assert [e.action for e in window.storage.audit_trail(record.image_id)] == [
        "decision", "second grading, sent to arbitration", "arbitration"]
    # The patient's report says who decided what at each stage, read back from the PDF.
    records = window.storage.load_session(window.session_id)
    group = next(g for g in group_by_patient(records) if any(r.key == record.key for r in g.records))
    pdf = build_patient_report(group, ReportContext.for_model(window.controller.loaded, grader="Dr Lead"))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Second grading: First grading: Dr Ana, DR 2" in text
    assert "Second grading: Dr Ben, DR 0" in text and "Arbitration: Dr Lead, DR 2" in text
