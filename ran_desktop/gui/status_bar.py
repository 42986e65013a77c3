"""The status bar: batch progress with cancel, the grader, the model and the device it runs on."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from ran_desktop.gui.progress_text import progress_text


class AppStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.progress_label = QLabel()
        self.progress_label.setObjectName("progressLabel")
        self.progress = QProgressBar()
        self.progress.setObjectName("batchProgress")
        self.progress.setMaximumWidth(self.fontMetrics().averageCharWidth() * 30)
        self.progress.setFormat("%v / %m")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop screening; images already screened stay (Esc)")
        self.grader_label = QLabel()
        self.grader_label.setObjectName("graderLabel")
        self.model_label = QLabel("Loading the model…")
        self.model_label.setObjectName("modelLabel")
        self.device_label = QLabel()
        self.device_label.setObjectName("deviceLabel")
        # All permanent: temporary messages (showMessage) must never be drawn over the progress.
        self.addPermanentWidget(self.progress_label)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.cancel_button)
        for widget in (self.grader_label, self.model_label, self.device_label):
            self.addPermanentWidget(widget)
        self.hide_progress()

    def set_model_loading(self) -> None:
        self.model_label.setText("Loading the model…")
        self.model_label.setToolTip("The model loads in the background; images dropped meanwhile are queued")
        self.device_label.setText("")

    def set_model(self, title: str, device: str, note: str = "") -> None:
        self.model_label.setText(f"Model: {title}")
        self.model_label.setToolTip("Help > About shows the model card")
        self.device_label.setText(f"Device: {device}")
        self.device_label.setToolTip(note or "Change it in Settings (takes effect at the next start)")

    def set_model_failed(self, reason: str) -> None:
        self.model_label.setText("No model loaded")
        self.model_label.setToolTip(reason)
        self.device_label.setText("")

    def set_grader(self, name: str) -> None:
        self.grader_label.setText(f"Grader: {name}" if name else "Grader: not set")

    def show_waiting(self, queued: int) -> None:
        self.progress_label.setText(f"{queued} item(s) waiting for the model to load…")
        self.progress_label.show()
        self.progress.setRange(0, 0)  # busy: no count yet
        self.progress.show()
        self.cancel_button.show()

    def show_progress(self, done: int, total: int, left: float | None, queued: int) -> None:
        self.progress_label.setText(progress_text(done, total, left, queued))
        # setValue would repaint the window's pending regions synchronously, once per image: let it schedule an
        # ordinary paint instead, coalesced with the table's.
        self.progress.setUpdatesEnabled(False)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setUpdatesEnabled(True)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.show()

    def hide_progress(self) -> None:
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.hide()
