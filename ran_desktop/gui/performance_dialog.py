"""Review > Model performance at this clinic: the model's agreement with this clinic's graders, from every image they
reviewed (engine.validation.agreement), and the operating point those images would give
(engine.validation.calibration).

The figures are computed in a worker from the database (every session); the dialog only shows them. The proposal
changes nothing until a named person adopts it (engine.validation.operating_point: a sealed file beside the data,
logged); one button goes back to the bundle's own threshold.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# The PDF page (reportlab) loads through the reports package's lazy names, when it is first saved.
import ran_desktop.reports as pdf_reports
from ran_desktop.engine.atomic import write_bytes_atomically
from ran_desktop.engine.errors import WriteError
from ran_desktop.engine.records.database import Target
from ran_desktop.engine.records.results import write_rows
from ran_desktop.engine.records.storage import Storage
from ran_desktop.engine.validation import operating_point as local_operating_point
from ran_desktop.engine.validation.agreement import CSV_COLUMNS, Agreement, LocalValidation, local_validation, rows
from ran_desktop.engine.validation.calibration import (
    Calibration,
    ThresholdProposal,
    calibrate,
    labelled_scores,
    proposal_text,
    propose_threshold,
)
from ran_desktop.gui.charts import ProportionChart, monthly_series, reliability_series
from ran_desktop.gui.messages import show_message
from ran_desktop.gui.tasks import Report, TaskFailure, TaskRunner

ADOPT_TITLE = "Adopt a local operating point"
_COLUMNS = ("Graded by both", "Reviewed", "Referable sensitivity (95 % CI)", "Specificity (95 % CI)", "DR kappa",
            "DME agreement", "Ungradable (grader)")


@dataclass(frozen=True)
class Figures:
    validation: LocalValidation
    proposal_text: str
    rows: list[dict[str, object]]  # the CSV's
    proposal: ThresholdProposal | None
    calibration: Calibration | None


def compute(report: Report, database: Target, target: float) -> Figures:
    """The worker: every session's records, their agreement, the proposal (in words too), the calibration and the
    CSV rows."""
    with Storage(database) as storage:
        records = [r for s in storage.sessions() for r in storage.load_session(s.id)]
    validation = local_validation(records)
    scores = labelled_scores(records)
    return Figures(validation, proposal_text(records, target), rows(validation), propose_threshold(scores, target),
                   calibrate(scores))


def write_page(report: Report, figures: Figures, context: pdf_reports.ReportContext, bundle: str, path: Path) -> Path:
    """The worker: the performance page laid out (reportlab) and written whole, or not at all (a ReportError or
    WriteError then says why, in words)."""
    data = pdf_reports.build_validation_report(figures.validation, figures.calibration, figures.proposal_text,
                                               context, bundle)
    return write_bytes_atomically(path, data)


def _ci(a: Agreement, which: str) -> str:
    p = a.sensitivity if which == "sensitivity" else a.specificity
    if not p.n:
        return "—"
    low, high = p.interval or (0.0, 0.0)
    return f"{p.value:.2f} ({low:.2f}-{high:.2f}), n = {p.n}"


def _ask(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes


class PerformanceDialog(QDialog):
    pageSaved = Signal(str)  # the PDF page's path, once written

    """`bundle` is (its name and version, its weights' sha256): the weights a threshold is adopted for; None while no
    model is loaded (nothing can be adopted then). `grader` names who adopts."""

    def __init__(self, database: Target, target: float = 0.90, parent: QWidget | None = None, *,
                 bundle: tuple[str, str] | None = None, grader: str = "", clinic_name: str = "",
                 data_dir: Path | None = None):
        super().__init__(parent)
        self.data_dir = data_dir if data_dir is not None else Path(database).parent  # adopted thresholds live there
        self.bundle, self.grader, self.clinic_name = bundle, grader, clinic_name
        self.figures: Figures | None = None
        self.proposal: ThresholdProposal | None = None
        self.confirm: Callable[[QWidget, str, str], bool] = _ask  # replaceable: tests never block on a dialog
        self.setObjectName("performanceDialog")
        self.setWindowTitle("Model performance at this clinic")
        self.validation: LocalValidation | None = None
        self._rows: list[dict[str, object]] = []
        self.intro = QLabel("From every image a grader has reviewed, in every session: how often the model agreed. "
                            "The graders' decisions are the reference. Nothing leaves this computer.")
        self.intro.setWordWrap(True)
        self.warning = QLabel("Computing…")
        self.warning.setWordWrap(True)
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.confusion = QTableWidget(5, 5)
        self.confusion.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion.setHorizontalHeaderLabels([f"model {g}" for g in range(5)])
        self.confusion.setVerticalHeaderLabels([f"grader {g}" for g in range(5)])
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save = QPushButton("Save as CSV…")
        self.save_pdf = QPushButton("Save as PDF…")
        for button in (self.save, self.save_pdf):
            button.setEnabled(False)
            self.buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.reliability = ProportionChart("Reliability of the referable probability",
                                           "the model's probability (bins of 0.1)")
        self.reliability.setObjectName("reliabilityChart")
        self.monthly = ProportionChart("Sensitivity and specificity by month", "month the grader decided")
        self.monthly.setObjectName("monthlyChart")
        self.adopt_button = QPushButton("Adopt the proposed threshold…")
        self.adopt_button.setEnabled(False)
        self.revert_button = QPushButton("Use the bundle's own threshold")
        for button in (self.adopt_button, self.revert_button):
            self.buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.adopt_button.clicked.connect(self.adopt)
        self.revert_button.clicked.connect(self.revert)
        self.operating_point = QLabel()
        self.operating_point.setWordWrap(True)
        self.buttons.rejected.connect(self.reject)
        self.save.clicked.connect(self.save_csv)
        self.save_pdf.clicked.connect(lambda: self.save_page())
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.warning)
        layout.addWidget(self.table, 2)
        layout.addWidget(QLabel("DR grades, all reviewed images (rows: the grader's, columns: the model's):"))
        row = QHBoxLayout()
        row.addWidget(self.confusion, 3)
        row.addWidget(self.reliability, 2)
        row.addWidget(self.monthly, 2)
        layout.addLayout(row, 3)
        details = QScrollArea()  # the proposal and the overruled calls: as long as they are, without crowding the rest
        details.setWidgetResizable(True)
        details.setFrameShape(QFrame.Shape.NoFrame)
        details.setWidget(self.details)
        layout.addWidget(details, 2)
        layout.addWidget(self.operating_point)
        layout.addWidget(self.buttons)
        chars, lines = self.fontMetrics().averageCharWidth(), self.fontMetrics().height()
        self.resize(chars * 130, lines * 40)
        self._show_operating_point()
        self._runner = TaskRunner("ran-performance", 1, self)
        self._runner.submit(compute, database, target, on_done=self.show_figures, on_failed=self._failed)
        self.finished.connect(lambda _result: self._runner.shutdown())

    def show_figures(self, figures: Figures) -> None:
        self.figures = figures
        validation, proposal, self.proposal = figures.validation, figures.proposal_text, figures.proposal
        self.validation, self._rows = validation, figures.rows
        self.reliability.set_series(reliability_series(figures.calibration), diagonal=True)
        monthly, months = monthly_series(validation)
        self.monthly.set_series(monthly, months)
        self.adopt_button.setEnabled(self.proposal is not None and self.bundle is not None)
        groups = [("All reviewed images", validation.overall)]
        groups += [(f"Model {name}", a) for name, a in validation.by_model.items()]
        groups += [(f"Month {month}", a) for month, a in validation.by_month.items()]
        self.table.setRowCount(len(groups))
        self.table.setVerticalHeaderLabels([name for name, _ in groups])
        for row, (_, a) in enumerate(groups):
            values = (str(a.both_graded), str(a.reviewed), _ci(a, "sensitivity"), _ci(a, "specificity"),
                      "—" if a.kappa is None else f"{a.kappa:.2f}",
                      "—" if a.dme_agreement.value is None else f"{a.dme_agreement.value:.2f}",
                      "—" if a.ungradable_by_grader.value is None else f"{a.ungradable_by_grader.value:.0%}")
            for column, text in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        for i, line in enumerate(validation.overall.dr_confusion):
            for j, n in enumerate(line):
                item = QTableWidgetItem(str(n))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.confusion.setItem(i, j, item)
        overall = validation.overall
        self.warning.setText(f"<b style='color:#a00000'>{html.escape(overall.warning)}</b>" if overall.warning
                             else f"{overall.sensitivity.n} referable eye(s) reviewed: enough to read the figures.")
        overrides = "".join(
            f"<li>{html.escape(o.file)}: the model said {'referable' if o.model_referable else 'not referable'} "
            f"(p = {o.model_probability:.2f}); {html.escape(o.grader or 'the grader')} graded DR {o.grader_dr}, "
            f"DME {o.grader_dme}</li>" for o in overall.overrides[:20])
        text = "<p>" + html.escape(proposal).replace("\n", "<br>") + "</p>"
        if overrides:
            text += f"<p><b>Confident calls a grader overruled (a second look):</b></p><ul>{overrides}</ul>"
        self.details.setText(text)
        self.save.setEnabled(True)
        self.save_pdf.setEnabled(True)

    def _failed(self, failure: TaskFailure) -> None:
        self.warning.setText(f"The figures could not be computed: {html.escape(failure.message)}")

    def save_csv(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the figures", "agreement.csv", "CSV (*.csv)")
        if not path:
            return
        try:
            write_rows(self._rows, CSV_COLUMNS, path)
        except (WriteError, ValueError) as exc:
            show_message(self, "The figures were not saved", str(exc))

    def save_page(self, path: str | None = None) -> None:
        """The figures, the charts and the operating point as one PDF page."""
        if self.figures is None:
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the page", "model-performance.pdf", "PDF (*.pdf)")
        if not path:
            return
        context = pdf_reports.ReportContext(clinic_name=self.clinic_name, grader=self.grader)
        self.save_pdf.setEnabled(False)
        self._runner.submit(write_page, self.figures, context, self.bundle[0] if self.bundle else "", Path(path),
                            on_done=self._page_saved, on_failed=self._page_failed)

    def _page_saved(self, path: Path) -> None:
        self.save_pdf.setEnabled(True)
        self.pageSaved.emit(str(path))

    def _page_failed(self, failure: TaskFailure) -> None:
        self.save_pdf.setEnabled(True)
        show_message(self, "The page was not saved", failure.message)

    # --- the operating point ------------------------------------------------------------------------------------

    def _show_operating_point(self) -> None:
        point = local_operating_point.current(self.data_dir, self.bundle[1]) if self.bundle else None
        self.revert_button.setEnabled(point is not None)
        if point is None:
            self.operating_point.setText("Operating point in use: the bundle's own.")
        else:
            self.operating_point.setText(
                f"<b>Operating point in use: referable from {point.threshold * 100:.1f} %, "
                f"{html.escape(point.words())}</b> (for {html.escape(point.bundle)}); images screened from now on "
                "use it, those screened before keep theirs.")

    def adopt_text(self) -> str:
        """The question a person answers before the proposal becomes the operating point."""
        assert self.proposal is not None and self.bundle is not None
        return (f"Refer from {self.proposal.threshold * 100:.1f} % for {self.bundle[0]} on this workstation: "
                f"{self.proposal.words()}.\n\nImages screened from now on use it; those screened before keep the "
                "threshold they were graded with. The bundle itself is not changed, and 'Use the bundle's own "
                f"threshold' goes back. Adopt it as {self.grader}?")

    def adopt(self) -> None:
        if self.proposal is None or self.bundle is None:
            return
        if not self.grader:
            show_message(self, "Who is adopting it?", "Set your name (File > Settings) first: the log records who "
                                                      "changed the operating point.")
            return
        if not self.confirm(self, ADOPT_TITLE, self.adopt_text()):
            return
        try:
            local_operating_point.adopt(self.data_dir, self.proposal, self.bundle[0], self.bundle[1], self.grader)
        except (OSError, ValueError) as exc:
            show_message(self, "The threshold was not adopted", str(exc))
            return
        self._show_operating_point()

    def revert(self) -> None:
        try:
            local_operating_point.revert(self.data_dir, self.grader)
        except (OSError, ValueError) as exc:
            show_message(self, "Nothing was changed", str(exc))
            return
        self._show_operating_point()
