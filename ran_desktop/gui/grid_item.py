"""The macular grid on the picture: circles 1/3, 1 and 2 disc diameters from the fovea and a cross on it, which the
grader drags where the fovea really is. Drawn as vectors over the photograph, so it stays sharp at any zoom."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

if TYPE_CHECKING:  # numpy and OpenCV come with it: the window opens without them
    from ran_desktop.engine.imaging.macula import MacularGrid


INK = QColor(255, 235, 0)


class GridItem(QGraphicsObject):
    moved = Signal(object)  # the grid where the grader put it (MacularGrid)

    def __init__(self, grid: MacularGrid, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self._grid = grid
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges, True)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip("Macular grid: drag it to where the fovea is")
        self.setZValue(2)
        self.setPos(QPointF(*grid.fovea))

    @property
    def grid(self) -> MacularGrid:
        return self._grid

    def boundingRect(self) -> QRectF:
        r = self._grid.radii[-1] + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:  # grabbed inside the innermost circle; a drag elsewhere still pans
        path = QPainterPath()
        r = self._grid.radii[0]
        path.addEllipse(QPointF(0, 0), r, r)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        pen = QPen(INK, 2)
        pen.setCosmetic(True)  # the same width at every zoom
        painter.setPen(pen)
        for r in self._grid.radii:
            painter.drawEllipse(QPointF(0, 0), r, r)
        arm = self._grid.disc_diameter / 8
        painter.drawLine(QPointF(-arm, 0), QPointF(arm, 0))
        painter.drawLine(QPointF(0, -arm), QPointF(0, arm))

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self._grid = self._grid.moved_to((self.pos().x(), self.pos().y()))
            self.moved.emit(self._grid)
        return super().itemChange(change, value)
