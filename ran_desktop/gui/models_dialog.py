"""Review > Models on this workstation: the installation's bundle and the local ones fine-tuned here, what trained
each, how a local one compared with its parent on held-out reviewed images, and which one screens.

Choosing is a person's act: nothing switches by itself, a local bundle worse than its parent is flagged in red, and
results already made keep the model they were made with (each says which).
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ran_desktop.engine.model.catalogue import BundleEntry, list_bundles

WORSE = QColor("#a00000")
_COLUMNS = ("Model", "Where", "Trained on", "Held-out reviewed images: parent -> this", "")


def _figures(entry: BundleEntry) -> str:
    if not entry.local:
        return "—"
    before, after = entry.held_out("parent"), entry.held_out("local")

    def pair(key: str) -> str:
        b, a = before.get(key), after.get(key)
        return f"{'—' if b is None else f'{b:.2f}'} -> {'—' if a is None else f'{a:.2f}'}"

    return f"sensitivity {pair('sensitivity')}, specificity {pair('specificity')}, AUC {pair('auc')}"


class ModelsDialog(QDialog):
    useRequested = Signal(str)  # the bundle folder chosen; '' for the installation's default

    def __init__(self, installed: Path, data_dir: Path, in_use: Path | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("modelsDialog")
        self.setWindowTitle("Models on this workstation")
        self.entries = list_bundles(installed, data_dir)
        self.in_use = in_use.resolve() if in_use else None
        intro = QLabel("The model that screens is the installation's unless someone here chose another. Results "
                       "already made keep the model they were made with; each result and report names it.")
        intro.setWordWrap(True)
        self.table = QTableWidget(len(self.entries), len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)  # long: elided, whole in the tooltip
        header.setStretchLastSection(True)
        for row, entry in enumerate(self.entries):
            self._fill(row, entry)
        self.table.setColumnWidth(2, self.fontMetrics().averageCharWidth() * 36)
        self.table.setWordWrap(False)
        self.note = QLabel()
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.use_button = QPushButton("Use this model")
        self.default_button = QPushButton("Use the installation's model")
        for button in (self.use_button, self.default_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.use_button.clicked.connect(self.use_selected)
        self.default_button.clicked.connect(lambda: self._use(""))
        self.table.itemSelectionChanged.connect(self._selected)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        lines, chars = self.fontMetrics().height(), self.fontMetrics().averageCharWidth()
        self.resize(chars * 190, lines * 22)
        self.use_button.setEnabled(False)

    def _fill(self, row: int, entry: BundleEntry) -> None:
        using = self.in_use is not None and entry.folder.resolve() == self.in_use
        state = "in use" if using else ""
        if entry.worse_than_parent:
            state = (state + "; " if state else "") + "worse than its parent"
        values = (entry.manifest.title, "fine-tuned here" + (f" from {entry.parent}" if entry.parent else "")
                  if entry.local else "the installation's", entry.manifest.training_data.get("description", ""),
                  _figures(entry), state)
        for column, text in enumerate(values):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if entry.worse_than_parent:
                item.setForeground(QBrush(WORSE))
            if using:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(row, column, item)

    def selected(self) -> BundleEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def _selected(self) -> None:
        entry = self.selected()
        self.use_button.setEnabled(entry is not None)
        if entry is None:
            self.note.setText("")
        elif entry.worse_than_parent:
            self.note.setText(f"<b style='color:{WORSE.name()}'>{html.escape(entry.manifest.title)} did worse "
                              "than its parent on the reviewed images held out from its training: it found fewer "
                              "referable eyes, ranked them worse, or found no more while sending more healthy eyes "
                              "on. It is not offered as the model to use; choose it only to look.</b>")
        else:
            self.note.setText(html.escape(entry.manifest.intended_use))

    def use_selected(self) -> None:
        entry = self.selected()
        if entry is not None:
            self._use("" if not entry.local and entry is self.entries[0] else str(entry.folder))

    def _use(self, folder: str) -> None:
        self.useRequested.emit(folder)
        self.accept()

    def select_folder(self, folder: Path) -> bool:
        for row, entry in enumerate(self.entries):
            if entry.folder.resolve() == Path(folder).resolve():
                self.table.selectRow(row)
                return True
        return False

    def keyPressEvent(self, event) -> None:  # Return uses the selected model, as a double click would
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.use_button.isEnabled():
            self.use_selected()
            return
        super().keyPressEvent(event)
