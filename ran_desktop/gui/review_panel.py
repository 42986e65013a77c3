"""The grader's form for the selected image: DR and DME grade (or ungradable), eye and patient where the file had
none, a comment, the lesion marks and grid position drawn on the picture, and one button that stores the decision.

The form emits a draft; the window adds who and when and stores it. It starts empty (or with the grader's own
earlier decision): the model's grades go in only when the grader asks, with "Accept the model's grades" (A), and
the decision then records that it was accepted (see engine.records.review).

Long because everything a decision holds is kept, drafted per image and restored in this one form, so what is
saved is exactly what the grader sees in it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES
from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.records.lesion_marks import LesionMark, legend
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import (
    ACCEPTED,
    BLIND,
    CONFIRMED,
    GRADED,
    OPEN,
    GraderDecision,
    Grades,
    ImageRecord,
    blinded,
    missing_fields,
    model_proposal,
    suggested_grades,
)
from ran_desktop.gui import display
from ran_desktop.gui.results_model import BLIND_TIP

_CHOOSE = -1  # combo data for "no grade chosen yet"


@dataclass(frozen=True)
class _FormState:
    grades: tuple  # as _form_grades gives them: (None, None) ungradable, _CHOOSE where nothing is chosen
    comment: str
    accepted: Grades | None
    marks: tuple[LesionMark, ...] = ()
    fovea: tuple[float, float] | None = None


def _grade_box(names: tuple[str, ...], keys: str) -> QComboBox:
    box = QComboBox()
    box.addItem("— choose —", _CHOOSE)
    for i, name in enumerate(names):
        box.addItem(f"{i} – {name}", i)
    box.setToolTip(f"Keyboard: {keys}")
    # Long grade names must not force the panel wider than the window allows; the popup shows them whole.
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(10)
    return box


class ReviewPanel(QWidget):
    decisionRequested = Signal(object)
    marksChanged = Signal(object)  # the form's lesion marks (saved with the decision), for the picture to draw
    foveaChanged = Signal(object)  # the macular grid's centre the form holds (photograph pixels), or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("reviewPanel")
        self.record: ImageRecord | None = None

        title = QLabel("<b>Grader review</b>")
        self.model_line = QLabel()
        self.model_line.setObjectName("modelSuggestion")
        self.model_line.setWordWrap(True)
        self.model_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.dr_box = _grade_box(DR_GRADE_NAMES, "0-4")
        self.dme_box = _grade_box(DME_GRADE_NAMES, "Alt+0, Alt+1, Alt+2")
        self.ungradable_box = QCheckBox("Image ungradable")
        self.ungradable_box.setToolTip("The photograph cannot be graded: re-image or refer (keyboard: U)")
        self.eye_box = QComboBox()
        self.eye_box.addItem("unknown", None)
        self.eye_box.addItem(display.EYE_TEXT[Eye.RIGHT], Eye.RIGHT)
        self.eye_box.addItem(display.EYE_TEXT[Eye.LEFT], Eye.LEFT)
        self.patient_id = QLineEdit()
        self.patient_name = QLineEdit()
        self.eye_box.setToolTip("The eye photographed, as the file says it; correct it where the file is wrong "
                                "(a misnamed photograph): the change is kept with the decision and its audit trail")
        for widget, what in ((self.patient_id, "patient ID"), (self.patient_name, "name")):
            widget.setToolTip(f"Editable only when the file does not say the {what}")
        self.comment = QPlainTextEdit()
        self.comment.setToolTip("Optional: kept with the decision and in the audit trail")
        self.comment.setTabChangesFocus(True)
        self.comment.setFixedHeight(self.fontMetrics().lineSpacing() * 4)
        self.marks: tuple[LesionMark, ...] = ()
        self.fovea: tuple[float, float] | None = None
        self.marks_line = QLabel("No lesions marked (View > Mark lesions).")
        self.marks_line.setObjectName("marksLine")
        self.marks_line.setWordWrap(True)
        self.marks_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.remove_mark = QPushButton("Remove last mark")
        self.remove_mark.setObjectName("removeMark")
        self.remove_mark.clicked.connect(self.remove_last_mark)
        self.accept_button = QPushButton("Accept the model's grades")
        self.accept_button.setObjectName("acceptModel")
        self.accept_button.setToolTip("Put the model's grades (or the quality gate's 'ungradable') in the form; "
                                      "check them, then save (keyboard: A)")
        self._accepted: Grades | None = None  # what the accept key put in the form, while it is unchanged
        self._drafts: dict[str, _FormState] = {}  # unsaved forms by image key, for the grader's return
        self.review_mode = OPEN  # the clinic's; BLIND hides the model's grades until the decision is saved
        self.save_button = QPushButton("Save decision")
        self.save_button.setToolTip("Store this decision with your name and the time, then go to the next image "
                                    "(Ctrl+Enter)")
        self.save_button.setDefault(True)
        self.state = QLabel()
        self.state.setObjectName("reviewState")
        self.state.setWordWrap(True)
        self.state.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.problem = QLabel()
        self.problem.setObjectName("reviewProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020;")
        self.problem.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.held = QLabel()  # another grader has this image open (claims): said before the grader starts
        self.held.setObjectName("reviewHeld")
        self.held.setWordWrap(True)
        self.held.setStyleSheet("background: #fff4ce; color: #4a3b00; padding: 4px; border-radius: 3px;")
        self.held.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.held.hide()

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)  # labels above fields: the panel is narrow
        form.addRow("DR grade", self.dr_box)
        form.addRow("DME grade", self.dme_box)
        form.addRow("", self.ungradable_box)
        form.addRow("Eye", self.eye_box)
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Patient name", self.patient_name)
        form.addRow("Comment (optional)", self.comment)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.held)
        layout.addWidget(self.model_line)
        layout.addWidget(self.accept_button)
        layout.addLayout(form)
        layout.addWidget(self.marks_line)
        layout.addWidget(self.remove_mark)
        layout.addWidget(self.save_button)
        layout.addWidget(self.problem)
        layout.addWidget(self.state)
        layout.addStretch(1)

        self.save_button.clicked.connect(self.submit)
        self.accept_button.clicked.connect(self.accept_model)
        self.ungradable_box.toggled.connect(self._on_ungradable)
        for box in (self.dr_box, self.dme_box):
            box.currentIndexChanged.connect(lambda _=0: self.problem.clear())
        self.show_record(None)

    # --- the record ---------------------------------------------------------------------------------------

    def _stash_draft(self) -> None:
        """Keep what the grader set but did not save, for when the image is shown again (N/P must not lose it)."""
        record = self.record
        if record is None or not self.reviewable:
            return
        form = _FormState(self._form_grades(), self.comment.toPlainText(), self._accepted, self.marks, self.fovea)
        saved = suggested_grades(record)
        untouched = form.grades == (saved if saved is not None else (_CHOOSE, _CHOOSE)) and \
            form.comment == (record.decision.comment if record.decision else "") and \
            form.marks == (record.decision.marks if record.decision else ()) and \
            form.fovea == (record.decision.fovea if record.decision else None)
        if untouched:
            self._drafts.pop(record.key, None)
        else:
            self._drafts[record.key] = form

    def has_draft(self, key: str) -> bool:
        return key in self._drafts

    def saved(self, record: ImageRecord) -> None:
        """The decision for `record` was stored: the form's grades are no longer a draft."""
        self._drafts.pop(record.key, None)
        if self.record is not None and self.record.key == record.key:
            self.record = record

    def show_holder(self, holder: str | None) -> None:
        """Who else is grading the image shown now (None: nobody)."""
        self.held.setText(f"{holder} is grading this image now. Your decision would not be saved until they have "
                          "finished; choose another image." if holder else "")
        self.held.setVisible(bool(holder))

    def show_record(self, record: ImageRecord | None) -> None:
        if record is None or self.record is None or record.key != self.record.key:
            self._stash_draft()
            self.show_holder(None)
        self.record = record
        self._accepted = None
        self.problem.clear()
        reviewable = record is not None and record.status is not Status.ERROR
        for widget in (self.dr_box, self.dme_box, self.ungradable_box, self.comment, self.save_button,
                       self.accept_button):
            widget.setEnabled(reviewable)
        with QSignalBlocker(self.ungradable_box):
            self.ungradable_box.setChecked(False)
        self._set_box(self.dr_box, None)
        self._set_box(self.dme_box, None)
        self.comment.setPlainText("")
        self._set_marks(record.decision.marks if record is not None and record.decision is not None else ())
        self._set_fovea(record.decision.fovea if record is not None and record.decision is not None else None)
        if record is None or not reviewable:
            self.model_line.setText("" if record is None else f"Not screened: {record.result.error}")
            self.state.setText("")
            for field in (self.eye_box, self.patient_id, self.patient_name):
                field.setEnabled(False)
            self.patient_id.clear()
            self.patient_name.clear()
            return
        hidden = blinded(record, self.review_mode)
        self.model_line.setText(BLIND_TIP + "." if hidden else self._model_text(record))
        self.accept_button.setEnabled(not hidden and model_proposal(record) is not None)
        suggestion = suggested_grades(record)
        if suggestion is not None:
            self.set_grades(*suggestion)
        missing = missing_fields(record)
        self.eye_box.setEnabled(True)  # a file name or header can be wrong: the grader corrects it, audited
        known_eye = record.eye if record.eye is not Eye.UNKNOWN else None
        self.eye_box.setCurrentIndex(max(0, self.eye_box.findData(known_eye)))
        self.patient_id.setEnabled("patient_id" in missing)
        self.patient_id.setText(record.patient_id or "")
        self.patient_name.setEnabled("patient_name" in missing)
        self.patient_name.setText(record.patient_name or "")
        d = record.decision
        if d is not None:
            self.comment.setPlainText(d.comment)
            verb = "Confirmed" if d.kind == CONFIRMED else "Overridden"
            self.state.setText(f"{verb} by {d.grader} on {d.decided_at.replace('T', ' ')}. Saving again keeps the "
                               f"earlier decision in the audit trail.")
        else:
            self.state.setText("Not reviewed yet.")
        draft = self._drafts.get(record.key)
        if draft is not None:
            if draft.grades == (None, None):
                self.set_grades(None, None)
            else:
                self.ungradable_box.setChecked(False)
                self._set_box(self.dr_box, None if draft.grades[0] == _CHOOSE else draft.grades[0])
                self._set_box(self.dme_box, None if draft.grades[1] == _CHOOSE else draft.grades[1])
            self.comment.setPlainText(draft.comment)
            self._accepted = draft.accepted
            self._set_marks(draft.marks)
            self._set_fovea(draft.fovea)
            self.state.setText(f"<b>Draft, not saved:</b> what you set when you were last here. "
                               f"{self.state.text()}")

    # --- lesion marks ------------------------------------------------------------------------------------------

    def add_mark(self, mark: LesionMark) -> None:
        if self.reviewable:
            self._set_marks((*self.marks, mark))

    def set_fovea(self, fovea: tuple[float, float]) -> None:
        """The grader moved the macular grid: its centre is saved with the decision."""
        if self.reviewable:
            self.fovea = (round(fovea[0], 1), round(fovea[1], 1))

    def _set_fovea(self, fovea: tuple[float, float] | None) -> None:
        self.fovea = fovea
        self.foveaChanged.emit(fovea)

    def remove_last_mark(self) -> None:
        if self.marks:
            self._set_marks(self.marks[:-1])

    def _set_marks(self, marks: tuple[LesionMark, ...]) -> None:
        self.marks = tuple(marks)
        self.marks_line.setText("Marked: " + legend(self.marks, colours=False) if self.marks
                                else "No lesions marked (View > Mark lesions).")
        self.remove_mark.setEnabled(bool(self.marks) and self.reviewable)
        self.marksChanged.emit(self.marks)

    @staticmethod
    def _model_text(record: ImageRecord) -> str:
        result = record.result
        if record.status is Status.UNGRADABLE:
            reasons = html.escape("; ".join(result.quality.reasons if result.quality else ()))
            text = f"Quality gate: <b>ungradable</b> ({reasons})"
            if result.suspected:
                text += "<br><b style='color:#a00000'>The model suspects referable disease on it: refer.</b>"
            return text
        dr, dme = record.model_grades
        text = f"Model: DR {display.grade_label('dr', dr)}, DME {display.grade_label('dme', dme)}"
        d = record.decision
        if d is not None and d.review_mode == BLIND:  # revealed after a blind decision: did the two agree?
            agree = (d.dr_grade, d.dme_grade) == (dr, dme)
            text += " · <b>agrees with your grades</b>" if agree else " · <b>differs from your grades</b>"
        if not result.model.trained:
            return f"{text}<br><b style='color:#b00020'>Untrained model: these grades are meaningless and cannot " \
                   f"be accepted. Grade the image yourself.</b>"
        return text  # the weights' warning is in the window's banner, once

    # --- input --------------------------------------------------------------------------------------------

    def set_dr_grade(self, grade: int) -> None:
        if self.reviewable and 0 <= grade < len(DR_GRADE_NAMES):
            self.ungradable_box.setChecked(False)
            self._set_box(self.dr_box, grade)

    def set_dme_grade(self, grade: int) -> None:
        if self.reviewable and 0 <= grade < len(DME_GRADE_NAMES):
            self.ungradable_box.setChecked(False)
            self._set_box(self.dme_box, grade)

    def set_grades(self, dr: int | None, dme: int | None) -> None:
        if dr is None or dme is None:
            self.ungradable_box.setChecked(True)
            return
        self.ungradable_box.setChecked(False)
        self._set_box(self.dr_box, dr)
        self._set_box(self.dme_box, dme)

    def accept_model(self) -> None:
        """Put the model's proposal in the form (the grader still saves it): the explicit way to agree."""
        record = self.record
        if record is None or not self.reviewable or blinded(record, self.review_mode):
            return  # nothing to accept, or not yet to be seen
        proposal = model_proposal(record)
        if proposal is None:
            return
        self.set_grades(*proposal)
        self._accepted = proposal

    def _form_grades(self) -> Grades:
        if self.ungradable_box.isChecked():
            return None, None
        return self.dr_box.currentData(), self.dme_box.currentData()

    def toggle_ungradable(self) -> None:
        if self.reviewable:
            self.ungradable_box.toggle()

    def draft(self) -> GraderDecision | None:
        """The form as a decision, or None (with the reason shown) when it is incomplete."""
        record = self.record
        if record is None or record.status is Status.ERROR:
            return None
        if self.ungradable_box.isChecked():
            dr = dme = None
        else:
            dr, dme = self.dr_box.currentData(), self.dme_box.currentData()
            if dr == _CHOOSE or dme == _CHOOSE:
                self.problem.setText("Choose a DR and a DME grade (keys 0-4 and Alt+0-2), or tick 'Image ungradable'.")
                return None
        missing = missing_fields(record)
        return GraderDecision(
            dr_grade=dr,
            dme_grade=dme,
            eye=self._chosen_eye(record),
            patient_id=(self.patient_id.text().strip() or None) if "patient_id" in missing else None,
            patient_name=(self.patient_name.text().strip() or None) if "patient_name" in missing else None,
            comment=self.comment.toPlainText().strip(),
            marks=self.marks,
            fovea=self.fovea,
            entry=ACCEPTED if self._accepted is not None and self._form_grades() == self._accepted else GRADED,
            review_mode=self.review_mode,
        )

    def _chosen_eye(self, record: ImageRecord) -> Eye | None:
        """The eye the grader set, where it differs from what the file says (or the file says nothing)."""
        data = self.eye_box.currentData()
        chosen = Eye(data) if data else None  # the binding hands the str enum back as a plain str
        meta = record.result.metadata
        from_file = meta.eye if meta is not None and meta.eye is not Eye.UNKNOWN else None
        return chosen if chosen != from_file else None

    def submit(self) -> None:
        draft = self.draft()
        if draft is not None:
            self.problem.clear()
            self.decisionRequested.emit(draft)

    @property
    def reviewable(self) -> bool:
        return self.record is not None and self.record.status is not Status.ERROR

    def _on_ungradable(self, checked: bool) -> None:
        self.dr_box.setEnabled(self.reviewable and not checked)
        self.dme_box.setEnabled(self.reviewable and not checked)
        self.problem.clear()

    @staticmethod
    def _set_box(box: QComboBox, grade: int | None) -> None:
        box.setCurrentIndex(box.findData(_CHOOSE if grade is None else grade))

