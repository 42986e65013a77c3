"""Grader review: keyboard grading, decisions stored at once with who and when, and a session that survives
closing the app."""

from __future__ import annotations

import pytest
from gui_helpers import TIMEOUT_MS, drop, wait_idle
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QInputDialog

from ran_desktop.app import launch
from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.records.review import ACCEPTED, CONFIRMED, GRADED, OVERRIDDEN
from ran_desktop.engine.records.storage import Storage
from ran_desktop.gui.results_model import Column


def with_three_photos(window, qtbot, photos):
    """Three photographs screened, the first selected, the window active (keys go to it)."""
    drop(window, [photos(3, nested=False)])
    wait_idle(qtbot, window, 3)
    window.select_key(window.results.record(0).key)
    window.activateWindow()
    qtbot.waitActive(window)
    return window


@pytest.fixture
def three(open_window, qtbot, photos):
    return with_three_photos(open_window(), qtbot, photos)


def trail_eyes(window, record) -> list:
    return [e.new.eye for e in window.storage.audit_trail(record.image_id)]


def review_cell(window, row: int) -> str:
    return window.results.index(row, Column.REVIEW).data()


def test_keyboard_review_grades_saves_and_moves_on(three, qtbot):
    window = three
    first = window.current_record()
    # Untrained weights: the form starts empty instead of offering the model's grades.
    review = window.workspace.review
    assert review.dr_box.currentText() == "— choose —" and "Untrained model" in review.model_line.text()
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_3)
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert (window.workspace.review.dr_box.currentData(), window.workspace.review.dme_box.currentData()) == (3, 2)
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    stored = window.storage.decision(first.image_id)
    assert (stored.dr_grade, stored.dme_grade, stored.kind, stored.grader) == (3, 2, OVERRIDDEN, "Dr Test")
    assert stored.decided_at
    assert review_cell(window, 0) == "\u270e Overridden"
    assert window.results.index(0, Column.REVIEW).data(Qt.ItemDataRole.ToolTipRole).startswith(
        "\u270e Overridden by Dr Test at ")
    assert window.results.index(0, Column.DR).data() == "3 Severe"  # the grader's: upright, no caveat
    font = window.results.index(0, Column.DR).data(Qt.ItemDataRole.FontRole)
    assert font is None or not font.italic()
    assert window.results.index(0, Column.REFERABLE).data() == "\u26a0 Yes, urgent"
    assert window.current_record().key == window.results.record(1).key  # moved on

    qtbot.keyClick(window.workspace.table, Qt.Key.Key_P)
    assert window.current_record().key == first.key
    assert (window.workspace.review.dr_box.currentData(), window.workspace.review.dme_box.currentData()) == (3, 2)
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_N)
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_U)  # ungradable
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    second = window.storage.decision(window.results.record(1).image_id)
    assert second.ungradable and second.kind == OVERRIDDEN
    assert window.results.index(1, Column.DR).data() == "Ungradable"


def test_confirming_without_grades_saves_nothing_and_says_why(three, qtbot):
    window = three
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "Choose a DR and a DME grade" in window.workspace.review.problem.text()
    assert window.storage.audit_trail(window.current_record().image_id) == []
    assert window.current_record().key == window.results.record(0).key  # stayed


def test_confirming_the_models_grades_is_recorded_as_confirmed(three, qtbot):
    window = three
    record = window.current_record()
    dr, dme = record.model_grades
    qtbot.keyClick(window.workspace.table, getattr(Qt.Key, f"Key_{dr}"))
    qtbot.keyClick(window.workspace.table, getattr(Qt.Key, f"Key_{dme}"), Qt.KeyboardModifier.AltModifier)
    window.workspace.review.comment.setPlainText("agree")
    window.workspace.review.save_button.click()
    stored = window.storage.decision(record.image_id)
    assert (stored.kind, stored.comment) == (CONFIRMED, "agree")
    assert review_cell(window, 0) == "\u2713 Confirmed"


def test_digits_typed_into_a_text_field_are_text_not_grades(three, qtbot):
    window = three
    window.workspace.review.patient_id.setFocus()
    qtbot.keyClicks(window.workspace.review.patient_id, "P-123")
    assert window.workspace.review.patient_id.text() == "P-123"
    assert window.workspace.review.dr_box.currentText() == "— choose —"


