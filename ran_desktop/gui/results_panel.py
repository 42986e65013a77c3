"""The worklist page: filter boxes, a search field and the results table (sortable, one row per image)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ran_desktop.gui.results_filter import ResultsFilterProxy
from ran_desktop.gui.results_model import Column

# Starting widths (the user's own widths are remembered with the window state): file and patient in average
# characters, the other columns as wide as their longest words (bold where the cell may be), so those are never cut
# at 1280x800.
_COLUMN_CHARS = {Column.FILE: 9, Column.PATIENT: 8}
_COLUMN_WORDS = {
    Column.EYE: ("OD", "Eye"),
    Column.QUALITY: ("Ungradable", "Unreadable"),
    Column.DR: ("2 Moderate", "Ungradable", "DR grade"),
    Column.DME: ("1 Non-central", "Ungradable", "DME grade"),
    Column.REFERABLE: ("\u26a0 Yes, urgent", "Referable"),
    Column.REVIEW: ("\u270e Overridden", "Not reviewed"),
}


class MiddleElideDelegate(QStyledItemDelegate):
    """File names differ at the end (numbers, eye): cut them in the middle, not there."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class ResultsPanel(QWidget):
    def __init__(self, proxy: ResultsFilterProxy, parent: QWidget | None = None):
        super().__init__(parent)
        self.proxy = proxy
        fm = self.fontMetrics()
        self.filter_referable = QCheckBox("Referable")
        self.filter_referable.setToolTip("Show images whose grades are referable (DR 2+ or any DME)")
        self.filter_ungradable = QCheckBox("Ungradable")
        self.filter_ungradable.setToolTip("Show ungradable images and files that could not be read.\n"
                                          "With 'Referable' too: images that need either")
        self.filter_unreviewed = QCheckBox("Not reviewed")
        self.filter_unreviewed.setToolTip("Hide images a grader has already confirmed or overridden")
        self.search = QLineEdit()
        self.search.setToolTip("Show only images whose file name or patient contains this text")
        self.search.setClearButtonEnabled(True)
        self.count_label = QLabel()
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show only:"))
        for box in (self.filter_referable, self.filter_ungradable, self.filter_unreviewed):
            filters.addWidget(box)
            box.toggled.connect(self._apply_filters)
        filters.addStretch(1)
        search_row = QHBoxLayout()
        search_row.addWidget(QLabel("Search:"))
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.count_label)
        self.search.textChanged.connect(self._apply_filters)

        self.table = QTableView()
        self.table.setObjectName("resultsTable")
        self.table.setModel(proxy)
        # Screening order until the user sorts. The indicator is cleared first: enabling sorting sorts by it at once,
        # which on a long worklist took seconds only to be undone.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # Ctrl/Shift+click picks several for Reports > selected patients; the current row stays the one shown.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setAcceptDrops(False)  # drops go to the window: screen these files
        self.table.setItemDelegateForColumn(Column.FILE, MiddleElideDelegate(self.table))
        self.table.verticalHeader().setVisible(False)
        thumb = fm.height() * 3  # thumbnails scale with the font, so with the display's scaling
        self.table.setIconSize(QSize(thumb, thumb))
        self.table.verticalHeader().setDefaultSectionSize(thumb + fm.height() // 2)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.resizeSection(Column.THUMBNAIL, thumb + fm.height() // 2)
        for column, chars in _COLUMN_CHARS.items():
            header.resizeSection(column, fm.averageCharWidth() * chars)
        bold = self.table.font()
        bold.setBold(True)
        metrics = {column: QFontMetrics(bold) if column == Column.REFERABLE else QFontMetrics(self.table.font())
                   for column in _COLUMN_WORDS}
        for column, words in _COLUMN_WORDS.items():
            # The cell's margins take about a character and a half.
            header.resizeSection(column, max(metrics[column].horizontalAdvance(w) for w in words)
                                 + 3 * fm.averageCharWidth() // 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addLayout(search_row)
        layout.addWidget(self.table, 1)
        for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset, proxy.layoutChanged):
            signal.connect(self.update_count)

    def update_count(self, *args: object) -> None:
        total, shown = self.proxy.sourceModel().rowCount(), self.proxy.rowCount()
        self.count_label.setText(f"{shown} of {total}" if shown != total else f"{total} image(s)")

    def filter_state(self) -> dict[str, object]:
        return {"referable": self.filter_referable.isChecked(), "ungradable": self.filter_ungradable.isChecked(),
                "unreviewed": self.filter_unreviewed.isChecked(), "search": self.search.text()}

    def set_filter_state(self, state: dict[str, object]) -> None:
        for name in ("referable", "ungradable", "unreviewed"):
            getattr(self, f"filter_{name}").setChecked(bool(state.get(name, False)))
        self.search.setText(str(state.get("search", "")))

    def _apply_filters(self) -> None:
        self.proxy.set_filters(
            referable=self.filter_referable.isChecked(),
            ungradable=self.filter_ungradable.isChecked(),
            unreviewed=self.filter_unreviewed.isChecked(),
            search=self.search.text(),
        )
        self.update_count()
