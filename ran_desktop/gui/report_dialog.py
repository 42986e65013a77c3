"""The two windows of a report export: its progress (with Cancel), and what was written when it ends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

# More notes than this go behind "Show Details…": a long list must not push the buttons off the screen.
NOTES_SHOWN = 8


class ReportProgressDialog(QDialog):
    """Window-modal while reports are written, so the decisions being reported cannot change underneath them.

    A plain dialog rather than QProgressDialog: that one pumps the event loop inside setValue() when modal and
    reports a cancel when closed, both of which would re-enter the exporter.
    """

    cancelRequested = Signal()

    def __init__(self, patients: int, with_summary: bool, folder: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("reportProgress")
        self.setWindowTitle("Writing reports")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.patients = patients
        self._finished = False
        where = QLabel(f"Into {folder}")
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label = QLabel()
        self.label.setObjectName("reportProgressLabel")
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, patients + (1 if with_summary else 0))
        self.bar.setValue(0)
        self.bar.setFormat("%v / %m")
        buttons = QDialogButtonBox()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the report being written; reports already written are kept")
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.cancel_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(where)
        layout.addWidget(buttons)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 60)
        self.show_patients(0)

    def show_patients(self, done: int) -> None:
        self.bar.setValue(done)
        if done < self.patients:
            self.label.setText(f"Writing the report for patient {done + 1} of {self.patients}…")

    def show_summary(self) -> None:
        self.bar.setValue(self.patients)
        self.label.setText("Writing the batch summary…")

    def reject(self) -> None:
        # Cancel, Esc and the close button all ask the worker to stop; the exporter closes the dialog when it has.
        if self._finished:
            super().reject()
            return
        self.cancel_button.setEnabled(False)
        self.label.setText("Cancelling: the report being written is finished first; reports already written are "
                           "kept…")
        self.cancelRequested.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._finished:
            event.accept()
            return
        event.ignore()
        self.reject()

    def finish(self) -> None:
        self._finished = True
        self.close()
        self.deleteLater()


def show_report_outcome(
    parent: QWidget | None,
    title: str,
    text: str,
    notes: Sequence[str],
    folder: Path | None,
    open_folder: Callable[[Path], object],
    *,
    icon: QMessageBox.Icon = QMessageBox.Icon.Information,
) -> QMessageBox:
    """What an export did, its notes (renamed files, DICOM copies left out), and a button to open the folder.

    Non-blocking (open(), not exec()); `folder` None leaves the button out (nothing was written).
    """
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("reportOutcome")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if notes:
        shown = [f"• {note}" for note in notes[:NOTES_SHOWN]]
        if len(notes) > NOTES_SHOWN:
            shown.append(f"… and {len(notes) - NOTES_SHOWN} more (Show Details…).")
            box.setDetailedText("\n".join(notes))
        box.setInformativeText("\n".join(shown))
    if folder is not None:
        button = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
        button.setObjectName("openReportFolder")
        button.setToolTip(str(folder))
        button.clicked.connect(lambda _checked=False: open_folder(folder))
    box.setDefaultButton(QMessageBox.StandardButton.Ok)
    box.open()
    return box
