"""The worklist: filters, sorting, and the patient view where the worse eye decides."""

from __future__ import annotations

import cv2
import pytest
from dicom_factory import write_dicom
from gui_helpers import TIMEOUT_MS, drop, wait_idle
from PySide6.QtCore import Qt

from ran_desktop.engine.grading import Outcome
from ran_desktop.engine.review import Decision
from ran_desktop.gui.results_model import RECORD_ROLE, Column


@pytest.fixture
def worklist(open_window, qtbot, sample_path, black_photo, bad_file, tmp_path):
    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    person = dict(patient_id="P-0042", patient_name="Doe^Jane")
    left = write_dicom(tmp_path / "left.dcm", rgb, image_laterality="L", **person)
    right = write_dicom(tmp_path / "right.dcm", rgb[:, ::-1].copy(), image_laterality="R", **person)
    window = open_window()
    drop(window, [sample_path, black_photo, bad_file, left, right])
    wait_idle(qtbot, window, 5)
    return window


def shown(window) -> list[str]:
    return [window.proxy.index(i, 0).data(RECORD_ROLE).result.path.name for i in range(window.proxy.rowCount())]


def decide(window, name: str, dr: int | None, dme: int | None) -> None:
    record = next(r for r in window.results.records() if r.result.path.name == name)
    stored = window.storage.save_decision(record.image_id, Decision(dr, dme, kind="overridden", grader="Dr Test"))
    window.results.update_record(record.with_decision(stored))


def test_filters(worklist, qtbot):
    window = worklist
    everything = ["normal_fundus_OS.jpg", "black_OD.png", "scan_notes.jpg", "left.dcm", "right.dcm"]
    assert sorted(shown(window)) == sorted(everything)
    referable = sorted(r.result.path.name for r in window.results.records() if r.referable)
    assert referable and "black_OD.png" not in referable

    window.filter_referable.click()
    assert sorted(shown(window)) == referable
    decide(window, referable[0], 0, 0)  # the grader says otherwise: it leaves the filtered list at once
    assert sorted(shown(window)) == referable[1:]
    assert window.count_label.text() == f"{len(referable) - 1} of 5"

    window.filter_referable.click()
    window.filter_ungradable.click()
    assert sorted(shown(window)) == ["black_OD.png", "scan_notes.jpg"]
    window.filter_referable.click()  # both: everything that needs action
    assert sorted(shown(window)) == sorted(["black_OD.png", "scan_notes.jpg", *referable[1:]])

    window.filter_referable.click()
    window.filter_ungradable.click()
    window.filter_unreviewed.click()
    assert referable[0] not in shown(window) and "scan_notes.jpg" not in shown(window)
    assert len(shown(window)) == 3

    window.filter_unreviewed.click()
    qtbot.keyClicks(window.search, "p-0042")
    assert sorted(shown(window)) == ["left.dcm", "right.dcm"]
    window.search.clear()
    assert len(shown(window)) == 5


def test_sorting_by_column_follows_new_decisions(worklist):
    window = worklist
    decide(window, "left.dcm", 4, 2)
    window.table.sortByColumn(Column.DR, Qt.SortOrder.DescendingOrder)
    order = shown(window)
    assert order[0] == "left.dcm" and order[-1] == "scan_notes.jpg"  # unreadable files sort last
    decide(window, "left.dcm", 0, 0)
    decide(window, "right.dcm", 3, 0)
    order = shown(window)
    assert order[0] == "right.dcm" and order.index("left.dcm") > order.index("normal_fundus_OS.jpg")
    window.table.sortByColumn(Column.FILE, Qt.SortOrder.AscendingOrder)
    assert shown(window) == sorted(shown(window), key=str.casefold)


def test_patients_are_grouped_and_the_worse_eye_decides(worklist, qtbot):
    window = worklist
    window.list_tabs.setCurrentWidget(window.patients)
    qtbot.waitUntil(lambda: len(window.patients.groups) == 4, timeout=TIMEOUT_MS)
    jane = next(g for g in window.patients.groups if g.patient_id == "P-0042")
    assert sorted(r.result.path.name for r in jane.records) == ["left.dcm", "right.dcm"]
    assert jane.caveat == "untrained model"  # rests on the model's unconfirmed grades

    decide(window, "left.dcm", 4, 0)
    decide(window, "right.dcm", 0, 0)
    qtbot.waitUntil(lambda: next(g for g in window.patients.groups if g.patient_id == "P-0042").reviewed,
                    timeout=TIMEOUT_MS)
    jane = next(g for g in window.patients.groups if g.patient_id == "P-0042")
    assert jane.decision.recommendation.outcome is Outcome.URGENT_REFERRAL
    assert jane.decision.worst_dr_grade == 4 and jane.caveat == ""
    model = window.patients.model
    row = next(i for i, g in enumerate(model.groups) if g.patient_id == "P-0042")
    top = model.index(row, 0)
    assert top.data() == "Doe, Jane (P-0042)"
    assert model.index(row, 1).data() == "Urgent referral" and model.rowCount(top) == 2

    # Choosing an image in the patient view opens it in the list and the detail view.
    child = next(model.index(i, 0, top) for i in range(2) if model.index(i, 0, top).data().startswith("right.dcm"))
    window.patients.tree.setCurrentIndex(child)
    assert window.current_record().result.path.name == "right.dcm"
    summary = window.patients.summary.text()
    assert "Urgent referral" in summary and "Refer urgently to an ophthalmologist" in summary

    black = next(g for g in window.patients.groups if g.records[0].result.path.name == "black_OD.png")
    assert black.decision.recommendation.outcome is Outcome.UNGRADABLE  # never "no DR"
    unreadable = next(g for g in window.patients.groups if g.records[0].result.path.name == "scan_notes.jpg")
    assert unreadable.decision is None


def test_ctrl_a_selects_every_patient_as_one_range(worklist, qtbot):
    # Qt's own select-all added a range per expanded patient; with thousands the window froze for seconds.
    window = worklist
    window.list_tabs.setCurrentWidget(window.patients)
    qtbot.waitUntil(lambda: len(window.patients.groups) == 4, timeout=TIMEOUT_MS)
    tree = window.patients.tree
    tree.setFocus()
    qtbot.keyClick(tree, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    selection = tree.selectionModel().selection()
    assert len(selection) == 1
    assert sorted(i.row() for i in tree.selectionModel().selectedRows()) == [0, 1, 2, 3]
    assert len(window.reports.selected_keys()) == 5  # every image of every patient, for Reports > selected
