"""Review > Grade patients: one patient at a time, both eyes side by side (right eye on the left, as the grader faces
the patient), every field of each eye, one set of grades per eye, and the patient's outcome as the worse eye decides,
with the rule shown. "Save and next patient" goes on through the patients still to grade, most urgent first, then
the oldest photographs (engine.records.patient_queue).

The grades go to every readable photograph of the eye, through the review session (who, when, confirmed or
overridden, claims and stale checks as for one image). Nothing is pre-filled: in open review the model's grades are
shown beside each eye, never put in the form. Photographs are decoded in a worker.

Long because it is one dialog whose parts share its state: the eye columns, the queue and saving.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ran_desktop import gui
from ran_desktop.engine import imaging, records
from ran_desktop.engine.errors import ScreeningError
from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES, change_between, patient_result
from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.records.patient_groups import PatientGroup, group_by_patient
from ran_desktop.engine.records.patient_queue import to_grade
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import GraderDecision, blinded
from ran_desktop.gui import display
from ran_desktop.gui.image_view import ImageView
from ran_desktop.gui.tasks import Report, TaskFailure, TaskRunner

if TYPE_CHECKING:
    from ran_desktop.engine.records.database import Target
    from ran_desktop.engine.records.record_list import ListEntry
    from ran_desktop.engine.records.review import Grades, ImageRecord
    from ran_desktop.engine.records.review_session import ReviewSession

DISPLAY_SIDE = 1024
QUEUE_IN_WORKER_FROM = 5_000  # images: below, the queue is made at once (tens of milliseconds)
RecordsOf = Callable[[Sequence["ListEntry"]], list["ImageRecord"]]  # rows' entries -> their full records
EYE_ORDER = (Eye.RIGHT, Eye.LEFT, Eye.UNKNOWN)  # right eye on the left of the screen, as the grader faces them


def next_patient(_report: Report | None, entries: Sequence[ListEntry], patterns: Sequence[str], skip: str | None
                 ) -> PatientGroup[ListEntry] | None:
    """The first patient of the queue (engine.records.patient_queue) other than `skip`, from the rows' entries."""
    return next((g for g in to_grade(group_by_patient(entries, patterns)) if g.key != skip), None)


@dataclass(frozen=True)
class LastVisit:
    """An eye at the patient's previous visit: its grader's grades and a small picture."""

    record: ImageRecord
    picture: QImage | None


def last_visit(_report: Report, target: Target, patient_id: str, session_id: int) -> dict[Eye, LastVisit]:
    """The previous visit's graded photograph of each eye (the first decided one), with its stored thumbnail."""
    with records.storage.Storage(target) as storage:
        earlier = storage.last_visit(patient_id, session_id)
        found: dict[Eye, LastVisit] = {}
        for record in earlier:
            if record.eye in found or record.decision is None:
                continue
            stored = storage.thumbnails([record.image_id]).get(record.image_id)
            pixels = imaging.thumbnails.decode_thumbnail(stored)
            found[record.eye] = LastVisit(record, gui.pixel_arrays.qimage_from_array(pixels) if pixels is not None
                                          else None)
        return found


def decode(_report: Report, record: ImageRecord) -> QImage:
    meta = record.result.metadata
    loaded = imaging.loading.load_screened_frame(record.result.path, meta.frame_index if meta else None,
                                                 meta.content_sha256 if meta else None, min_side=DISPLAY_SIDE)
    return gui.pixel_arrays.qimage_for_display(loaded.pixels)


