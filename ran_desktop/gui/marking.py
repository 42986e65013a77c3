"""Marking lesions on the picture: with a kind chosen (the picture's Marks menu), a click marks a point and a drag
draws an outline (a lasso); the marks are drawn over the photograph in each kind's colour.

The view works in the picture's pixels (the photograph may be shown decoded at a reduced size); the detail panel
turns them into the photograph's own pixels before they become LesionMarks, and back to draw them.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QColor,
    QIcon,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView, QMenu, QStyleOptionGraphicsItem, QToolButton, QWidget

from ran_desktop.engine.records.lesion_marks import COLOURS, KINDS, LesionMark

LASSO_MIN_PX = 12.0  # on screen: a drag shorter than this is a click (a point mark)


class MarksItem(QGraphicsItem):
    """The marks of the image shown, in the picture's pixels (`scale`: picture pixels per photograph pixel)."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(3)  # above the heat map and the grid
        self.marks: tuple[LesionMark, ...] = ()
        self.scale_to_picture = 1.0
        self.radius = 8.0
        self.lasso: list[QPointF] = []  # an outline being drawn

    def set_marks(self, marks: tuple[LesionMark, ...], scale: float, picture_width: int) -> None:
        self.prepareGeometryChange()
        self.marks, self.scale_to_picture = marks, scale
        self.radius = max(5.0, picture_width * 0.008)
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(-1e5, -1e5, 2e5, 2e5)  # marks anywhere on the picture; drawn only where exposed

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for mark in self.marks:
            pen = QPen(QColor(*COLOURS[mark.kind]), 2)
            pen.setCosmetic(True)  # the same on-screen width at any zoom
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            points = [QPointF(x * self.scale_to_picture, y * self.scale_to_picture) for x, y in mark.points]
            if mark.shape == "point":
                painter.drawEllipse(points[0], self.radius, self.radius)
            else:
                painter.drawPolygon(QPolygonF(points))
        if len(self.lasso) > 1:
            pen = QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            painter.setPen(pen)
            path = QPainterPath(self.lasso[0])
            for point in self.lasso[1:]:
                path.lineTo(point)
            painter.drawPath(path)


class MarkingTool(QObject):
    """Turns clicks and drags on the view into marks while a kind is chosen; `marked` carries the kind and the
    points in the picture's pixels."""

    marked = Signal(str, object)

    def __init__(self, view: QGraphicsView, item: MarksItem):
        super().__init__(view)
        self.view = view
        self.item = item
        self.kind: str | None = None
        self._pressed_at: QPointF | None = None
        self._reach = 0.0  # the farthest the pointer went from where it was pressed, on screen
        view.viewport().installEventFilter(self)

    def set_kind(self, kind: str | None) -> None:
        self.kind = kind
        self.view.setDragMode(QGraphicsView.DragMode.NoDrag if kind else QGraphicsView.DragMode.ScrollHandDrag)
        self.view.viewport().setCursor(Qt.CursorShape.CrossCursor if kind else Qt.CursorShape.OpenHandCursor)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.kind is None or not isinstance(event, QMouseEvent):
            return False
        scene = self.view.mapToScene(event.position().toPoint())
        if event.type() == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._pressed_at = event.position()
            self._reach = 0.0
            self.item.lasso = [scene]
            return True
        if event.type() == QEvent.Type.MouseMove and self._pressed_at is not None:
            self._reach = max(self._reach, math.dist((event.position().x(), event.position().y()),
                                                     (self._pressed_at.x(), self._pressed_at.y())))
            self.item.lasso.append(scene)
            self.item.update()
            return True
        if event.type() == QEvent.Type.MouseButtonRelease and self._pressed_at is not None:
            # How far the drag went, not where it ended: a lasso ends where it began.
            lasso, self.item.lasso, self._pressed_at = self.item.lasso, [], None
            self.item.update()
            if self._reach < LASSO_MIN_PX or len(lasso) < 3:
                self.marked.emit(self.kind, [(scene.x(), scene.y())])
            else:
                self.marked.emit(self.kind, [(p.x(), p.y()) for p in lasso[:: max(1, len(lasso) // 64)]])
            return True
        return False


class MarksButton(QToolButton):
    """'Marks' in the picture's tool bar: which kind clicks mark, or none (the picture pans)."""

    kindChosen = Signal(object)  # a kind, or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("marksButton")
        self.setText("Marks")
        self.setToolTip("Mark lesions on the photograph: choose a kind, then click a point or drag an outline")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        group = QActionGroup(self)
        self.kind_actions: dict[str | None, QAction] = {}
        for kind in (None, *KINDS):
            action = menu.addAction("Pan (no marking)" if kind is None else f"Mark {kind}s")
            action.setCheckable(True)
            action.setChecked(kind is None)
            if kind is not None:
                action.setIcon(_swatch(COLOURS[kind]))
            group.addAction(action)
            action.triggered.connect(lambda _=False, k=kind: self.kindChosen.emit(k))
            self.kind_actions[kind] = action
        self.setMenu(menu)

    def show_kind(self, kind: str | None) -> None:
        self.kind_actions[kind].setChecked(True)
        self.setText("Marks" if kind is None else f"Marking: {kind}")


def _swatch(rgb: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*rgb))
    return QIcon(pixmap)
