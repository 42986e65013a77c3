"""Grading a patient's two eyes together (Review > Grade patients): both eyes side by side, the worse eye deciding,
the grades saved for every photograph of each eye, and the next patient the most urgent one still to grade."""

from __future__ import annotations

import shutil

from gui_helpers import TIMEOUT_MS, wait_idle
from PySide6.QtWidgets import QApplication

from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.patient_queue import to_grade
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.gui import patient_form
from ran_desktop.gui.patient_form import PatientForm


def _form(window) -> PatientForm:
    window.commands.patients.trigger()
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, PatientForm) and w.isVisible())


def test_both_eyes_are_graded_together_and_the_next_patient_follows(open_window, sample_path, tmp_path, qtbot):
    folder = tmp_path / "clinic"
    folder.mkdir()
    for name in ("anna_OD.jpg", "anna_OS.jpg", "bob_OD.jpg", "bob_OS.jpg"):
        shutil.copyfile(sample_path, folder / name)
    window = open_window([folder])
    wait_idle(qtbot, window, 4)
    first = to_grade(group_by_patient(window.results.records(), window.settings.file_name_patterns))[0]
    form = _form(window)
    assert form.group.key == first.key
    assert [c.eye for c in form.columns] == [Eye.RIGHT, Eye.LEFT]  # right eye on the left, as the grader faces them
    qtbot.waitUntil(lambda: all(c.view.has_image for c in form.columns), timeout=TIMEOUT_MS)
    assert all(c.dr.currentData() is None for c in form.columns)  # nothing proposed
    assert "Grade every eye" in form.outcome.text()

    right, left = form.columns
    right.set_grades((1, 0))
    left.set_grades((3, 0))
    assert "Patient outcome: urgent referral" in form.outcome.text() and "worse eye decides" in form.outcome.text()
    form.next_button.click()
    for record in first.records:
        decision = window.storage.decision(record.image_id)
        expected = (1, 0) if record.eye is Eye.RIGHT else (3, 0)
        assert (decision.dr_grade, decision.dme_grade, decision.grader) == (*expected, "Dr Test")
        assert window.results.record(window.results.row_of(record.key)).decision is not None  # the list follows
    assert form.group is not None and form.group.key != first.key  # the other patient, next
    right, left = form.columns
    right.set_grades((0, 0))
    left.ungradable.setChecked(True)
    assert "ungradable" in form.outcome.text().lower()
    form.next_button.click()
    assert form.group is None and "Every patient of this session has been graded" in form.title.text()
    form.close()


def test_the_last_visit_is_shown_beside_today_and_the_change_saved(open_window, sample_path, tmp_path, qtbot):
    import cv2
    from dicom_factory import write_dicom

    photo = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    visits = {}
    for year, date in (("2025", "20250610"), ("2026", "20261201")):
        folder = tmp_path / year
        folder.mkdir()
        for side in ("R", "L"):
            write_dicom(folder / f"P77_{side}.dcm", photo, patient_id="P-77", study_date=date,
                        image_laterality=side)
        visits[year] = folder
    window = open_window([visits["2025"]])
    wait_idle(qtbot, window, 2)
    for record in window.results.records():  # last year: right eye DR 1, left eye DR 2
        window.storage.save_decision(record.image_id, GraderDecision(1 if record.eye is Eye.RIGHT else 2, 0,
                                                                     grader="Dr Then"))
    window.start_new_session()
    window.add_paths([visits["2026"]])
    wait_idle(qtbot, window, 2)
    form = _form(window)
    right, left = form.columns
    qtbot.waitUntil(lambda: "Last visit" in right.last_text.text() and "Last visit" in left.last_text.text(),
                    timeout=TIMEOUT_MS)
    assert "(2025-06-10): DR 1, DME 0, graded by Dr Then" in right.last_text.text()
    assert "DR 2, DME 0" in left.last_text.text() and not right.last_picture.pixmap().isNull()
    right.set_grades((2, 0))  # worse
    left.set_grades((2, 0))  # the same
    assert "Since the last visit: worse" in right.change.text() and "same" in left.change.text()
    form.save_button.click()
    saved = {r.eye: window.storage.decision(r.image_id) for r in window.results.records()}
    assert (saved[Eye.RIGHT].change, saved[Eye.LEFT].change) == ("worse", "same")
    right.set_grades((3, 0))  # a second thought, saved from the same form: it builds on the first save
    form.save_button.click()
    assert form.problem.text() == "Saved."
    saved = {r.eye: window.storage.decision(r.image_id) for r in window.results.records()}
    assert (saved[Eye.RIGHT].dr_grade, saved[Eye.RIGHT].change, saved[Eye.LEFT].dr_grade) == (3, "worse", 2)
    form.close()


def test_a_large_worklist_is_queued_in_a_worker_from_the_list_entries(open_window, sample_path, tmp_path, qtbot,
                                                                       monkeypatch):
    """From QUEUE_IN_WORKER_FROM images the form finds the next patient in a worker thread, from the rows' entries,
    saying so meanwhile; it shows the same patient as the queue of full records, and goes on after a save."""
    folder = tmp_path / "clinic"
    folder.mkdir()
    for name in ("cara_OD.jpg", "cara_OS.jpg", "dev_OD.jpg"):
        shutil.copyfile(sample_path, folder / name)
    window = open_window([folder])
    wait_idle(qtbot, window, 3)
    queue = [g.key for g in to_grade(group_by_patient(window.results.records(), window.settings.file_name_patterns))]
    monkeypatch.setattr(patient_form, "QUEUE_IN_WORKER_FROM", 2)
    form = _form(window)
    assert form.queue_in_worker_from == 2
    assert form.group is None and "Finding the next patient" in form.title.text()
    assert not form.next_button.isEnabled()  # nothing to save until a patient is shown
    qtbot.waitUntil(lambda: form.group is not None, timeout=TIMEOUT_MS)
    assert form.group.key == queue[0] and form.next_button.isEnabled()
    assert all(type(r).__name__ == "ImageRecord" for r in form.group.records)  # the patient's full records
    qtbot.waitUntil(lambda: all(c.view.has_image for c in form.columns), timeout=TIMEOUT_MS)
    for column in form.columns:
        column.set_grades((0, 0))
    form.next_button.click()
    qtbot.waitUntil(lambda: form.group is not None, timeout=TIMEOUT_MS)
    assert form.group.key == queue[1]
    form.columns[0].set_grades((1, 0))
    form.next_button.click()
    qtbot.waitUntil(lambda: not form.queueing and "Every patient" in form.title.text(), timeout=TIMEOUT_MS)
    assert form.group is None
    form.close()