class EyeColumn(QWidget):
    """One eye: its photographs (a button per field), the model's grades where the review mode shows them, and
    the grades for the eye."""

    def __init__(self, eye: Eye, records: list[ImageRecord], review_mode: str, show: Callable[[EyeColumn, int], None]):
        super().__init__()
        self.eye, self.records = eye, records
        self.view = ImageView()
        self.view.setMinimumSize(360, 300)
        title = QLabel(f"<b>{display.EYE_TEXT[eye]}</b>")
        fields = QHBoxLayout()
        for i, record in enumerate(records):
            button = QPushButton(f"Field {i + 1}" if len(records) > 1 else record.result.path.name)
            button.setToolTip(str(record.result.path))
            button.clicked.connect(partial(show, self, i))
            fields.addWidget(button)
        fields.addStretch(1)
        gradable = [r for r in records if r.status is not Status.ERROR]
        first = gradable[0] if gradable else records[0]
        self.model = QLabel("" if blinded(first, review_mode) or first.status is Status.ERROR else
                            f"Model: DR {display.grade_label('dr', first.model_grades[0])}, "
                            f"DME {display.grade_label('dme', first.model_grades[1])}")
        self.model.setWordWrap(True)
        self.dr = QComboBox()
        self.dme = QComboBox()
        for box, names in ((self.dr, DR_GRADE_NAMES), (self.dme, DME_GRADE_NAMES)):
            box.addItem("— choose —", None)
            for grade, name in enumerate(names):
                box.addItem(f"{grade} – {name}", grade)
        self.previous: LastVisit | None = None
        self.last_picture = QLabel()
        self.last_text = QLabel()
        self.last_text.setObjectName("lastVisit")
        self.last_text.setWordWrap(True)
        self.change = QLabel()
        self.change.setObjectName("changeSinceLastVisit")
        last = QHBoxLayout()
        last.addWidget(self.last_picture)
        last.addWidget(self.last_text, 1)
        self.ungradable = QCheckBox("Ungradable")
        self.ungradable.toggled.connect(self._on_ungradable)
        form = QFormLayout()
        form.addRow("DR grade", self.dr)
        form.addRow("DME grade", self.dme)
        form.addRow("", self.ungradable)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.view, 1)
        layout.addLayout(fields)
        layout.addWidget(self.model)
        layout.addLayout(last)
        layout.addLayout(form)
        layout.addWidget(self.change)
        decided = next((r.decision for r in gradable if r.decision is not None), None)
        if decided is not None:  # the grader's own earlier grades, never the model's
            self.set_grades((decided.dr_grade, decided.dme_grade))
        self.setEnabled(bool(gradable))

    def _on_ungradable(self, on: bool) -> None:
        self.dr.setEnabled(not on)
        self.dme.setEnabled(not on)

    def set_grades(self, grades: Grades) -> None:
        if grades[0] is None:
            self.ungradable.setChecked(True)
            return
        self.ungradable.setChecked(False)
        self.dr.setCurrentIndex(self.dr.findData(grades[0]))
        self.dme.setCurrentIndex(self.dme.findData(grades[1]))

    def show_last_visit(self, previous: LastVisit | None) -> None:
        self.previous = previous
        if previous is None:
            self.last_text.setText("No earlier visit of this eye.")
            self.last_picture.clear()
        else:
            d = previous.record.decision
            assert d is not None  # last_visit keeps decided photographs only
            when = (previous.record.result.metadata.study_date if previous.record.result.metadata else None) or \
                previous.record.screened_at[:10]
            grades = "ungradable" if d.dr_grade is None else f"DR {d.dr_grade}, DME {d.dme_grade}"
            self.last_text.setText(f"<b>Last visit</b> ({when}): {grades}, graded by {d.grader}")
            if previous.picture is not None:
                self.last_picture.setPixmap(QPixmap.fromImage(previous.picture).scaledToHeight(
                    64, Qt.TransformationMode.SmoothTransformation))
        self.update_change()

    def change_since(self) -> str:
        """Better, same or worse than at the last visit, by the grades now in the form ("" where not comparable)."""
        grades = self.grades()
        if self.previous is None or grades is None or self.previous.record.decision is None:
            return ""
        d = self.previous.record.decision
        return change_between((d.dr_grade, d.dme_grade), grades)

    def update_change(self) -> None:
        change = self.change_since()
        self.change.setText(f"<b>Since the last visit: {change}</b> (saved with the decision)" if change else "")

    def grades(self) -> Grades | None:
        """(dr, dme), (None, None) for ungradable, or None while the form is incomplete."""
        if self.ungradable.isChecked():
            return None, None
        dr, dme = self.dr.currentData(), self.dme.currentData()
        return None if dr is None or dme is None else (dr, dme)


