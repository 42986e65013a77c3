"""Two graders, two windows, one database (an SQLite file named by URL, or a PostgreSQL server): the image one has
open is marked in the other's list and form, a decision over theirs is refused, and a decision saved in one window
appears in the other within seconds. Each window has its own data folder and settings, as two workstations do."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import TIMEOUT_MS, wait_idle
from PySide6.QtWidgets import QApplication, QMessageBox

from ran_desktop.app import launch
from ran_desktop.gui import shared_worklist
from ran_desktop.gui.results_model import CLAIMED_TEXT, Column
from ran_desktop.gui.settings import AppSettings


@pytest.fixture
def two_workstations(qtbot, target, tmp_path, models_folder, photos, monkeypatch):
    monkeypatch.setattr(shared_worklist, "POLL_MS", 250)  # the same code, asked more often
    monkeypatch.delenv("RAN_DATA_DIR", raising=False)
    url = f"sqlite:///{target}" if isinstance(target, Path) else target
    windows = []
    folder = photos(3, nested=False)
    for grader in ("Dr Ana", "Dr Ben"):
        data = tmp_path / grader.replace(" ", "-")
        settings = AppSettings(data)
        settings.grader_name = grader
        settings.database_url = url
        window = launch([folder] if not windows else [], data, models_folder)
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda w=window: w.controller.model_state == "ready", timeout=TIMEOUT_MS)
        if not windows:
            wait_idle(qtbot, window, 3)
        windows.append(window)
    return windows


def _review_cell(window, key: str) -> str:
    return window.results.index(window.results.row_of(key), Column.REVIEW).data()


def test_an_image_open_in_one_window_is_marked_and_protected_in_the_other(two_workstations, qtbot):
    ana, ben = two_workstations
    qtbot.waitUntil(lambda: ben.results.rowCount() == 3, timeout=TIMEOUT_MS)  # the same session, from the database
    assert ben.database == ana.database and ben.session_id == ana.session_id
    first, second = ana.results.record(0), ana.results.record(1)
    ana.select_key(first.key)
    qtbot.waitUntil(lambda: _review_cell(ben, first.key) == CLAIMED_TEXT, timeout=TIMEOUT_MS)
    tip = ben.results.index(ben.results.row_of(first.key), Column.REVIEW).data(3)  # ToolTipRole
    assert tip.startswith("Dr Ana on ") and tip.endswith("is grading this image now")

    ben.select_key(first.key)
    held = ben.workspace.review.held
    qtbot.waitUntil(lambda: held.isVisible() and "Dr Ana" in held.text(), timeout=TIMEOUT_MS)
    ben.workspace.review.set_grades(1, 0)
    ben.workspace.review.submit()
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert any("Dr Ana on" in b.text() and "not saved" in b.text() for b in boxes)
    for box in boxes:
        box.close()
    assert ben.storage.decision(first.image_id) is None

    # Ana moves on: her claim is let go, and Ben may grade it now.
    ana.select_key(second.key)
    qtbot.waitUntil(lambda: _review_cell(ben, first.key) != CLAIMED_TEXT, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not held.isVisible(), timeout=TIMEOUT_MS)
    ben.workspace.review.set_grades(1, 0)
    ben.workspace.review.submit()
    assert ben.storage.decision(first.image_id).grader == "Dr Ben"


def test_a_decision_saved_in_one_window_appears_in_the_other(two_workstations, qtbot):
    ana, ben = two_workstations
    qtbot.waitUntil(lambda: ben.results.rowCount() == 3, timeout=TIMEOUT_MS)
    record = ana.results.record(2)
    ana.select_key(record.key)
    ana.workspace.review.set_grades(3, 2)
    ana.workspace.review.submit()
    assert ana.storage.decision(record.image_id).grader == "Dr Ana"
    qtbot.waitUntil(lambda: ben.results.record(ben.results.row_of(record.key)).decision is not None,
                    timeout=TIMEOUT_MS)
    seen = ben.results.record(ben.results.row_of(record.key))
    assert (seen.decision.dr_grade, seen.decision.dme_grade, seen.decision.grader) == (3, 2, "Dr Ana")


def test_closing_a_window_lets_go_of_its_claim(two_workstations, qtbot):
    ana, ben = two_workstations
    qtbot.waitUntil(lambda: ben.results.rowCount() == 3, timeout=TIMEOUT_MS)
    record = ana.results.record(0)
    ana.select_key(record.key)
    qtbot.waitUntil(lambda: _review_cell(ben, record.key) == CLAIMED_TEXT, timeout=TIMEOUT_MS)
    ana.close()
    qtbot.waitUntil(lambda: _review_cell(ben, record.key) != CLAIMED_TEXT, timeout=TIMEOUT_MS)
    assert ben.storage.claimed_by_others(ben.session_id, ben.review_session.token) == {}


def test_a_reopened_session_lists_without_thumbnails_and_fetches_those_on_screen(open_window, photos, qtbot):
    """A long worklist must open without reading every picture: records come without thumbnails, and the rows the
    grader sees fetch theirs from the database (decoded in the worker) and show them."""
    first = open_window([photos(3, nested=False)])
    wait_idle(qtbot, first, 3)
    first.close()
    window = open_window()
    qtbot.waitUntil(lambda: window.results.rowCount() == 3, timeout=TIMEOUT_MS)
    assert all(r.thumbnail is None for r in window.results.records())
    icon = lambda: window.results.index(0, Column.THUMBNAIL).data(1)  # noqa: E731 (DecorationRole)
    icon()  # painting asks for it (the table may have painted it already); the picture follows from the database
    qtbot.waitUntil(lambda: icon() is not None and not icon().isNull(), timeout=TIMEOUT_MS)
    size = icon().availableSizes()[0]
    assert size.width() > 16 and size.height() > 16  # the photograph's thumbnail, not a file icon
