"""File > Sessions: every earlier session in the database, searchable by file name or patient, to reopen (and
then review, export or report on, as any session)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ran_desktop.engine.records.storage import SessionSummary

_COLUMNS = ("Session", "Started (UTC)", "Images", "Reviewed")


class SessionsDialog(QDialog):
    def __init__(self, sessions: Callable[[str], list[SessionSummary]], current: int,
                 open_session: Callable[[int], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sessionsDialog")
        self.setWindowTitle("Sessions")
        self._sessions, self._current, self._open = sessions, current, open_session
        self.search = QLineEdit()
        self.search.setPlaceholderText("File name, folder or patient")
        self.search.setClearButtonEnabled(True)
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.open_selected)
        self.buttons.rejected.connect(self.reject)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        row = QHBoxLayout()
        row.addWidget(QLabel("Search:"))
        row.addWidget(self.search, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Earlier sessions stay in the database with their decisions and audit trail. "
                                "Open one to review it, export its results or write its reports."))
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        self.search.textChanged.connect(self.refresh)
        self.resize(self.fontMetrics().averageCharWidth() * 80, self.fontMetrics().height() * 24)
        self.refresh()

    def refresh(self) -> None:
        sessions = self._sessions(self.search.text())
        self.table.setRowCount(len(sessions))
        for row, s in enumerate(sessions):
            label = f"{s.id}{' (open now)' if s.id == self._current else ''}"
            for column, text in enumerate((label, s.started_at.replace("T", " ")[:19], str(s.images),
                                           f"{s.reviewed} of {s.images}")):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, s.id)
                self.table.setItem(row, column, item)
        if sessions:
            self.table.selectRow(0)
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(bool(sessions))

    def open_selected(self) -> None:
        items = self.table.selectedItems()
        if not items:
            return
        self._open(int(items[0].data(Qt.ItemDataRole.UserRole)))
        self.accept()