def test_an_override_survives_closing_and_reopening_the_app(three, qtbot, models_folder, data_dir):
    window = three
    record = window.current_record()
    window.workspace.review.set_dr_grade(4)
    window.workspace.review.set_dme_grade(0)
    assert window.workspace.review.eye_box.isEnabled()  # the name says OS, but a misnamed photograph can be corrected
    window.workspace.review.eye_box.setCurrentIndex(window.workspace.review.eye_box.findData(Eye.RIGHT))
    window.workspace.review.patient_id.setText("P-555")  # the JPEG had none: editable
    window.workspace.review.patient_name.setText("Doe, John")
    window.workspace.review.comment.setPlainText("new vessels at the disc")
    window.workspace.review.submit()
    window.select_key(record.key)
    window.workspace.review.set_dr_grade(2)
    window.workspace.review.set_dme_grade(1)
    window.workspace.review.submit()  # a second decision on the same image: the first goes to the audit trail
    keys = [r.key for r in window.results.records()]
    window.close()

    reopened = launch([], data_dir, models_folder)
    qtbot.addWidget(reopened)
    assert [r.key for r in reopened.results.records()] == keys  # shown at once, before the model is ready
    again = reopened.results.record(reopened.results.row_of(record.key))
    assert (again.decision.dr_grade, again.decision.dme_grade, again.decision.grader) == (2, 1, "Dr Test")
    assert again.patient_id == "P-555" and again.patient_name == "Doe, John"
    assert again.eye is Eye.RIGHT  # the grader's correction of the misnamed file, kept by the second decision too
    assert trail_eyes(reopened, record) == [Eye.RIGHT, Eye.RIGHT]
    assert again.decision.comment == "new vessels at the disc"  # the form showed the earlier decision's comment
    row = reopened.results.row_of(record.key)
    assert reopened.results.index(row, Column.REVIEW).data() == "\u270e Overridden"
    assert reopened.results.index(row, Column.PATIENT).data() == "Doe, John (P-555)"
    trail = reopened.storage.audit_trail(record.image_id)
    assert [(e.previous.dr_grade if e.previous else None, e.new.dr_grade) for e in trail] == [(None, 4), (4, 2)]
    assert trail[0].new.comment == "new vessels at the disc"
    assert reopened.stack.currentWidget() is reopened.workspace
    qtbot.waitUntil(lambda: reopened.controller.model_state == "ready", timeout=TIMEOUT_MS)


def test_the_graders_name_is_asked_once_and_kept(open_window, qtbot, photos, data_dir):
    window = open_window(grader=None)
    drop(window, [photos(2, nested=False)])
    wait_idle(qtbot, window, 2)
    window.select_key(window.results.record(0).key)
    assert window.status.grader_label.text() == "Grader: not set"
    window.workspace.review.set_grades(1, 0)
    window.workspace.review.submit()
    dialog = window.findChild(QInputDialog, "graderNameDialog")
    assert dialog is not None and dialog.isVisible()
    assert window.storage.decision(window.results.record(0).image_id) is None  # not before we know who
    dialog.setTextValue("  Dr Jane Grader ")
    dialog.accept()
    stored = window.storage.decision(window.results.record(0).image_id)
    assert stored.grader == "Dr Jane Grader" and (stored.dr_grade, stored.dme_grade) == (1, 0)
    assert window.status.grader_label.text() == "Grader: Dr Jane Grader"

    window.select_key(window.results.record(1).key)
    window.workspace.review.set_grades(0, 0)
    window.workspace.review.submit()
    assert window.findChildren(QInputDialog) == [] or not any(d.isVisible() for d in window.findChildren(QInputDialog))
    assert window.storage.decision(window.results.record(1).image_id).grader == "Dr Jane Grader"
    from ran_desktop.gui.settings import AppSettings

    assert AppSettings(data_dir).grader_name == "Dr Jane Grader"


