"""Review > Model performance at this clinic: the model's agreement with this clinic's graders, from every image they
reviewed (engine.local_validation), and the operating point those images would give (engine.local_calibration).

The figures are computed in a worker from the database (every session); the dialog only shows them. Nothing is
changed: the proposal is a proposal.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.local_validation import Agreement, LocalValidation
from .messages import show_message
from .tasks import Report, TaskFailure, TaskRunner

_COLUMNS = ("Graded by both", "Reviewed", "Referable sensitivity (95 % CI)", "Specificity (95 % CI)", "DR kappa",
            "DME agreement", "Ungradable (grader)")


def compute(report: Report, database: Path, target: float) -> tuple[LocalValidation, str, list[dict[str, object]]]:
    """The worker: every session's records, their agreement, the proposal in words and the CSV rows."""
    from ..cli.validate import proposal_text, rows
    from ..engine.local_validation import local_validation
    from ..engine.storage import Storage

    with Storage(database) as storage:
        records = [r for s in storage.sessions() for r in storage.load_session(s.id)]
    validation = local_validation(records)
    return validation, proposal_text(records, target), rows(validation)


def _ci(a: Agreement, which: str) -> str:
    p = a.sensitivity if which == "sensitivity" else a.specificity
    if not p.n:
        return "—"
    low, high = p.interval or (0.0, 0.0)
    return f"{p.value:.2f} ({low:.2f}-{high:.2f}), n = {p.n}"


class PerformanceDialog(QDialog):
    def __init__(self, database: Path, target: float = 0.90, parent: QWidget | None = None):
        super().__init__(parent)
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
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save = QPushButton("Save as CSV…")
        self.save.setEnabled(False)
        self.buttons.addButton(self.save, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)
        self.save.clicked.connect(self.save_csv)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.warning)
        layout.addWidget(self.table, 2)
        layout.addWidget(QLabel("DR grades, all reviewed images (rows: the grader's, columns: the model's):"))
        layout.addWidget(self.confusion, 2)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.buttons)
        chars, lines = self.fontMetrics().averageCharWidth(), self.fontMetrics().height()
        self.resize(chars * 130, lines * 40)
        self._runner = TaskRunner("ran-performance", 1, self)
        self._runner.submit(compute, database, target, on_done=self.show_figures, on_failed=self._failed)
        self.finished.connect(lambda _result: self._runner.shutdown())

    def show_figures(self, outcome: tuple[LocalValidation, str, list[dict[str, object]]]) -> None:
        validation, proposal, rows = outcome
        self.validation, self._rows = validation, rows
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

    def _failed(self, failure: TaskFailure) -> None:
        self.warning.setText(f"The figures could not be computed: {html.escape(failure.message)}")

    def save_csv(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the figures", "agreement.csv", "CSV (*.csv)")
        if not path:
            return
        from ..cli.validate import CSV_COLUMNS
        from ..engine.errors import WriteError
        from ..engine.results import write_rows

        try:
            write_rows(self._rows, CSV_COLUMNS, path)
        except (WriteError, ValueError) as exc:
            show_message(self, "The figures were not saved", str(exc))
