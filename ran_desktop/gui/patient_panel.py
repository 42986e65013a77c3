"""Images grouped by patient, each patient with the outcome of the worse eye and the follow-up it calls for.

A tree (patients, their images below) over a Qt item model, so regrouping thousands of images costs one model
reset and the view only asks for the rows on screen; under it, the full wording for the selected patient
(outcomes and follow-up sentences are too long for cells).

The tree is grouped from the worklist's entries (record_list.ListEntry), not its full records: a session of 100,000
images would otherwise read every stored result first. The full record is read only for what needs more than an
entry holds: an image row's review (who decided) as it is drawn, and the selected patient's summary.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSignalBlocker,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ran_desktop.engine.grading import Outcome
from ran_desktop.engine.records.patient_groups import PatientGroup, group_by_patient
from ran_desktop.engine.records.patient_names import DEFAULT_PATTERNS
from ran_desktop.engine.records.record_list import ListEntry
from ran_desktop.engine.records.review import OPEN, ImageRecord, blinded
from ran_desktop.gui import display
from ran_desktop.gui.results_model import BLIND_TEXT, unconfirmed_ink
from ran_desktop.gui.results_model import unconfirmed as record_unconfirmed
from ran_desktop.gui.tasks import Report, TaskRunner

KEY_ROLE = Qt.ItemDataRole.UserRole + 1
# Grouping 5,000 entries takes about 40 ms on the GUI thread; more are grouped in a worker (100,000: 0.8 s).
GROUP_IN_WORKER_FROM = 5_000
# Expanding every patient lays out every row (50,000 patients and their images: 0.9 s); beyond this many patients
# they start folded, and the one whose image is selected elsewhere unfolds.
EXPAND_ALL_UP_TO = 5_000
COLUMNS = ("Patient / image", "Outcome / grades", "Review")
_TOP = 0  # internal id of a patient row; an image row stores its patient's row + 1

Index = QModelIndex | QPersistentModelIndex
Group = PatientGroup[ListEntry]
RecordOf = Callable[[str], ImageRecord | None]  # an image's full record by its key (None: no longer listed)


def _no_record(key: str) -> ImageRecord | None:
    return None


class PatientTreeModel(QAbstractItemModel):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.groups: list[Group] = []
        self._where: dict[str, tuple[int, int]] = {}
        self.review_mode = OPEN  # BLIND: outcomes that rest on hidden model grades are not shown
        self.record_of: RecordOf = _no_record

    def set_groups(self, groups: list[Group]) -> None:
        self.beginResetModel()
        self.groups = groups
        self._where = {r.key: (g, i) for g, group in enumerate(groups) for i, r in enumerate(group.records)}
        self.endResetModel()

    def hides(self, group: Group, record: ListEntry | None = None) -> bool:
        """Whether this row would give away model grades the grader must not see yet (blind-first review)."""
        records = [record] if record is not None else group.records
        return any(blinded(r, self.review_mode) for r in records)

    def index_of_key(self, key: str) -> QModelIndex:
        where = self._where.get(key)
        return QModelIndex() if where is None else self.createIndex(where[1], 0, where[0] + 1)

    def group_at(self, index: Index) -> Group | None:
        if not index.isValid():
            return None
        internal = index.internalId()
        return self.groups[index.row() if internal == _TOP else internal - 1]

    def record_at(self, index: Index) -> ListEntry | None:
        if not index.isValid() or index.internalId() == _TOP:
            return None
        return self.groups[index.internalId() - 1].records[index.row()]

    # --- Qt model -----------------------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008 (Qt's own default)
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        return self.createIndex(row, column, _TOP if not parent.isValid() else parent.row() + 1)

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008 (Qt's own default)
        if not index.isValid() or index.internalId() == _TOP:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, _TOP)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's own default)
        if not parent.isValid():
            return len(self.groups)
        if parent.internalId() == _TOP and parent.column() == 0:
            return len(self.groups[parent.row()].records)
        return 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's own default)
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self.record_at(index)
        group = self.group_at(index)
        if group is None:
            return None
        hidden = self.hides(group, record)
        if role == Qt.ItemDataRole.DisplayRole:
            if hidden and index.column() == 1:
                return BLIND_TEXT
            if record is None:
                return _group_text(group, index.column())
            return self._review_text(record) if index.column() == 2 else _record_text(record, index.column())
        if role == KEY_ROLE:
            return record.key if record else group.records[0].key
        if role == Qt.ItemDataRole.ToolTipRole:
            if record is not None:
                return record.path if index.column() == 0 else self.data(index)
            return group.decision.recommendation.follow_up if group.decision else None
        unconfirmed = index.column() == 1 and (group.unconfirmed if record is None else record_unconfirmed(record))
        if role == Qt.ItemDataRole.FontRole and (unconfirmed or (record is None and index.column() < 2)):
            font = QFont()
            font.setBold(record is None and index.column() < 2)
            font.setItalic(unconfirmed)  # the model's, not yet a grader's: as in the image list
            return font
        if role == Qt.ItemDataRole.ForegroundRole and unconfirmed:
            return unconfirmed_ink()
        return None

    def _review_text(self, entry: ListEntry) -> str:
        """Who decided needs the full record: read for the rows drawn (a page of the list's rows at a time)."""
        record = self.record_of(entry.key)
        return display.review_text(record) if record is not None else display.NONE

    def full_group(self, group: Group) -> PatientGroup[ImageRecord] | None:
        """The patient with its full records (the summary's caveat names the weights' warning); None when an image
        is no longer listed."""
        records = [self.record_of(entry.key) for entry in group.records]
        if any(r is None for r in records):
            return None
        return PatientGroup(group.key, group.patient_id, group.patient_name,
                            tuple(r for r in records if r is not None), group.decision)


_OUTCOME_RANK = {Outcome.URGENT_REFERRAL: 0, Outcome.UNGRADABLE_REFER: 1, Outcome.REFERRAL: 2, Outcome.UNGRADABLE: 3,
                 Outcome.ROUTINE_RESCREEN: 4}


def _group_sort_key(group: Group, column: int) -> tuple:
    """Patient: by name; outcome: most urgent first; review: least reviewed first."""
    if column == 0:
        return (display.group_title(group).casefold(),)
    if column == 1:
        outcome = group.decision.recommendation.outcome if group.decision is not None else None
        rank = _OUTCOME_RANK[outcome] if outcome is not None else len(_OUTCOME_RANK)  # no outcome: last
        return (rank, display.group_title(group).casefold())
    reviewed = sum(r.reviewed for r in group.records)
    return (reviewed / max(len(group.records), 1), display.group_title(group).casefold())


def _haystack(group: Group) -> str:
    names = " ".join(r.file_path.name for r in group.records)
    return f"{display.group_title(group)} {group.patient_id or ''} {group.patient_name or ''} {names}".casefold()


def _group_text(group: Group, column: int) -> str:
    if column == 0:
        return display.group_title(group)
    if column == 1:
        return display.group_outcome_text(group)
    reviewed = sum(r.reviewed for r in group.records)
    return f"{reviewed} of {len(group.records)} reviewed"


def _record_text(record: ListEntry, column: int) -> str:
    if column == 0:
        return f"{record.file_label} · {record.eye.value}"
    return f"DR {display.dr_text(record)} · DME {display.dme_text(record)}"


class PatientTree(QTreeView):
    def selectAll(self) -> None:
        """Ctrl+A selects every patient as one range. Qt's own select-all adds a range per expanded patient, and
        with thousands of them every repaint then searched them all: the window froze for many seconds."""
        model = self.model()
        rows = model.rowCount() if model is not None else 0
        if rows:
            selection = QItemSelection(model.index(0, 0), model.index(rows - 1, model.columnCount() - 1))
            self.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)