def test_error_rows_cannot_be_reviewed(open_window, qtbot, bad_file):
    window = open_window()
    drop(window, [bad_file])
    wait_idle(qtbot, window, 1)
    window.select_key(window.results.record(0).key)
    assert not window.workspace.review.save_button.isEnabled()
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_2)
    window.workspace.review.submit()
    with Storage(window.storage.path) as store:
        assert store.audit_trail(window.results.record(0).image_id) == []


# --- the model advises, the grader decides ---------------------------------------------------------------------

@pytest.fixture
def trained_window(qtbot, tiny_bundle, data_dir, photos, tmp_path, monkeypatch):
    """The window with the tiny network marked as trained (on synthetic images): its grades can be accepted."""
    import shutil
    from dataclasses import replace

    from ran_desktop.engine.model.bundle import read_manifest
    from ran_desktop.engine.model.bundle_writer import write_manifest
    from ran_desktop.gui.settings import AppSettings

    folder = tmp_path / "trained-models"
    shutil.copytree(tiny_bundle, folder / "tiny-trained")
    m = read_manifest(folder / "tiny-trained")
    trained = replace(m, trained=True, training_data={**m.training_data, "synthetic": True})
    write_manifest(folder / "tiny-trained", trained)
    monkeypatch.setenv("RAN_MODELS_DIR", str(folder))
    AppSettings(data_dir).grader_name = "Dr Test"
    window = launch([], data_dir, folder)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=TIMEOUT_MS)
    return with_three_photos(window, qtbot, photos)


def test_a_trained_models_grades_are_not_in_the_form_until_the_grader_accepts_them(trained_window, qtbot):
    window = trained_window
    record = window.current_record()
    assert record.result.model.trained
    review = window.workspace.review
    assert review.dr_box.currentText() == "— choose —" and review.dme_box.currentText() == "— choose —"
    assert "Model: DR" in window.workspace.review.model_line.text()  # shown beside the form, not in it
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "Choose a DR and a DME grade" in window.workspace.review.problem.text()
    assert window.storage.decision(record.image_id) is None  # Ctrl+Enter alone confirms nothing

    qtbot.keyClick(window.workspace.table, Qt.Key.Key_A)  # accept: the model's grades go into the form
    review = window.workspace.review
    assert (review.dr_box.currentData(), review.dme_box.currentData()) == record.model_grades
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    stored = window.storage.decision(record.image_id)
    assert (stored.kind, stored.entry) == (CONFIRMED, ACCEPTED)
    assert window.storage.audit_trail(record.image_id)[-1].new.entry == ACCEPTED


def test_changing_an_accepted_grade_makes_it_the_graders_own(trained_window, qtbot):
    window = trained_window
    record = window.current_record()
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_A)
    other = (record.model_grades[0] + 1) % 5
    qtbot.keyClick(window.workspace.table, getattr(Qt.Key, f"Key_{other}"))
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    stored = window.storage.decision(record.image_id)
    assert (stored.dr_grade, stored.kind, stored.entry) == (other, OVERRIDDEN, GRADED)


def test_the_accept_key_does_nothing_for_untrained_weights(three, qtbot):
    window = three
    assert not window.workspace.review.accept_button.isEnabled()
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_A)
    assert window.workspace.review.dr_box.currentText() == "— choose —"


def test_after_saving_the_keys_go_back_to_the_list(three, qtbot):
    window = three
    window.workspace.review.patient_name.setFocus()
    qtbot.keyClicks(window.workspace.review.patient_name, "Doe")
    window.workspace.review.set_grades(1, 0)
    qtbot.keyClick(window.workspace.review.patient_name, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    saved = window.storage.decision(window.results.record(0).image_id)
    assert saved is not None and saved.patient_name == "Doe"
    assert window.workspace.table.hasFocus()
    # The grader's next keys grade and move on; they no longer land in the patient's name ("3n").
    second = window.current_record()
    assert second.key == window.results.record(1).key
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_3)
    assert window.workspace.review.dr_box.currentData() == 3 and window.workspace.review.patient_name.text() == ""
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_N)
    assert window.current_record().key == window.results.record(2).key


