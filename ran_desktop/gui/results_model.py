"""The worklist as a Qt table model: one row per screened image, in the order screened."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from enum import IntEnum
from typing import Any

from PySide6 import QtWidgets
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from ran_desktop.engine.grading import suspicion_words
from ran_desktop.engine.records.record_list import ListEntry, RecordList
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import CONFIRMED, OPEN, ImageRecord, Listed, blinded
from ran_desktop.gui import display
from ran_desktop.gui.qimage import pixmap_from_bytes

RECORD_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
KEY_ROLE = Qt.ItemDataRole.UserRole + 3

# Decoded thumbnails kept at once: a screenful many times over, without holding thousands of pixmaps.
_ICON_CACHE_SIZE = 400
# Thumbnails decoded by the screening worker and not yet shown: the newest rows, the ones a batch paints next.
# Older ones are dropped (about 40 KB each) and decoded here if their rows are ever scrolled to.
_DECODED_KEPT = 100


class Column(IntEnum):
    THUMBNAIL = 0
    FILE = 1
    PATIENT = 2
    EYE = 3
    QUALITY = 4
    DR = 5
    DME = 6
    REFERABLE = 7
    REVIEW = 8


HEADERS = {
    Column.THUMBNAIL: "",
    Column.FILE: "File",
    Column.PATIENT: "Patient",
    Column.EYE: "Eye",
    Column.QUALITY: "Quality",
    Column.DR: "DR grade",
    Column.DME: "DME grade",
    Column.REFERABLE: "Referable",
    Column.REVIEW: "Review",
}
HEADER_TIPS = {
    Column.DR: "Diabetic retinopathy, ICDR scale 0-4: the grader's grade once reviewed (upright), else the "
               "model's (italic)",
    Column.DME: "Diabetic macular edema, 0-2: the grader's grade once reviewed (upright), else the model's (italic)",
    Column.REFERABLE: "DR grade 2 or more, or any DME; urgent: DR 3 or more, or DME 2",
    Column.QUALITY: "The image-quality gate's verdict, or why the file could not be screened",
}


class ResultsTableModel(QAbstractTableModel):
    thumbnailsWanted = Signal(list)  # image ids of painted rows listed without a thumbnail

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._records = RecordList([])  # every row's list entry; full records built as rows are shown
        self._rows: dict[str, int] = {}
        self._row_of_id: dict[int, int] = {}  # image id -> row, for what arrives by id (thumbnails, claims)
        self._icons: OrderedDict[str, QIcon] = OrderedDict()
        self._decoded: OrderedDict[str, QImage] = OrderedDict()
        self.revision = 0  # bumped before every change is announced, so cached sort keys are never stale
        self.review_mode = OPEN  # BLIND: the model's grades stay hidden until the grader has decided
        self.claims: dict[int, str] = {}  # image id -> the other grader who has it open now (shared_worklist)
        # Rows listed without their thumbnail (a long worklist) ask for it when first painted, in batches.
        self._wanted: list[int] = []
        self._asked: set[int] = set()
        self._ask_timer = QTimer(self)
        self._ask_timer.setSingleShot(True)
        self._ask_timer.setInterval(0)
        self._ask_timer.timeout.connect(self._ask_for_thumbnails)

    # --- contents -----------------------------------------------------------------------------------------

    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def record(self, row: int) -> ImageRecord:
        return self._records[row]

    def records_read(self) -> int:
        """Rows whose full record has been read so far: a long worklist reads only the rows shown."""
        return self._records.built_count()

    def entries(self) -> list[ListEntry]:
        return list(self._records.entries())

    def entry(self, row: int) -> ListEntry:
        """What the list sorts and filters the row by, without building its record."""
        return self._records.entry(row)

    def row_of(self, key: str) -> int | None:
        return self._rows.get(key)

    def record_by_key(self, key: str) -> ImageRecord | None:
        """The row's full record (read with a page of its neighbours when not yet read); None when not listed."""
        row = self._rows.get(key)
        return None if row is None else self._records[row]

    def records_of(self, entries: Iterable[ListEntry]) -> list[ImageRecord]:
        """The full records of these rows, those still listed (a patient's, for the patient form)."""
        found = (self.record_by_key(entry.key) for entry in entries)
        return [record for record in found if record is not None]

    def set_records(self, records: RecordList | Iterable[ImageRecord]) -> None:
        """All rows at once: records, or a session's RecordList (Storage.list_session), whose records are read as
        their rows are shown."""
        self.revision += 1
        self.beginResetModel()
        self._records = records if isinstance(records, RecordList) else RecordList.of(list(records))
        entries = self._records.entries()
        self._rows = {e.key: i for i, e in enumerate(entries)}
        self._row_of_id = {e.image_id: i for i, e in enumerate(entries)}
        self._icons.clear()
        self._decoded.clear()
        self.endResetModel()

    def add_thumbnails(self, images: dict[str, QImage]) -> None:
        """Thumbnails decoded off the GUI thread, for records about to be added (or replaced)."""
        for key, image in images.items():
            self._icons.pop(key, None)
            self._decoded[key] = image
            self._decoded.move_to_end(key)
        while len(self._decoded) > _DECODED_KEPT:
            self._decoded.popitem(last=False)

    def add_records(self, records: Iterable[ImageRecord]) -> None:
        """Append new images in one insertion; an image screened again replaces its row."""
        fresh: dict[str, ImageRecord] = {}
        for record in records:
            if record.key in self._rows:
                self.update_record(record)
            else:
                fresh[record.key] = record  # a later duplicate within this call wins
        if not fresh:
            return
        first = len(self._records)
        self.revision += 1
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        for offset, record in enumerate(fresh.values()):
            self._records.append(record)
            self._rows[record.key] = first + offset
            self._row_of_id[record.image_id] = first + offset
        self.endInsertRows()

    def set_review_mode(self, mode: str) -> None:
        self.review_mode = mode
        self.revision += 1
        if self._records:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._records) - 1, len(Column) - 1))

    def _want_thumbnail(self, image_id: int) -> None:
        if image_id not in self._asked:
            self._asked.add(image_id)
            self._wanted.append(image_id)
            self._ask_timer.start()

    def _ask_for_thumbnails(self) -> None:
        wanted, self._wanted = self._wanted, []
        if wanted:
            self.thumbnailsWanted.emit(wanted)

    def add_stored_thumbnails(self, images: dict[int, QImage]) -> None:
        """Thumbnails fetched from the database (decoded in a worker) for rows listed without them."""
        by_id = {image_id: (row, self._records.entry(row).key) for image_id in images
                 if (row := self._row_of_id.get(image_id)) is not None}
        self.add_thumbnails({key: images[image_id] for image_id, (_, key) in by_id.items()})
        self._asked.difference_update(images)  # asked again should the icon be dropped from the cache later
        for row, _ in by_id.values():
            self.dataChanged.emit(self.index(row, Column.THUMBNAIL), self.index(row, Column.THUMBNAIL))

    def set_claims(self, claims: dict[int, str]) -> None:
        """Images other graders have open now: their review cell says so until they have finished."""
        changed = set(claims.items()) ^ set(self.claims.items())
        self.claims = dict(claims)
        for image_id in {image_id for image_id, _ in changed}:
            row = self._row_of_id.get(image_id)
            if row is not None:
                self.dataChanged.emit(self.index(row, Column.REVIEW), self.index(row, Column.REVIEW))

    def hides(self, record: ImageRecord | ListEntry) -> bool:
        return blinded(record, self.review_mode)

    def sort_key(self, row: int, column: int) -> Any:
        entry = self._records.entry(row)
        if column in _MODEL_COLUMNS and blinded(entry, self.review_mode):
            return -3  # hidden grades sort together, giving nothing away
        return _sort_key(entry, Column(column))

    def update_record(self, record: ImageRecord) -> None:
        row = self._rows.get(record.key)
        if row is None:
            return
        self.revision += 1
        self._records[row] = record
        self._icons.pop(record.key, None)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    # --- Qt model -----------------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's own default)
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's own default)
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(Column(section))
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self._records[index.row()]
        column = Column(index.column())
        if column in _MODEL_COLUMNS and blinded(record, self.review_mode):
            return _blind_data(role)
        holder = self.claims.get(record.image_id) if column == Column.REVIEW and record.decision is None else None
        if holder is not None and role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return CLAIMED_TEXT if role == Qt.ItemDataRole.DisplayRole else f"{holder} is grading this image now"
        if role == Qt.ItemDataRole.DisplayRole:
            return _TEXT[column](record) if column in _TEXT else None
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(record, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(record, column)
        if role in (Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.FontRole):
            return _styling(record, column, role)
        if role == SORT_ROLE:
            return _sort_key(self._records.entry(index.row()), column)
        if role == RECORD_ROLE:
            return record
        if role == KEY_ROLE:
            return record.key
        return None

    def _decoration(self, record: ImageRecord, column: Column) -> QIcon | None:
        if column == Column.THUMBNAIL:
            return self._thumbnail(record)
        return None

    def _thumbnail(self, record: ImageRecord) -> QIcon | None:
        icon = self._icons.get(record.key)
        if icon is not None:
            self._icons.move_to_end(record.key)
            return icon
        image = self._decoded.pop(record.key, None)
        pixmap = QPixmap.fromImage(image) if image is not None else pixmap_from_bytes(record.thumbnail)
        if pixmap is None and record.thumbnail is None and record.status is not Status.ERROR:
            self._want_thumbnail(record.image_id)  # listed without it: fetched for the rows on screen
            return None
        if pixmap is None:
            pixmaps = QtWidgets.QStyle.StandardPixmap  # QStyle's type is made here, on first use, not at start
            kind = pixmaps.SP_MessageBoxCritical if record.status is Status.ERROR else pixmaps.SP_FileIcon
            return QApplication.style().standardIcon(kind)
        icon = QIcon(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # a photograph is not tinted by the selection colour
        self._icons[record.key] = icon
        if len(self._icons) > _ICON_CACHE_SIZE:
            self._icons.popitem(last=False)
        return icon


_TEXT = {
    Column.FILE: display.file_text,
    Column.PATIENT: display.patient_text,
    Column.EYE: lambda r: r.eye.value,  # OD / OS: what clinicians write; the tooltip spells it out
    Column.QUALITY: display.quality_word,
    Column.DR: display.dr_text,
    Column.DME: display.dme_text,
    Column.REFERABLE: display.referable_text,
    Column.REVIEW: display.review_word,
}
_MODEL_COLUMNS = (Column.DR, Column.DME, Column.REFERABLE)
# Referable by colour, sign and word together; the grader's review by mark and colour (all >= 4.5:1 on white).
URGENT_INK, REFERABLE_INK = QColor(160, 0, 0), QColor(138, 59, 0)
CONFIRMED_INK, OVERRIDDEN_INK = QColor(30, 94, 36), QColor(59, 59, 152)
_UNCONFIRMED_SHARE = 0.3  # an unconfirmed model grade: the text colour moved this far towards the background


CLAIMED_TEXT = "✎ in review"  # another grader has it open (the tooltip says who)
BLIND_TEXT = "after review"
BLIND_TIP = "Blind-first review: the model's grades appear once you have saved yours"


def _blind_data(role: int) -> Any:
    if role == Qt.ItemDataRole.DisplayRole:
        return BLIND_TEXT
    if role == Qt.ItemDataRole.ToolTipRole:
        return BLIND_TIP
    if role == Qt.ItemDataRole.ForegroundRole:
        return unconfirmed_ink()
    if role == SORT_ROLE:
        return -3
    return None


def _tooltip(record: ImageRecord, column: Column) -> str | None:
    if column in (Column.FILE, Column.THUMBNAIL):
        return str(record.result.path)
    if column == Column.EYE:
        return display.eye_tooltip(record)
    if column == Column.QUALITY:
        return display.quality_text(record)
    if column in (Column.DR, Column.DME):
        tip = display.grade_tooltip(record, "dr" if column == Column.DR else "dme")
        return f"{tip}\n\n{record.result.model.warning}" if record.model_caveat else tip
    if column == Column.REFERABLE and record.suspected:
        result = record.result
        p = result.suspicion if result.suspicion is not None else result.referable_probability
        return suspicion_words(p, result.model.referable_threshold) if p is not None else None
    if column == Column.REFERABLE and record.model_caveat:
        return f"The model's call, not yet confirmed by a grader.\n\n{record.result.model.warning}"
    if column == Column.REVIEW and record.decision is not None:
        d = record.decision
        text = f"{display.review_text(record)} at {d.decided_at}"
        return f"{text}\nComment: {d.comment}" if d.comment else text
    return None


def unconfirmed(record: Listed) -> bool:
    """The row's grades are the model's, not yet a grader's."""
    return record.status is Status.SCREENED and not record.reviewed


def unconfirmed_ink() -> QColor:
    """Readable (>= 4.5:1 on the view's background), but plainly not the same as a grader's grade."""
    palette = QApplication.palette()
    text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    t = _UNCONFIRMED_SHARE
    return QColor(*(round(a + (b - a) * t) for a, b in ((text.red(), base.red()), (text.green(), base.green()),
                                                       (text.blue(), base.blue()))))


def _styling(record: ImageRecord, column: Column, role: int) -> Any:
    model_cell = column in _MODEL_COLUMNS and unconfirmed(record)
    decision = record.eye_decision if column == Column.REFERABLE else None
    if role == Qt.ItemDataRole.FontRole:
        # Bold only for "refer": the model's grades are italic, the grader's upright (colour marks quality).
        bold = decision is not None and decision.referable or column == Column.REFERABLE and record.suspected
        if not (bold or model_cell):
            return None
        font = QFont()
        font.setBold(bold)
        font.setItalic(model_cell)
        return font
    if decision is not None and decision.referable:
        return URGENT_INK if decision.urgent else REFERABLE_INK
    if column == Column.REFERABLE and record.suspected:
        return URGENT_INK
    if column == Column.REVIEW and record.decision is not None:
        return CONFIRMED_INK if record.decision.kind == CONFIRMED else OVERRIDDEN_INK
    if model_cell:
        return unconfirmed_ink()
    if column == Column.QUALITY and record.status is Status.ERROR:
        return QColor(176, 0, 32)
    if column == Column.QUALITY and record.status is Status.UNGRADABLE:
        return QColor(160, 90, 0)
    return None


def _sort_key(record: ListEntry, column: Column) -> Any:
    if column == Column.THUMBNAIL or column == Column.FILE:
        return record.file_label.casefold()
    if column == Column.PATIENT:
        return (display.patient_label(record.patient_id, record.patient_name) or display.NONE).casefold()
    if column == Column.EYE:
        return record.eye.value
    if column == Column.QUALITY:
        return {Status.SCREENED: 0, Status.UNGRADABLE: 1, Status.ERROR: 2}[record.status]
    if column in (Column.DR, Column.DME):
        grade = record.grades[0 if column == Column.DR else 1]
        return -2 if record.status is Status.ERROR else -1 if grade is None else grade
    if column == Column.REFERABLE:
        decision = record.eye_decision
        if decision is None:
            return 2 if record.suspected else -1
        return 2 if decision.urgent else 1 if decision.referable else 0
    if column == Column.REVIEW:
        kind = record.decision_kind
        return 0 if kind is None else 1 if kind == CONFIRMED else 2
    return None