Grouped = tuple[list[Group], list[str]]  # the patients, and the text the search looks in for each


def _group(report: Report | None, entries: list[ListEntry], patterns: Sequence[str]) -> Grouped:
    groups = group_by_patient(entries, patterns)
    return groups, [_haystack(g) for g in groups]  # made once here: a keystroke then only compares strings


class PatientPanel(QWidget):
    recordSelected = Signal(str)
    regrouped = Signal()  # the tree shows the latest grouping

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("patientPanel")
        self.model = PatientTreeModel(self)
        self.group_in_worker_from = GROUP_IN_WORKER_FROM
        self.expand_all_up_to = EXPAND_ALL_UP_TO
        self._runner = TaskRunner("ran-patients", 1, self)
        self._latest = 0  # the newest refresh: a slower, older grouping is dropped
        self._wanted: str | None = None  # the image selected elsewhere, kept across regrouping
        self.tree = PatientTree()
        self.tree.setModel(self.model)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        # Ctrl/Shift+click picks several for Reports > selected patients; the current row stays the one shown.
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        # Sorted and filtered here, patient by patient (a patient's images stay together under it).
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # screening order until the grader sorts
        header.sortIndicatorChanged.connect(lambda *_: self._regroup())
        self.search = QLineEdit()
        self.search.setObjectName("patientSearch")
        self.search.setPlaceholderText("Patient, ID or file name")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _text: self._regroup())
        self._groups_all: list[Group] = []
        self._haystacks: list[str] = []
        chars = self.fontMetrics().averageCharWidth()
        header.resizeSection(0, chars * 36)
        header.resizeSection(1, chars * 34)
        self.summary = QLabel()
        self.summary.setObjectName("patientSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setFrameShape(QFrame.Shape.StyledPanel)
        self.summary.setMargin(self.fontMetrics().height() // 2)
        self.summary.setMinimumWidth(1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.summary)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        search_row = QHBoxLayout()
        search_row.addWidget(QLabel("Search:"))
        search_row.addWidget(self.search, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(search_row)
        layout.addWidget(splitter)
        self.tree.selectionModel().currentChanged.connect(self._on_current)
        self._show_summary(None)

    @property
    def groups(self) -> list[Group]:
        return self.model.groups

    def image_keys(self) -> list[str]:
        """Every image's key in the order the tree shows them: patient by patient, each patient's images in turn."""
        return [record.key for group in self.model.groups for record in group.records]

    def refresh(self, entries: list[ListEntry], record_of: RecordOf, patterns: Sequence[str] = DEFAULT_PATTERNS
                ) -> None:
        """Regroup the worklist's rows (their entries); `record_of` reads a row's full record by its key. A large
        worklist is grouped in a worker thread (entries never change, so the snapshot is safe there); the tree keeps
        the previous grouping until `regrouped`."""
        self.model.record_of = record_of
        self._latest += 1
        if len(entries) < self.group_in_worker_from:
            self._show_groups(self._latest, _group(None, entries, patterns))
            return
        refresh = self._latest
        self._runner.submit(_group, list(entries), tuple(patterns),
                            on_done=lambda grouped: self._show_groups(refresh, grouped))

    def _show_groups(self, refresh: int, grouped: Grouped) -> None:
        if refresh != self._latest:
            return
        self._groups_all, self._haystacks = grouped
        self._regroup()
        self.regrouped.emit()

    @property
    def grouping(self) -> bool:
        """A grouping is still being made in the worker."""
        return self._runner.busy

    def shutdown(self) -> None:
        self._runner.shutdown()

    def _regroup(self) -> None:
        """The patients shown: those the search finds, in the order the clicked header asks for."""
        text = self.search.text().strip().casefold()
        groups = [g for g, hay in zip(self._groups_all, self._haystacks, strict=True) if not text or text in hay]
        header = self.tree.header()
        column = header.sortIndicatorSection()
        if 0 <= column < len(COLUMNS):
            groups.sort(key=lambda g: (9,) if column == 1 and self.model.hides(g) else _group_sort_key(g, column),
                        reverse=header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder)
        self.model.set_groups(groups)
        if len(groups) <= self.expand_all_up_to:
            self.tree.expandAll()
        if self._wanted is not None:
            self.select_key(self._wanted)
        else:
            self._show_summary(None)

    def select_key(self, key: str) -> None:
        self._wanted = key
        index = self.model.index_of_key(key)
        if not index.isValid():
            return
        self.tree.expand(index.parent())  # folded where there are too many patients to unfold them all
        with QSignalBlocker(self.tree.selectionModel()):  # no echo back to the table that asked
            self.tree.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            )
        self.tree.viewport().update()
        self.tree.scrollTo(index)
        self._show_summary(index)

    def _on_current(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._show_summary(current)
        key = current.data(KEY_ROLE) if current.isValid() else None
        if key:
            self._wanted = key
            self.recordSelected.emit(key)

    def _show_summary(self, index: QModelIndex | None) -> None:
        group = self.model.group_at(index) if index is not None else None
        if group is not None and self.model.hides(group):
            self.summary.setText(f"<b>{html.escape(display.group_title(group))}</b><br>Blind-first review: the outcome "
                                 f"appears once every image of this patient has the grader's decision.")
            return
        full = self.model.full_group(group) if group is not None else None
        self.summary.setText(summary_html(full) if full is not None else
                             "Select a patient to see the outcome and the follow-up it calls for.")


def summary_html(group: PatientGroup[ImageRecord]) -> str:
    e = html.escape
    parts = [f"<b>{e(display.group_title(group))}</b>"]
    decision = group.decision
    if decision is None:
        parts.append("No image of this patient could be read.")
        return "<br>".join(parts)
    rec = decision.recommendation
    parts.append(f"Outcome (worse eye decides): <b>{e(display.outcome_text(rec))}</b>")
    parts.append(f"Follow-up: {e(rec.follow_up)}")
    dr = display.NONE if decision.worst_dr_grade is None else display.grade_label("dr", decision.worst_dr_grade)
    dme = display.NONE if decision.worst_dme_grade is None else display.grade_label("dme", decision.worst_dme_grade)
    parts.append(f"Worst grades: DR {e(dr)}, DME {e(dme)} · {decision.eyes_graded} image(s) graded, "
                 f"{decision.eyes_ungradable} ungradable")
    if group.caveat:  # the weights' full warning is in the window's banner
        parts.append(f"<span style='color:#b00020'><b>Based on the model's unconfirmed grades ({e(group.caveat)})."
                     f"</b></span>")
    parts.append(f"<small>{e(rec.guideline)}</small>")
    return "<br>".join(parts)
