"""Messages for the user: readable text first, details (a traceback) only on request, never blocking a worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtWidgets
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    pass


def show_message(
    parent: QWidget | None, title: str, text: str, *, icon: QtWidgets.QMessageBox.Icon | None = None
) -> QtWidgets.QMessageBox:
    """A window-modal message that does not block the caller (open(), not exec()); a warning unless `icon` says."""
    message_box = QtWidgets.QMessageBox  # its Python type is made on first use: not needed to open the window
    box = message_box(icon or message_box.Icon.Warning, title, text, message_box.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()
    return box


class ErrorDialog(QDialog):
    """'Something went wrong' with the details to copy. Later errors are appended while it is open."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle("RAN Screening: unexpected error")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        note = QLabel(
            "The app is still running and everything already saved is safe. If this happens again, copy the "
            "details below and send them to whoever supports this installation."
        )
        note.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy details")
        copy.setToolTip("Copy the error details to the clipboard")
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(note)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 90, self.fontMetrics().height() * 24)

    def add(self, summary: str, details: str) -> None:
        self.summary.setText(summary)
        text = self.details.toPlainText()
        self.details.setPlainText(f"{text}\n{'-' * 60}\n{details}" if text else details)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())

    def closeEvent(self, event) -> None:
        self.details.clear()
        super().closeEvent(event)

