"""Settings: device, grader, clinic name and logo for reports, default export folder."""

from __future__ import annotations

import os

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ran_desktop.engine.records.database import DATABASE_URL_ENV
from ran_desktop.engine.records.patient_names import PatternError, check_patterns
from ran_desktop.engine.records.review import BLIND, OPEN
from ran_desktop.engine.records.second_grading import ANY_GRADE_RULE, REFERABLE_RULE, QAPolicy
from ran_desktop.gui.settings import AppSettings

_DEVICE_LABELS = (("auto", "Automatic (GPU when there is one)"), ("cpu", "CPU"), ("cuda", "NVIDIA GPU (CUDA)"))


def _path_row(edit: QLineEdit, browse: QPushButton) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(browse)
    return row


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.settings = settings
        self.device = QComboBox()
        for value, label in _DEVICE_LABELS:
            self.device.addItem(label, value)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        self.device_note = QLabel("A device change takes effect the next time the app starts.")
        self.device_note.setWordWrap(True)
        self.grader = QLineEdit(settings.grader_name)
        self.grader.setToolTip("Stored with every decision you make")
        self.clinic = QLineEdit(settings.clinic_name)
        self.logo = QLineEdit(settings.clinic_logo)
        self.logo.setToolTip("PNG or JPEG shown on reports")
        logo_browse = QPushButton("Browse…")
        logo_browse.clicked.connect(self._pick_logo)
        self.export = QLineEdit(settings.export_folder)
        self.export.setToolTip("Where File > Export results suggests saving, and where Reports start until "
                               "reports have been written somewhere")
        export_browse = QPushButton("Browse…")
        export_browse.clicked.connect(self._pick_export)

        self.review_mode = QComboBox()
        self.review_mode.setObjectName("reviewMode")
        self.review_mode.addItem("The model's grades beside an empty form (accept them with A)", OPEN)
        self.review_mode.addItem("Blind first: the model's grades and heat map after the grader's decision", BLIND)
        self.review_mode.setCurrentIndex(max(0, self.review_mode.findData(settings.review_mode)))
        self.review_mode.setToolTip("How graders in this clinic review; recorded with every decision")
        self.patterns = QPlainTextEdit("\n".join(settings.file_name_patterns))
        self.patterns.setObjectName("fileNamePatterns")
        self.patterns.setToolTip(
            "One regular expression per line, matched against the file name without its suffix; its group "
            "(?P<patient>...) is the patient's part. Photographs in one folder with the same part are one "
            "patient's, where no DICOM or typed patient ID says otherwise. Empty: every such photograph stands alone.")
        self.patterns.setFixedHeight(self.fontMetrics().lineSpacing() * 4)
        policy = settings.second_grading
        self.second = QCheckBox("Send referable and a share of the rest to a second grader (blind); "
                                "disagreements to an arbitrator")
        self.second.setObjectName("secondGrading")
        self.second.setChecked(policy.enabled)
        self.second_share = QSpinBox()
        self.second_share.setObjectName("secondShare")
        self.second_share.setRange(0, 100)
        self.second_share.setSuffix(" % of the non-referable images")
        self.second_share.setValue(round(policy.sample_share * 100))
        self.second_rule = QComboBox()
        self.second_rule.setObjectName("secondRule")
        self.second_rule.addItem("Arbitrate when one refers and the other does not (or finds it ungradable)",
                                 REFERABLE_RULE)
        self.second_rule.addItem("Arbitrate when any DR or DME grade differs", ANY_GRADE_RULE)
        self.second_rule.setCurrentIndex(max(0, self.second_rule.findData(policy.rule)))
        self.database = QLineEdit(settings.database_url)
        self.database.setObjectName("databaseUrl")
        self.database.setPlaceholderText("empty: this computer's own database")
        self.database.setToolTip("Several workstations grading one worklist share a PostgreSQL server, e.g. "
                                 "postgresql://ran@db.clinic.local/ran (README: 'Several workstations')")
        self.database_note = QLabel("A change takes effect the next time the app starts."
                                    + (f" {DATABASE_URL_ENV} is set on this computer and is used instead."
                                       if os.environ.get(DATABASE_URL_ENV) else ""))
        self.database_note.setWordWrap(True)
        self.patterns_problem = QLabel()
        self.patterns_problem.setStyleSheet("color: #b00020;")
        self.patterns_problem.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Device", self.device)
        form.addRow("", self.device_note)
        form.addRow("Grader name", self.grader)
        form.addRow("Clinic name", self.clinic)
        form.addRow("Clinic logo", _path_row(self.logo, logo_browse))
        form.addRow("Export folder", _path_row(self.export, export_browse))
        form.addRow("Review", self.review_mode)
        form.addRow("Group by file name", self.patterns)
        form.addRow("", self.patterns_problem)
        form.addRow("Second grading", self.second)
        form.addRow("", self.second_share)
        form.addRow("", self.second_rule)
        form.addRow("Shared database", self.database)
        form.addRow("", self.database_note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 70)

    def accept(self) -> None:
        patterns = [line.strip() for line in self.patterns.toPlainText().splitlines() if line.strip()]
        try:
            check_patterns(patterns)
        except PatternError as exc:
            self.patterns_problem.setText(str(exc))
            return  # stays open: nothing is saved until every pattern is usable
        url = self.database.text().strip()
        if url and not url.startswith(("postgresql://", "postgresql+psycopg://", "sqlite:///")):
            self.database_note.setText("A shared database is named by a URL that starts with postgresql:// "
                                       "(or sqlite:/// for a database file elsewhere); nothing was saved.")
            self.database_note.setStyleSheet("color: #b00020;")
            return
        self.settings.database_url = url
        self.settings.second_grading = QAPolicy(self.second.isChecked(), self.second_share.value() / 100,
                                                self.second_rule.currentData())
        self.settings.file_name_patterns = patterns
        self.settings.review_mode = self.review_mode.currentData()
        self.settings.device = self.device.currentData()
        self.settings.grader_name = self.grader.text()
        self.settings.clinic_name = self.clinic.text()
        self.settings.clinic_logo = self.logo.text()
        self.settings.export_folder = self.export.text()
        super().accept()

    def _pick_logo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Clinic logo", self.logo.text(), "Images (*.png *.jpg *.jpeg)")
        if path:
            self.logo.setText(path)

    def _pick_export(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Default export folder", self.export.text())
        if path:
            self.export.setText(path)