class PatientForm(QDialog):
    """`entries` gives the worklist's rows (their light entries): the queue is ordered from them, and only the
    patient shown has full records read (`records_of`), so a session of 100,000 images opens the form at once. A
    large worklist is queued in a worker thread while the form says so."""

    def __init__(self, entries: Callable[[], list[ListEntry]], records_of: RecordsOf, patterns: Sequence[str],
                 session: ReviewSession, grader: Callable[[], str], review_mode: str,
                 saved: Callable[[ImageRecord], None], database: Target, parent: QWidget | None = None):
        super().__init__(parent)
        self._database = database
        self.setObjectName("patientForm")
        self.setWindowTitle("Grade patients")
        self._entries, self._records_of, self._patterns = entries, records_of, tuple(patterns)
        self._session, self._grader = session, grader
        self.queue_in_worker_from = QUEUE_IN_WORKER_FROM
        self._queuer = TaskRunner("ran-patient-queue", 1, self)
        self._asked = 0  # the newest request for the next patient: an older answer is dropped
        self._review_mode, self._saved = review_mode, saved
        self._decoder = TaskRunner("ran-patient-pictures", 1, self)
        self.group: PatientGroup | None = None
        self.columns: list[EyeColumn] = []
        self.title = QLabel()
        self.title.setObjectName("patientTitle")
        self.eyes = QGridLayout()
        self.outcome = QLabel()
        self.outcome.setObjectName("patientOutcome")
        self.outcome.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020;")
        self.problem.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.next_button = QPushButton("Save and next patient")
        self.next_button.setDefault(True)
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.problem, 1)
        for button in (self.save_button, self.next_button, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self.eyes, 1)
        layout.addWidget(self.outcome)
        layout.addLayout(buttons)
        self.save_button.clicked.connect(lambda: self.save(then_next=False))
        self.next_button.clicked.connect(lambda: self.save(then_next=True))
        close.clicked.connect(self.reject)
        self.resize(1280, 760)
        self.show_next()

    # --- which patient --------------------------------------------------------------------------------------------

    def show_next(self) -> None:
        """The most urgent patient still to grade, other than the one shown."""
        entries, skip = self._entries(), self.group.key if self.group is not None else None
        self._asked += 1
        if len(entries) < self.queue_in_worker_from:
            self._show_found(self._asked, next_patient(None, entries, self._patterns, skip))
            return
        self._clear_columns()
        self.group = None
        self.title.setText("<b>Finding the next patient to grade…</b>")
        self.outcome.clear()
        for button in (self.save_button, self.next_button):
            button.setEnabled(False)
        asked = self._asked
        self._queuer.submit(next_patient, list(entries), self._patterns, skip,
                            on_done=lambda found: self._show_found(asked, found),
                            on_failed=lambda failure: self._queue_failed(asked, failure))

    @property
    def queueing(self) -> bool:
        """The next patient is still being found in the worker."""
        return self._queuer.busy

    def _show_found(self, asked: int, found: PatientGroup[ListEntry] | None) -> None:
        if asked != self._asked:
            return
        if found is None:
            self.show_group(None)
            return
        records = self._records_of(found.records)
        if not records:  # removed from the list since it was queued: ask again from the list as it is now
            self.show_next()
            return
        group = next((g for g in group_by_patient(records, self._patterns) if g.key == found.key), None)
        self.show_group(group if group is not None else group_by_patient(records, ())[0])

    def _queue_failed(self, asked: int, failure: TaskFailure) -> None:
        if asked == self._asked:
            self.title.setText("<b>The next patient could not be found.</b>")
            self.problem.setText(failure.message)

    def _clear_columns(self) -> None:
        for column in self.columns:
            self.eyes.removeWidget(column)
            column.hide()  # at once: deletion waits for the event loop
            column.setParent(None)
            column.deleteLater()
        self.columns = []

    def show_group(self, group: PatientGroup[ImageRecord] | None) -> None:
        self._clear_columns()
        self.group = group
        self.problem.clear()
        if group is None:
            self.title.setText("<b>Every patient of this session has been graded.</b>")
            self.outcome.clear()
            for button in (self.save_button, self.next_button):
                button.setEnabled(False)
            return
        who = display.patient_text(group.records[0]) if group.identified else (group.file_name_patient or "")
        dates = sorted({(r.result.metadata.study_date or "") for r in group.records if r.result.metadata} - {""})
        self.title.setText(f"<b>Patient {who}</b>" + (f" · photographs of {', '.join(dates)}" if dates else ""))
        by_eye: dict[Eye, list[ImageRecord]] = {}
        for record in group.records:
            by_eye.setdefault(record.eye, []).append(record)
        for position, eye in enumerate(e for e in EYE_ORDER if e in by_eye):
            column = EyeColumn(eye, by_eye[eye], self._review_mode, self._show_field)
            for box in (column.dr, column.dme):
                box.currentIndexChanged.connect(self._update_outcome)
            column.ungradable.toggled.connect(self._update_outcome)
            for box in (column.dr, column.dme):
                box.currentIndexChanged.connect(column.update_change)
            column.ungradable.toggled.connect(column.update_change)
            self.eyes.addWidget(column, 0, position)
            self.columns.append(column)
            self._show_field(column, 0)
        for button in (self.save_button, self.next_button):
            button.setEnabled(True)
        self._update_outcome()
        if group.patient_id:  # the previous visit's eyes beside today's
            self._decoder.submit(last_visit, self._database, group.patient_id, self._session.session_id,
                                 on_done=partial(self._show_last_visit, group))
        else:
            for column in self.columns:
                column.show_last_visit(None)

    def _show_last_visit(self, group: PatientGroup, found: dict[Eye, LastVisit]) -> None:
        if self.group is group:
            for column in self.columns:
                column.show_last_visit(found.get(column.eye))

    def _show_field(self, column: EyeColumn, index: int) -> None:
        record = column.records[index]
        if record.status is Status.ERROR:
            column.view.show_message(f"Not readable: {record.result.error}")
            return
        column.view.show_message("Loading the photograph…")
        self._decoder.submit(decode, record, on_done=partial(self._picture, column),
                             on_failed=partial(self._no_picture, column))

    def _picture(self, column: EyeColumn, image: QImage) -> None:
        if column in self.columns:  # still this patient's
            column.view.set_image(image)

    def _no_picture(self, column: EyeColumn, failure: TaskFailure) -> None:
        if column in self.columns:
            column.view.show_message(failure.message)

    # --- the patient's outcome and saving ------------------------------------------------------------------------

    def _update_outcome(self) -> None:
        chosen = [c.grades() for c in self.columns if c.isEnabled()]
        if not chosen or any(g is None for g in chosen):
            self.outcome.setText("Grade every eye: the patient's outcome is the worse eye's.")
            return
        result = patient_result([g for g in chosen if g is not None])
        rec = result.recommendation
        self.outcome.setText(f"<b>Patient outcome: {rec.outcome.value}</b> – {rec.follow_up} "
                             "<br>The worse eye decides (ICDR and DME grades of each eye; an ungradable eye is "
                             "re-imaged or referred, and outranks a routine result from the other eye).")

    def save(self, *, then_next: bool) -> None:
        if self.group is None:
            return
        grader = self._grader()
        if not grader.strip():
            self.problem.setText("Set your name (File > Settings) first: every decision records who made it.")
            return
        if any(c.grades() is None for c in self.columns if c.isEnabled()):
            self.problem.setText("Choose a DR and a DME grade for every eye, or tick 'Ungradable'.")
            return
        for column in self.columns:
            grades = column.grades()
            if grades is None or not column.isEnabled():
                continue
            for i, record in enumerate(column.records):
                if record.status is Status.ERROR:
                    continue
                draft = GraderDecision(grades[0], grades[1], review_mode=self._review_mode,
                                       change=column.change_since())
                try:  # against the version the grader was shown: a change made elsewhere meanwhile is refused
                    updated = self._session.record_decision(record, draft, grader)
                except (ScreeningError, ValueError) as exc:
                    self.problem.setText(f"{record.result.path.name}: not saved: {exc}")
                    return
                column.records[i] = updated  # saving again from this form builds on this decision
                self._saved(updated)
        if then_next:
            self.show_next()
        else:
            self.problem.setText("Saved.")

    def done(self, result: int) -> None:
        self._asked += 1  # a queue still being made is not shown
        self._queuer.shutdown()
        self._decoder.shutdown()
        super().done(result)
