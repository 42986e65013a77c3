"""What a newcomer sees before any image is screened: how to bring images in, and the sample to try at once."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget


class EmptyState(QWidget):
    sampleRequested = Signal()
    openFilesRequested = Signal()
    openFolderRequested = Signal()

    def __init__(self, formats: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("emptyState")
        title = QLabel("Screen colour fundus photographs for diabetic retinopathy")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        hint = QLabel("Drop photographs or folders anywhere on this window, or open them from the File menu.")
        formats_label = QLabel(f"Reads {formats}. Folders are searched recursively.")
        self.status = QLabel()
        self.status.setObjectName("emptyStateStatus")
        self.sample_button = QPushButton("Try the sample photograph")
        self.sample_button.setObjectName("trySampleButton")
        self.sample_button.setToolTip(
            "Screen the bundled photograph of a normal left eye to see what a result looks like"
        )
        self.sample_button.setDefault(True)
        self.files_button = QPushButton("Open files…")
        self.folder_button = QPushButton("Open folder…")
        for label in (title, hint, formats_label, self.status):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.sample_button, self.files_button, self.folder_button):
            buttons.addWidget(button)
        buttons.addStretch(1)

        frame = QWidget()
        frame.setObjectName("dropZone")
        frame.setStyleSheet("#dropZone { border: 2px dashed palette(mid); border-radius: 12px; }")
        inner = QVBoxLayout(frame)
        spacing = self.fontMetrics().height()
        inner.setContentsMargins(spacing * 2, spacing * 2, spacing * 2, spacing * 2)
        inner.setSpacing(spacing)
        inner.addWidget(title)
        inner.addWidget(hint)
        inner.addLayout(buttons)
        inner.addWidget(formats_label)
        inner.addWidget(self.status)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(spacing * 3, spacing * 3, spacing * 3, spacing * 3)
        outer.addStretch(1)
        outer.addWidget(frame)
        outer.addStretch(2)

        self.sample_button.clicked.connect(self.sampleRequested)
        self.files_button.clicked.connect(self.openFilesRequested)
        self.folder_button.clicked.connect(self.openFolderRequested)

    def set_status(self, text: str) -> None:
        self.status.setText(text)
