"""Review > Second grading and arbitration: the queues of quality assurance (engine.records.second_grading) for the
grader at this workstation, and each grader's agreement with the settled grades for the clinic lead.

- Second grading: the images another grader graded first that this grader may grade, one at a time, blind: neither
  the first grades nor the model's are shown, only the photograph.
- Arbitration: the images whose first and second gradings differ beyond the rule, with both gradings (who, what,
  when) beside the photograph; the arbitrator's grades settle the image.
- Graders: sensitivity, specificity and kappa of each grader against the settled grades.

Every database read and write, and every photograph's decoding, runs in a worker with its own connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ran_desktop import gui
from ran_desktop.engine import imaging, records, validation
from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES
from ran_desktop.engine.records.review import GraderDecision, Grading, decision_kind
from ran_desktop.engine.records.second_grading import (
    ARBITRATION,
    AWAITING_ARBITRATION,
    AWAITING_SECOND,
    FINAL,
    SECOND,
    QAPolicy,
)
from ran_desktop.gui.image_view import ImageView
from ran_desktop.gui.messages import show_message
from ran_desktop.gui.tasks import Report, TaskFailure, TaskRunner

if TYPE_CHECKING:
    from ran_desktop.engine.records.database import Target
    from ran_desktop.engine.records.review import ImageRecord

DISPLAY_SIDE = 1536  # decoded for grading: sharp on a 1920 px screen, quick to decode


@dataclass(frozen=True)
class QueueItem:
    record: ImageRecord
    gradings: tuple[Grading, ...]


@dataclass(frozen=True)
class Queues:
    second: list[QueueItem]
    arbitration: list[QueueItem]
    graders: list[validation.grader_agreement.GraderAgreement]


def load_queues(_report: Report, target: Target, grader: str) -> Queues:
    with records.storage.Storage(target) as storage:
        def items(state: str) -> list[QueueItem]:
            found = []
            for image_id in storage.qa_queue(state, grader):
                status = storage.qa_status(image_id)
                found.append(QueueItem(storage.record(image_id), status.gradings if status else ()))
            return found

        return Queues(items(AWAITING_SECOND), items(AWAITING_ARBITRATION),
                      validation.grader_agreement.grader_agreement(storage.qa_statuses()))


def decode(_report: Report, record: ImageRecord) -> QImage:
    meta = record.result.metadata
    loaded = imaging.loading.load_screened_frame(record.result.path, meta.frame_index if meta else None,
                                                 meta.content_sha256 if meta else None, min_side=DISPLAY_SIDE)
    return gui.pixel_arrays.qimage_for_display(loaded.pixels)


def save(_report: Report, target: Target, image_id: int, stage: str, decision: GraderDecision) -> str:
    with records.storage.Storage(target) as storage:
        return storage.grade_again(image_id, stage, decision)


class GradeForm(QWidget):
    """The grades of one stage: DR, DME or ungradable, and Save. Starts empty: nothing is proposed."""

    saveRequested = Signal(object)  # (dr, dme), or (None, None) for ungradable

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dr = QComboBox()
        self.dme = QComboBox()
        for box, names in ((self.dr, DR_GRADE_NAMES), (self.dme, DME_GRADE_NAMES)):
            box.addItem("choose…", None)
            for grade, name in enumerate(names):
                box.addItem(f"{grade}: {name}", grade)
        self.ungradable = QCheckBox("Image ungradable")
        self.save_button = QPushButton("Save grading")
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020;")
        self.problem.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("DR grade", self.dr)
        form.addRow("DME grade", self.dme)
        form.addRow("", self.ungradable)
        form.addRow("", self.save_button)
        form.addRow("", self.problem)
        self.ungradable.toggled.connect(self._on_ungradable)
        self.save_button.clicked.connect(self._save)

    def _on_ungradable(self, on: bool) -> None:
        self.dr.setEnabled(not on)
        self.dme.setEnabled(not on)

    def clear(self) -> None:
        self.dr.setCurrentIndex(0)
        self.dme.setCurrentIndex(0)
        self.ungradable.setChecked(False)
        self.problem.clear()

    def _save(self) -> None:
        if self.ungradable.isChecked():
            self.saveRequested.emit((None, None))
        elif self.dr.currentData() is None or self.dme.currentData() is None:
            self.problem.setText("Choose a DR and a DME grade, or tick 'Image ungradable'.")
        else:
            self.saveRequested.emit((self.dr.currentData(), self.dme.currentData()))


class QueuePage(QWidget):
    """One queue: the list, the photograph, what this stage may see of earlier gradings, and the form."""

    def __init__(self, stage: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.stage = stage
        self.items: list[QueueItem] = []
        self.list = QListWidget()
        self.list.setObjectName(f"{stage}Queue")
        self.view = ImageView()
        self.earlier = QLabel()
        self.earlier.setObjectName(f"{stage}Earlier")
        self.earlier.setWordWrap(True)
        self.earlier.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form = GradeForm()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.earlier)
        side_layout.addWidget(self.form)
        side_layout.addStretch(1)
        splitter = QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(self.view)
        splitter.addWidget(side)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 700, 300])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    def set_items(self, items: list[QueueItem]) -> None:
        self.items = items
        self.list.clear()
        for item in items:
            record = item.record
            who = record.patient_id or record.result.path.stem
            QListWidgetItem(f"{record.result.path.name} ({who}, {record.eye.value})", self.list)
        self.view.set_image(None)
        self.earlier.setText("Nothing waits here for you." if not items else "")
        self.form.setEnabled(bool(items))
        if items:
            self.list.setCurrentRow(0)

    def current(self) -> QueueItem | None:
        row = self.list.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None

    def show_item(self, item: QueueItem) -> None:
        self.form.clear()
        if self.stage == SECOND:  # blind: neither the first grader's grades nor the model's
            self.earlier.setText("Blind second grading: the first grader's grades and the model's are not shown. "
                                 "Grade the photograph as you see it.")
        else:
            self.earlier.setText("<br>".join(g.words() for g in item.gradings)
                                 + "<br><br>Your grades settle this image.")


class SecondGradingDialog(QDialog):
    decided = Signal(int)  # an image's decision may have changed (the window refreshes its row)

    def __init__(self, target: Target, grader: str, policy: QAPolicy, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("secondGradingDialog")
        self.setWindowTitle("Second grading and arbitration")
        self.target, self.grader, self.policy = target, grader, policy
        self._runner = TaskRunner("ran-second-grading", 1, self)
        self._decoder = TaskRunner("ran-second-grading-picture", 1, self)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.tabs = QTabWidget()
        self.second_page = QueuePage(SECOND)
        self.arbitration_page = QueuePage(ARBITRATION)
        self.graders = QTableWidget(0, 6)
        self.graders.setObjectName("graderAgreement")
        self.graders.setHorizontalHeaderLabels(["Grader", "Images", "Same outcome", "Sensitivity (referable)",
                                                "Specificity", "Kappa (DR)"])
        self.graders.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.graders.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.graders.verticalHeader().hide()
        self.graders.horizontalHeader().setStretchLastSection(True)
        graders_page = QWidget()
        graders_layout = QVBoxLayout(graders_page)
        explained = QLabel("Each grader's first and second gradings against the grades second grading settled on: "
                           "the arbitrator's where there was one, else the agreeing second grading (arbitrators' "
                           "own grades are the reference, so they are not listed). Intervals are 95 % (Wilson); "
                           "small numbers say little.")
        explained.setWordWrap(True)
        graders_layout.addWidget(explained)
        graders_layout.addWidget(self.graders, 1)
        self.tabs.addTab(self.second_page, "Second grading")
        self.tabs.addTab(self.arbitration_page, "Arbitration")
        self.tabs.addTab(graders_page, "Graders")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        for page in (self.second_page, self.arbitration_page):
            page.list.currentRowChanged.connect(lambda _row, p=page: self._show(p))
            page.form.saveRequested.connect(lambda grades, p=page: self._save(p, grades))
        self.resize(1280, 760)
        self.refresh()

    def refresh(self) -> None:
        if not self.grader.strip():
            self.note.setText("Set your name (File > Settings) first: every grading records who gave it.")
        else:
            rule = "one refers and the other does not" if self.policy.rule == "referable" else "any grade differs"
            state = ("on" if self.policy.enabled else "off at this workstation (File > Settings): queues "
                     "still show what others sent")
            self.note.setText(f"Grading as {self.grader}. Second grading is {state}; arbitration when {rule}.")
        self._runner.submit(load_queues, self.target, self.grader, on_done=self._show_queues, on_failed=self._failed)

    def _show_queues(self, queues: Queues) -> None:
        self.second_page.set_items(queues.second)
        self.arbitration_page.set_items(queues.arbitration)
        self.tabs.setTabText(0, f"Second grading ({len(queues.second)})")
        self.tabs.setTabText(1, f"Arbitration ({len(queues.arbitration)})")
        self.graders.setRowCount(len(queues.graders))
        for row, agreement in enumerate(queues.graders):
            kappa = "n/a" if agreement.kappa is None else f"{agreement.kappa:.2f}"
            cells = [agreement.grader, str(agreement.images), agreement.same_outcome.words(),
                     agreement.sensitivity.words(), agreement.specificity.words(), kappa]
            for column, text in enumerate(cells):
                self.graders.setItem(row, column, QTableWidgetItem(text))

    def _show(self, page: QueuePage) -> None:
        item = page.current()
        if item is None:
            return
        page.show_item(item)
        page.view.show_message("Loading the photograph…")
        self._decoder.submit(decode, item.record, on_done=partial(self._picture, page, item),
                             on_failed=partial(self._no_picture, page))

    @staticmethod
    def _picture(page: QueuePage, item: QueueItem, image: QImage) -> None:
        if page.current() is item:  # still the one chosen
            page.view.set_image(image)

    @staticmethod
    def _no_picture(page: QueuePage, failure: TaskFailure) -> None:
        page.view.show_message(failure.message)

    def _save(self, page: QueuePage, grades: tuple[int | None, int | None]) -> None:
        item = page.current()
        if item is None or not self.grader.strip():
            page.form.problem.setText("Set your name (File > Settings) first." if item is not None else "")
            return
        stage = SECOND if page is self.second_page else ARBITRATION
        decision = GraderDecision(grades[0], grades[1], grader=self.grader, kind=decision_kind(item.record, grades))
        page.form.save_button.setEnabled(False)
        self._runner.submit(save, self.target, item.record.image_id, stage, decision,
                            on_done=partial(self._saved, page, item), on_failed=partial(self._not_saved, page))

    def _saved(self, page: QueuePage, item: QueueItem, state: str) -> None:
        page.form.save_button.setEnabled(True)
        name = item.record.result.path.name
        said = {FINAL: "settled", AWAITING_ARBITRATION: "sent to arbitration (the two gradings differ)"}
        self.refresh()
        self.note.setText(f"Saved: {name} is {said.get(state, state)}.")
        self.decided.emit(item.record.image_id)

    def _not_saved(self, page: QueuePage, failure: TaskFailure) -> None:
        page.form.save_button.setEnabled(True)
        page.form.problem.setText(f"Not saved: {failure.message}")
        if not failure.expected:
            show_message(self, "The grading was not saved", failure.message)

    def _failed(self, failure: TaskFailure) -> None:
        self.note.setText(f"The queues could not be read: {failure.message}")

    def done(self, result: int) -> None:
        self._runner.shutdown()
        self._decoder.shutdown()
        super().done(result)

