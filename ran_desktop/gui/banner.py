"""The clinical-warning bar across the top of the window: red for untrained weights, amber for synthetic ones."""

from __future__ import annotations

from PySide6 import QtWidgets
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QSizePolicy, QWidget

_SEVERE = "background: #b00020; color: white;"
_CAUTION = "background: #ffc107; color: black;"


class ClinicalWarningBanner(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("clinicalWarningBanner")
        self.setAutoFillBackground(True)
        self.icon = QLabel()  # drawn when there is a warning: the bar starts hidden
        self.text = QLabel()
        self.text.setObjectName("clinicalWarningText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        font = self.text.font()
        font.setBold(True)
        self.text.setFont(font)
        layout = QHBoxLayout(self)
        margin = self.fontMetrics().height() // 2
        layout.setContentsMargins(margin, margin // 2, margin, margin // 2)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        self.setVisible(False)

    def set_warning(self, text: str, *, severe: bool) -> None:
        if self.icon.pixmap().isNull():

            size = self.fontMetrics().height() * 3 // 2
            warning = QApplication.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MessageBoxWarning)
            self.icon.setPixmap(warning.pixmap(size))
        self.text.setText(text)
        self.setStyleSheet(f"#clinicalWarningBanner {{ {_SEVERE if severe else _CAUTION} }} "
                           f"#clinicalWarningBanner QLabel {{ {_SEVERE if severe else _CAUTION} }}")
        self.setVisible(bool(text))
