"""Where the grader is in the worklist: the image shown, moving to another, and the view kept steady as rows arrive.

Works on the list as the grader sees it: the filtered table, or the patient tree where that tab is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QPoint
from PySide6.QtWidgets import QAbstractItemView, QTableView

from ran_desktop.gui.results_model import KEY_ROLE, RECORD_ROLE, Column

if TYPE_CHECKING:
    from ran_desktop.engine.records.review import ImageRecord
    from ran_desktop.gui.results_filter import ResultsFilterProxy
    from ran_desktop.gui.results_model import ResultsTableModel
    from ran_desktop.gui.status_bar import AppStatusBar
    from ran_desktop.gui.workspace import Workspace

SELECT_ROW = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows


class Worklist:
    def __init__(self, results: ResultsTableModel, proxy: ResultsFilterProxy, workspace: Callable[[], Workspace],
                 built: Callable[[], Workspace | None], status: AppStatusBar):
        self.results = results
        self.proxy = proxy
        self._workspace = workspace  # builds it where it is not built yet
        self._built = built  # None until the window has built it
        self._status = status

    def current_record(self) -> ImageRecord | None:
        ws = self._built()
        if ws is None:
            return None
        index = ws.table.currentIndex()
        return index.data(RECORD_ROLE) if index.isValid() else None

    def select_key(self, key: str) -> bool:
        row = self.results.row_of(key)
        if row is None:
            return False
        ws = self._workspace()
        index = self.proxy.mapFromSource(self.results.index(row, Column.FILE))
        if not index.isValid():
            self._status.showMessage("That image is hidden by the filters", 4000)
            return False
        ws.table.selectionModel().setCurrentIndex(index, SELECT_ROW)
        ws.table.scrollTo(index)
        return True

    def move(self, step: int) -> None:
        """To the image `step` places on (N/P), or the first with 0; along the patient tree where it is shown."""
        ws = self._built()
        rows = self.proxy.rowCount()
        if not rows or ws is None:
            return
        if ws.patients_shown():
            keys = ws.patients.image_keys()
            record = self.current_record()
            at = keys.index(record.key) if record is not None and record.key in keys else -1
            if keys:
                self.select_key(keys[0 if at < 0 else max(0, min(len(keys) - 1, at + step))])
            return
        current = ws.table.currentIndex()
        row = 0 if not current.isValid() else max(0, min(rows - 1, current.row() + step))
        ws.table.selectionModel().setCurrentIndex(self.proxy.index(row, Column.FILE), SELECT_ROW)
        ws.table.scrollTo(self.proxy.index(row, Column.FILE))

    def neighbour_key(self, key: str) -> str | None:
        """The image after `key` in the list as shown (or before it, at the end)."""
        ws = self._built()
        if ws is not None and ws.patients_shown():
            keys = ws.patients.image_keys()
            if key in keys:
                at = keys.index(key)
                for candidate in (at + 1, at - 1):
                    if 0 <= candidate < len(keys):
                        return keys[candidate]
                return None
        row = self.results.row_of(key)
        if row is None:
            return None
        index = self.proxy.mapFromSource(self.results.index(row, 0))
        for candidate in (index.row() + 1, index.row() - 1):
            if 0 <= candidate < self.proxy.rowCount():
                return self.proxy.index(candidate, 0).data(RECORD_ROLE).key
        return None

    def add_records(self, records: Iterable[ImageRecord], table: QTableView) -> None:
        """Add screened records. New rows may sort in above what the grader is looking at: the current (else the
        top) row stays where it is on screen, so the list does not jump under the cursor while a batch runs."""
        anchor = table.currentIndex() if table.currentIndex().isValid() else table.indexAt(QPoint(1, 1))
        key = anchor.data(KEY_ROLE) if anchor.isValid() else None
        before = table.rowViewportPosition(anchor.row()) if anchor.isValid() else 0
        self.results.add_records(list(records))
        row = self.results.row_of(key) if key else None
        if row is not None:
            moved = self.proxy.mapFromSource(self.results.index(row, 0))
            shift = table.rowViewportPosition(moved.row()) - before if moved.isValid() else 0
            if shift:
                bar = table.verticalScrollBar()
                per_pixel = table.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerPixel
                bar.setValue(bar.value() + (shift if per_pixel else round(shift / max(table.rowHeight(0), 1))))
        if not table.currentIndex().isValid() and self.proxy.rowCount():
            table.setCurrentIndex(self.proxy.index(0, Column.FILE))  # a newcomer sees a result at once
