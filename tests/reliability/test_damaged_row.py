"""One damaged row must not keep the app from opening (red-team issue, item 11)."""

from __future__ import annotations

import sqlite3

from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.storage import DAMAGED_ROW, DATABASE_NAME, Storage, open_storage


def _three_images(loaded, sample_path, tmp_path):
    from ran_desktop.engine.screening.batch import BatchRun

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        (folder / f"eye{i}_OS.jpg").write_bytes(sample_path.read_bytes() + bytes([i]))
    data = tmp_path / "data"
    with open_storage(data) as store:
        session = store.current_session()
    BatchRun(loaded, data / DATABASE_NAME, session, [folder]).run(lambda n: None, lambda *a: None)
    return data, session


def _cut_one_byte(data, image_id: int) -> None:
    """A JSON cell cut by one byte: SQLite's quick_check still says ok."""
    with sqlite3.connect(data / DATABASE_NAME, isolation_level=None) as db:
        db.execute("UPDATE images SET metadata = substr(metadata, 1, length(metadata) - 1) WHERE id = ?", (image_id,))
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def test_a_damaged_row_is_set_aside_and_reported(loaded, sample_path, tmp_path):
    data, session = _three_images(loaded, sample_path, tmp_path)
    _cut_one_byte(data, 2)
    with Storage(data / DATABASE_NAME) as store:
        records = store.load_session(session)
        assert [r.image_id for r in records] == [1, 3]
        assert len(store.unreadable_rows) == 1 and store.unreadable_rows[0].startswith("image 2 (")
        assert "eye1_OS.jpg" in store.unreadable_rows[0]
    with sqlite3.connect(data / DATABASE_NAME) as db:
        kept = db.execute("SELECT metadata FROM images WHERE id = 2").fetchone()[0]
    assert kept  # kept as it is, for whoever recovers it


def test_a_long_worklist_lists_a_damaged_row_as_an_error_that_says_so(loaded, sample_path, tmp_path):
    """The worklist reads records as rows are shown (record_list.py): a damaged row is found then, listed as an
    error naming the image, and reported; its neighbours read normally."""
    data, session = _three_images(loaded, sample_path, tmp_path)
    _cut_one_byte(data, 2)
    with Storage(data / DATABASE_NAME) as store:
        listed = store.list_session(session)
        assert [listed.entry(row).image_id for row in range(3)] == [1, 2, 3]
        assert store.unreadable_rows == []  # nothing read yet: the list columns are not the damaged cell
        first, damaged, last = listed
        assert first.status is Status.SCREENED and last.status is Status.SCREENED
        assert damaged.status is Status.ERROR and damaged.image_id == 2 and damaged.key == listed.entry(1).key
        assert damaged.result.error.startswith(DAMAGED_ROW) and "image 2 (" in damaged.result.error
        assert len(store.unreadable_rows) == 1 and "eye1_OS.jpg" in store.unreadable_rows[0]


def test_the_app_opens_with_the_rest(loaded, sample_path, tmp_path, qtbot, tiny_bundle):
    from PySide6.QtWidgets import QMessageBox

    from ran_desktop.app import launch
    from ran_desktop.gui.settings import AppSettings

    data, session = _three_images(loaded, sample_path, tmp_path)
    _cut_one_byte(data, 2)
    AppSettings(data).grader_name = "Dr Test"
    window = launch([], data, tiny_bundle.parent)
    qtbot.addWidget(window)
    assert window.results.rowCount() == 3
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)), timeout=10_000)
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert box.windowTitle() == "Some results cannot be read" and "image 2 (" in box.text()
    assert "listed as errors" in box.text()
    damaged = window.results.record(1)
    assert damaged.status is Status.ERROR and "cannot be read" in damaged.result.error
    assert [window.results.record(row).status for row in (0, 2)] == [Status.SCREENED, Status.SCREENED]
