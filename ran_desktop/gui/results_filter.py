"""Sorting and filtering of the worklist.

Category filters (referable, ungradable) combine with OR: ticking both shows every image that needs action.
'Not yet reviewed' and the search text then narrow that down (AND).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QModelRoleDataSpan, QObject, QPersistentModelIndex, QSortFilterProxyModel

from ran_desktop.engine.records.record_list import ListEntry
from ran_desktop.engine.records.results import Status
from ran_desktop.gui import display
from ran_desktop.gui.results_model import SORT_ROLE, ResultsTableModel

_MISSING = object()


class ResultsFilterProxy(QSortFilterProxyModel):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self.referable_only = False
        self.ungradable_only = False
        self.unreviewed_only = False
        self.search = ""
        self._keys: dict[int, Any] = {}
        self._keys_column = -1
        self._keys_revision = -1

    def set_filters(
        self,
        *,
        referable: bool | None = None,
        ungradable: bool | None = None,
        unreviewed: bool | None = None,
        search: str | None = None,
    ) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+, where invalidateRowsFilter is deprecated
            self.beginFilterChange()
        if referable is not None:
            self.referable_only = referable
        if ungradable is not None:
            self.ungradable_only = ungradable
        if unreviewed is not None:
            self.unreviewed_only = unreviewed
        if search is not None:
            self.search = search.strip().casefold()
        if hasattr(self, "endFilterChange"):
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    def accepts(self, record: ListEntry, hidden: bool = False) -> bool:
        """`hidden`: the model's grades are hidden (blind-first review), so they cannot make the image referable."""
        if self.referable_only or self.ungradable_only:
            needs_action = (self.referable_only and record.referable and not hidden) or (
                self.ungradable_only and (record.ungradable or record.status is Status.ERROR)
            )
            if not needs_action:
                return False
        if self.unreviewed_only and (record.reviewed or record.status is Status.ERROR):
            return False
        if self.search:
            patient = display.patient_label(record.patient_id, record.patient_name) or display.NONE
            haystack = " ".join((record.path, patient, record.patient_id or "")).casefold()
            if self.search not in haystack:
                return False
        return True

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        source = self.sourceModel()
        if not isinstance(source, ResultsTableModel):
            return True
        if not self.active:
            return True
        entry = source.entry(source_row)
        return self.accepts(entry, source.hides(entry))

    # PySide6's stubs declare the span as QModelRoleDataSpan | QModelRoleData and not iterable; Qt passes a span,
    # which is.
    def multiData(self, index: QModelIndex | QPersistentModelIndex,  # type: ignore[override]  # the stubs' span
                  roleDataSpan: QModelRoleDataSpan) -> None:
        # A view asks for about seven roles per cell at once. Qt's own proxy would call into Python once per role;
        # here it is once per cell. Each call from Qt must first take the interpreter lock, which the screening
        # threads hold much of the time during a batch, so fewer calls mean shorter repaints of the table.
        source = self.sourceModel()
        source_index = self.mapToSource(index)
        for item in roleDataSpan:  # type: ignore[attr-defined]  # iterable, whatever the stubs say (above)
            value = source.data(source_index, item.role())
            if value is None:
                item.clearData()  # an empty role is cleared, never set to None (binding_check.py)
            else:
                item.setData(value)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex) -> bool:
        source = self.sourceModel()
        if not isinstance(source, ResultsTableModel):
            return super().lessThan(left, right)
        a, b = self._key(source, left.row(), left.column()), self._key(source, right.row(), right.column())
        if a == b:
            return left.row() < right.row()  # stable: equal grades keep the screening order
        return a < b

    def _key(self, source: ResultsTableModel, row: int, column: int) -> Any:
        # Sorting thousands of rows compares each many times: compute a row's key once per sort, not per comparison.
        if column != self._keys_column or source.revision != self._keys_revision:
            self._keys, self._keys_column, self._keys_revision = {}, column, source.revision
        key = self._keys.get(row, _MISSING)
        if key is _MISSING:
            key = self._keys[row] = source.sort_key(row, column)
        return key

    @property
    def active(self) -> bool:
        return bool(self.referable_only or self.ungradable_only or self.unreviewed_only or self.search)

    def clear_filters(self) -> None:
        self.set_filters(referable=False, ungradable=False, unreviewed=False, search="")

    def header_text(self) -> str:
        return f"{self.rowCount()} of {self.sourceModel().rowCount()} shown" if self.active else ""

