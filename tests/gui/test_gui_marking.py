"""Marking lesions in the window: a click marks a point and a drag an outline, in the photograph's own pixels; the
marks are drawn, saved with the decision (audited), come back when the image is shown again, and appear in the
patient's report."""

from __future__ import annotations

import io

import numpy as np
import pytest
from gui_helpers import TIMEOUT_MS, wait_idle
from pypdf import PdfReader
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from ran_desktop.engine.imaging.views import ORIGINAL
from ran_desktop.engine.records.lesion_marks import HAEMORRHAGE, MICROANEURYSM
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.gui.view_modes import GRADCAM
from ran_desktop.reports import ReportContext, build_patient_report


def _screen_point(view, x: float, y: float) -> QPoint:
    return view.mapFromScene(QPointF(x, y))


def test_marks_are_drawn_saved_with_the_decision_and_reported(open_window, sample_path, qtbot):
    window = open_window([sample_path])
    wait_idle(qtbot, window, 1)
    detail, review = window.workspace.detail, window.workspace.review
    qtbot.waitUntil(lambda: ORIGINAL in detail.images, timeout=TIMEOUT_MS)
    record = window.results.record(0)
    width, height = record.result.metadata.original_size

    detail.set_mode(GRADCAM)
    detail.marks_button.kind_actions[MICROANEURYSM].trigger()
    assert detail.mode == ORIGINAL  # marks go on the whole photograph, not the model's crop
    view = detail.view
    picture = view.base.pixmap()
    scale = picture.width() / width
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     _screen_point(view, picture.width() * 0.4, picture.height() * 0.5))
    assert len(review.marks) == 1 and review.marks[0].kind == MICROANEURYSM
    x, y = review.marks[0].points[0]
    assert x == pytest.approx(picture.width() * 0.4 / scale, abs=2 / scale)
    assert y == pytest.approx(picture.height() * 0.5 / scale, abs=2 / scale)

    next(a for a in window.commands.marking if a.text() == f"Mark {HAEMORRHAGE}s").trigger()  # View > Mark lesions
    assert detail.marking.kind == HAEMORRHAGE and detail.marks_button.text() == f"Marking: {HAEMORRHAGE}"
    corners = [(0.6, 0.3), (0.7, 0.3), (0.7, 0.4), (0.6, 0.4)]
    first = _screen_point(view, picture.width() * corners[0][0], picture.height() * corners[0][1])
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first)
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):  # round the square, in steps
        for t in np.linspace(0.2, 1.0, 4):
            QTest.mouseMove(view.viewport(), _screen_point(view, picture.width() * (ax + t * (bx - ax)),
                                                           picture.height() * (ay + t * (by - ay))))
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       _screen_point(view, picture.width() * corners[0][0], picture.height() * corners[0][1]))
    assert [m.kind for m in review.marks] == [MICROANEURYSM, HAEMORRHAGE]
    outline = np.array(review.marks[1].points)
    assert review.marks[1].shape == "outline" and len(outline) >= 3
    assert outline[:, 0].min() == pytest.approx(width * 0.6, rel=0.03) and outline[:, 0].max() == pytest.approx(
        width * 0.7, rel=0.03)
    assert detail.marks_item.marks == review.marks and detail.marks_item.isVisible()
    assert review.marks_line.text() == "Marked: 1 microaneurysm, 1 haemorrhage"

    detail.marks_button.kind_actions[None].trigger()  # back to panning
    review.set_grades(2, 0)
    review.submit()
    stored = window.storage.decision(record.image_id)
    assert [m.kind for m in stored.marks] == [MICROANEURYSM, HAEMORRHAGE]
    assert window.storage.audit_trail(record.image_id)[-1].new.marks == stored.marks

    window.select_key(record.key)  # shown again: the saved marks are back on the picture
    qtbot.waitUntil(lambda: len(detail.marks_item.marks) == 2, timeout=TIMEOUT_MS)

    records = window.storage.load_session(window.session_id)
    pdf = build_patient_report(group_by_patient(records)[0], ReportContext.for_model(window.controller.loaded))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Grader's lesion marks on the photograph: 1 microaneurysm (yellow), 1 haemorrhage (cyan)." in text


def test_the_macular_grid_where_the_grader_put_it_is_saved_with_the_decision(open_window, sample_path, qtbot):
    from ran_desktop.engine.imaging.views import MACULA

    window = open_window([sample_path])
    wait_idle(qtbot, window, 1)
    detail, review = window.workspace.detail, window.workspace.review
    record = window.results.record(0)
    qtbot.waitUntil(lambda: detail.grid is not None, timeout=TIMEOUT_MS)
    detail.set_mode(MACULA)
    item = detail.view.grid_item
    scale = detail.images[ORIGINAL].width() / record.result.metadata.original_size[0]
    found = detail.grid.fovea
    item.moveBy(40, -25)  # as a drag moves it: the item reports where it went
    assert review.fovea == pytest.approx(((found[0] + 40) / scale, (found[1] - 25) / scale), abs=0.1)
    review.set_grades(1, 0)
    review.submit()
    saved = window.storage.decision(record.image_id).fovea
    assert saved == pytest.approx(((found[0] + 40) / scale, (found[1] - 25) / scale), abs=0.1)
    window.close()

    again = open_window()  # another day: the grid is where the grader left it
    qtbot.waitUntil(lambda: again.results.rowCount() == 1, timeout=TIMEOUT_MS)
    again.select_key(record.key)
    shown = again.workspace.detail
    qtbot.waitUntil(lambda: shown.grid is not None and shown.grid.fovea != found, timeout=TIMEOUT_MS)
    assert shown.grid.fovea == pytest.approx((found[0] + 40, found[1] - 25), abs=0.2)
