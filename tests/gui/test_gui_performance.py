"""Review > Model performance at this clinic: the figures from every reviewed image, computed off the GUI thread and
shown in a dialog, with the proposal and the overrides; saved as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from gui_helpers import TIMEOUT_MS

from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.engine.records.review_session import ReviewSession
from ran_desktop.engine.records.storage import DATABASE_NAME, Storage
from ran_desktop.gui.performance_dialog import PerformanceDialog

INFO = ModelInfo("ran18-test", "1.0", "test data", False, True, "", "CPU", referable_threshold=0.5)


def _result(i: int, dr: int, sure: float) -> ScreeningResult:
    probs = tuple(sure if g == dr else (1 - sure) / 4 for g in range(5))
    return ScreeningResult(f"k{i}", Path(f"/photos/eye{i}.jpg"), Status.SCREENED, INFO, dr_probs=probs,
                           dme_probs=(0.9, 0.05, 0.05))


def _reviewed_database(folder: Path) -> Path:
    """Ten reviewed images: the model right on eight, and confidently wrong on one referable eye."""
    storage = Storage(folder / DATABASE_NAME)
    session = ReviewSession(storage, storage.current_session())
    cases = [(0, 0, 0.9)] * 4 + [(2, 2, 0.9)] * 4 + [(0, 3, 0.97), (2, 0, 0.6)]  # (model DR, grader DR, sureness)
    for i, (model, grader, sure) in enumerate(cases):
        record = storage.save_result(session.session_id, _result(i, model, sure))
        session.record_decision(record, GraderDecision(grader, 0), "Dr A")
    storage.close()
    return folder / DATABASE_NAME


def test_the_dialog_shows_the_agreement_and_saves_it(qtbot, tmp_path):
    dialog = PerformanceDialog(_reviewed_database(tmp_path))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.save.isEnabled, timeout=TIMEOUT_MS)
    assert dialog.table.item(0, 0).text() == "10"
    assert dialog.table.item(0, 2).text().startswith("0.80 (")  # 4 of 5 referable eyes (DR 2 x4; DR 3 missed)
    assert dialog.confusion.item(3, 0).text() == "1" and dialog.confusion.item(2, 2).text() == "4"
    assert "Only 5 referable eye(s) reviewed" in dialog.warning.text()
    assert "eye8.jpg" in dialog.details.text() and "Local operating point" in dialog.details.text()
    out = tmp_path / "agreement.csv"
    dialog.save_csv(str(out))
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert rows[0]["group"] == "all reviewed images" and rows[0]["referable_eyes"] == "5"


def test_the_review_menu_opens_it_over_the_window(open_window, qtbot):
    window = open_window()
    window.commands.performance.trigger()
    qtbot.waitUntil(lambda: window.findChild(PerformanceDialog) is not None, timeout=TIMEOUT_MS)
    dialog = window.findChild(PerformanceDialog)
    qtbot.waitUntil(dialog.save.isEnabled, timeout=TIMEOUT_MS)
    assert "Only 0 referable eye(s) reviewed" in dialog.warning.text()
    dialog.close()


def test_a_named_grader_adopts_the_proposal_and_goes_back(qtbot, tmp_path):
    from ran_desktop.engine.validation import operating_point as local_operating_point

    sha = "ab" * 32
    dialog = PerformanceDialog(_reviewed_database(tmp_path), bundle=("ran18-test 1.0", sha), grader="Dr A")
    qtbot.addWidget(dialog)
    asked = []
    dialog.confirm = lambda parent, title, text: asked.append(text) or True
    qtbot.waitUntil(dialog.adopt_button.isEnabled, timeout=TIMEOUT_MS)
    assert "the bundle's own" in dialog.operating_point.text() and not dialog.revert_button.isEnabled()
    dialog.adopt_button.click()
    assert asked and "Adopt it as Dr A?" in asked[0]
    point = local_operating_point.current(tmp_path, sha)
    assert point is not None and point.adopted_by == "Dr A" and point.threshold == dialog.proposal.threshold
    assert "set locally on 10 reviewed images" in dialog.operating_point.text() and dialog.revert_button.isEnabled()
    dialog.revert_button.click()
    assert local_operating_point.current(tmp_path, sha) is None and "the bundle's own" in dialog.operating_point.text()


def test_declining_or_no_model_adopts_nothing(qtbot, tmp_path):
    from ran_desktop.engine.validation import operating_point as local_operating_point

    dialog = PerformanceDialog(_reviewed_database(tmp_path), bundle=("b", "cd" * 32), grader="Dr A")
    qtbot.addWidget(dialog)
    dialog.confirm = lambda parent, title, text: False
    qtbot.waitUntil(dialog.adopt_button.isEnabled, timeout=TIMEOUT_MS)
    dialog.adopt_button.click()
    assert local_operating_point.current(tmp_path, "cd" * 32) is None
    without_model = PerformanceDialog(tmp_path / DATABASE_NAME)
    qtbot.addWidget(without_model)
    qtbot.waitUntil(without_model.save.isEnabled, timeout=TIMEOUT_MS)
    assert not without_model.adopt_button.isEnabled()


def test_the_charts_show_the_calibration_and_the_months_and_the_page_saves_as_pdf(qtbot, tmp_path):
    """The reliability diagram is drawn from the same bins as the engine's; the months chart has this month with the
    sensitivity's Wilson interval; Save as PDF writes the page with both charts, read back with pypdf."""
    from pypdf import PdfReader
    from PySide6.QtGui import QImage

    from ran_desktop.engine.validation.calibration import calibrate, labelled_scores

    database = _reviewed_database(tmp_path)
    dialog = PerformanceDialog(database, grader="Dr A", clinic_name="Eye Clinic")
    qtbot.addWidget(dialog)
    dialog.resize(1280, 800)
    dialog.show()
    qtbot.waitUntil(dialog.save_pdf.isEnabled, timeout=TIMEOUT_MS)
    with Storage(database) as storage:
        expected = calibrate(labelled_scores(storage.load_session(storage.current_session())))
    shown = dialog.reliability.series[0]
    assert shown.points == [(b.mean_probability, b.observed) for b in expected.before]
    assert dialog.reliability.diagonal
    assert len(dialog.monthly.categories) == 1
    assert [s.name for s in dialog.monthly.series] == ["sensitivity", "specificity"]
    sensitivity, interval = dialog.monthly.series[0], dialog.validation.overall.sensitivity.interval
    assert sensitivity.points[0][1] == 0.8 and sensitivity.whiskers[0][1:] == interval
    image: QImage = dialog.reliability.grab().toImage()
    red = sum(1 for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)
                      if (c := image.pixelColor(x, y)).red() > 150 and c.green() < 90)
    assert red > 5  # the model's own curve is painted, not only the frame
    page = tmp_path / "performance.pdf"
    with qtbot.waitSignal(dialog.pageSaved, timeout=TIMEOUT_MS):  # made in the dialog's worker
        dialog.save_page(str(page))
    text = " ".join(PdfReader(page).pages[0].extract_text().split())
    assert "Model performance at this clinic" in text and "Eye Clinic" in text
    assert "0.80 (" in text and "Reliability of the referable probability" in text and "Local operating point" in text


def test_a_page_that_cannot_be_written_says_so_and_the_dialog_stays(qtbot, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    dialog = PerformanceDialog(_reviewed_database(tmp_path))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.save_pdf.isEnabled, timeout=TIMEOUT_MS)
    dialog.save_page(str(tmp_path / "no such folder" / "performance.pdf"))
    qtbot.waitUntil(lambda: dialog.findChild(QMessageBox) is not None, timeout=TIMEOUT_MS)
    box = dialog.findChild(QMessageBox)
    assert box.windowTitle() == "The page was not saved" and "no such folder" in box.text()
    assert dialog.save_pdf.isEnabled() and dialog.isVisible()
    box.close()