def test_a_grade_set_but_not_saved_is_kept_as_a_draft_when_moving_on(three, qtbot):
    window = three
    first = window.current_record()
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_2)  # a DR grade, no DME yet, not saved
    window.workspace.review.comment.setPlainText("check the temporal arcade")
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_N)
    assert window.current_record().key != first.key
    assert window.workspace.review.dr_box.currentText() == "— choose —"  # the next image's form is its own
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_P)
    assert window.current_record().key == first.key
    assert window.workspace.review.dr_box.currentData() == 2
    assert window.workspace.review.comment.toPlainText() == "check the temporal arcade"
    assert "Draft, not saved" in window.workspace.review.state.text()
    assert window.storage.decision(first.image_id) is None  # a draft is never stored by itself
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_0, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.storage.decision(first.image_id).dr_grade == 2
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_P)
    assert "Draft" not in window.workspace.review.state.text() and not window.workspace.review.has_draft(first.key)


def test_undo_the_last_decision_and_set_an_image_back_to_not_reviewed(three, qtbot):
    window = three
    first = window.current_record()
    window.workspace.review.set_grades(1, 0)
    window.workspace.review.submit()
    window.select_key(first.key)
    window.workspace.review.set_grades(4, 2)
    window.workspace.review.submit()  # a second decision on the same image, then on to the next
    assert window.current_record().key != first.key
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.current_record().key == first.key  # the undone image is shown
    assert window.storage.decision(first.image_id).dr_grade == 1
    assert (window.workspace.review.dr_box.currentData(), window.workspace.review.dme_box.currentData()) == (1, 0)
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Backspace, Qt.KeyboardModifier.ControlModifier)
    assert window.storage.decision(first.image_id) is None
    assert review_cell(window, window.results.row_of(first.key)) == "Not reviewed"
    assert window.workspace.review.dr_box.currentText() == "— choose —"
    trail = window.storage.audit_trail(first.image_id)
    assert [e.action for e in trail] == ["decision", "decision", "undo", "not reviewed"]
    assert all(e.grader == "Dr Test" for e in trail)


def test_blind_first_review_hides_the_model_until_the_grader_has_decided(trained_window, qtbot):
    from ran_desktop.engine.records.review import BLIND
    from ran_desktop.gui.results_model import BLIND_TEXT, BLIND_TIP

    window = trained_window
    window.settings.review_mode = BLIND
    window.apply_review_mode()
    record = window.current_record()
    row = window.results.row_of(record.key)
    for column in (Column.DR, Column.DME, Column.REFERABLE):
        assert window.results.index(row, column).data() == BLIND_TEXT
    review = window.workspace.review
    assert BLIND_TIP in review.model_line.text() and "Model: DR" not in review.model_line.text()
    assert not window.workspace.review.accept_button.isEnabled()
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_A)
    assert window.workspace.review.dr_box.currentText() == "— choose —"
    detail = window.workspace.detail
    assert not detail.dr_bars.isEnabled() and detail.referable_line.text() == BLIND_TIP
    assert window._heat_request() is None  # no heat map is even computed
    window.workspace.list_panel.filter_referable.setChecked(True)
    assert window.proxy.rowCount() == 0  # the referable filter cannot give hidden grades away
    window.workspace.list_panel.filter_referable.setChecked(False)
    window.workspace.list_tabs.setCurrentWidget(window.workspace.patients)
    qtbot.waitUntil(lambda: len(window.workspace.patients.groups) == 3, timeout=TIMEOUT_MS)
    assert window.workspace.patients.model.index(0, 1).data() == BLIND_TEXT
    window.workspace.list_tabs.setCurrentIndex(0)

    window.select_key(record.key)
    dr, dme = record.model_grades
    qtbot.keyClick(window.workspace.table, getattr(Qt.Key, f"Key_{dr}"))
    qtbot.keyClick(window.workspace.table, getattr(Qt.Key, f"Key_{dme}"), Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(window.workspace.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    stored = window.storage.decision(record.image_id)
    assert stored.review_mode == BLIND and window.storage.audit_trail(record.image_id)[-1].new.review_mode == BLIND
    window.select_key(record.key)  # decided: now the model's grades show, with the agreement
    line = window.workspace.review.model_line.text()
    assert "Model: DR" in line and "agrees with your grades" in line
    assert window.results.index(row, Column.DR).data() != BLIND_TEXT
    assert window.workspace.detail.dr_bars.isEnabled()
