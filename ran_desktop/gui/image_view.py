"""A zoomable, pannable picture with an optional heat-map layer and a movable macular grid on top (QGraphicsView).

Wheel or Ctrl+/- zooms around the pointer, dragging pans, and the picture fits the view until the user zooms.
The heat map is its own item, so the opacity slider only changes how Qt blends it: nothing is recomputed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView, QWidget

from ran_desktop.gui.grid_item import GridItem
from ran_desktop.gui.magnifier import Magnifier

if TYPE_CHECKING:  # numpy and OpenCV come with it: the window opens without them
    from ran_desktop.engine.imaging.macula import MacularGrid

_ZOOM_STEP = 1.25
_MAX_ZOOM = 40.0  # times the picture's own pixels: enough to inspect single microaneurysms


class ImageView(QGraphicsView):
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("imageView")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.base = QGraphicsPixmapItem()
        self.base.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.overlay = QGraphicsPixmapItem()
        self.overlay.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.overlay.setZValue(1)
        self.overlay.setVisible(False)
        self.message = QGraphicsSimpleTextItem()
        self.message.setBrush(QColor(220, 220, 220))
        for item in (self.base, self.overlay, self.message):
            self._scene.addItem(item)
        self.setBackgroundBrush(QColor(24, 24, 24))  # fundus photographs are read on black
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        # Drops belong to the window (screen these files), not to the scene.
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self._fitted = True
        self.grid_item: GridItem | None = None
        self.tiles: list[QGraphicsPixmapItem] = []  # the photograph at full resolution, over the preview
        self.magnifier = Magnifier(self.viewport())
        self.magnifying = False
        self.setToolTip("Scroll or Ctrl +/- to zoom, drag to pan, Ctrl+0 to fit")

    # --- contents -----------------------------------------------------------------------------------------

    def set_image(self, image: QImage | None, *, keep_view: bool = False) -> None:
        self.message.setVisible(False)
        if image is None or image.isNull():
            self.base.setPixmap(QPixmap())
            self.set_overlay(None)
            return
        same_size = not self.base.pixmap().isNull() and self.base.pixmap().size() == image.size()
        self.base.setPixmap(QPixmap.fromImage(image))
        self._scene.setSceneRect(QRectF(self.base.pixmap().rect()))
        self._fit_overlay()
        if not (keep_view and same_size) or self._fitted:
            self.fit()

    def set_tiles(self, tiles: list[tuple[int, int, QImage]], scale: float) -> None:
        """The full-resolution photograph as tiles ((x, y) in its own pixels) laid over the preview, `scale` being
        preview pixels per photograph pixel. Qt draws only the tiles in view."""
        self.clear_tiles()
        for x, y, image in tiles:
            item = QGraphicsPixmapItem(QPixmap.fromImage(image))
            item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
            item.setScale(scale)
            item.setPos(x * scale, y * scale)
            item.setZValue(0.5)  # above the preview, below the heat map, the grid and the marks
            self._scene.addItem(item)
            self.tiles.append(item)

    def clear_tiles(self) -> None:
        for item in self.tiles:
            self._scene.removeItem(item)
        self.tiles = []

    def set_overlay(self, image: QImage | None) -> None:
        if image is None or image.isNull():
            self.overlay.setPixmap(QPixmap())
            self.overlay.setVisible(False)
            return
        self.overlay.setPixmap(QPixmap.fromImage(image))
        self._fit_overlay()
        self.overlay.setVisible(True)

    def set_grid(self, grid: MacularGrid | None) -> GridItem | None:
        """Show the macular grid (movable) over the picture, or remove it; returns the item shown."""
        if self.grid_item is not None:
            self._scene.removeItem(self.grid_item)
            self.grid_item = None
        if grid is not None:
            self.grid_item = GridItem(grid)
            self._scene.addItem(self.grid_item)
        return self.grid_item

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay.setOpacity(max(0.0, min(1.0, opacity)))

    @property
    def showing_overlay(self) -> bool:
        return self.overlay.isVisible() and not self.overlay.pixmap().isNull()

    @property
    def has_image(self) -> bool:
        return not self.base.pixmap().isNull()

    def show_message(self, text: str) -> None:
        """Text in place of a picture (still loading, cannot be shown...)."""
        self.clear_tiles()
        self.base.setPixmap(QPixmap())
        self.set_overlay(None)
        self.set_grid(None)
        self.message.setText(text)
        self.message.setVisible(True)
        rect = self.message.boundingRect()
        self._scene.setSceneRect(rect.adjusted(-20, -20, 20, 20))
        self.resetTransform()
        self.centerOn(self.message)

    def _fit_overlay(self) -> None:
        base, over = self.base.pixmap(), self.overlay.pixmap()
        if base.isNull() or over.isNull():
            return
        # The map is computed at its own resolution; stretch it over the picture it belongs to.
        self.overlay.setTransform(QTransform.fromScale(base.width() / over.width(), base.height() / over.height()))

    # --- zoom ---------------------------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        if self.base.pixmap().isNull():
            return
        self.fitInView(self.base, Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True
        self.zoomChanged.emit(self.zoom)

    def zoom_by(self, factor: float) -> None:
        if self.base.pixmap().isNull():
            return
        target = max(0.02, min(_MAX_ZOOM, self.zoom * factor))
        self.scale(target / self.zoom, target / self.zoom)
        self._fitted = False
        self.zoomChanged.emit(self.zoom)

    def zoom_in(self) -> None:
        self.zoom_by(_ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / _ZOOM_STEP)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(_ZOOM_STEP**steps)
        event.accept()

    # --- the loupe ----------------------------------------------------------------------------------------------

    def set_magnifier(self, on: bool) -> None:
        """A loupe that follows the pointer over the picture (View > Magnifier)."""
        self.magnifying = on
        self.viewport().setMouseTracking(on or self.viewport().hasMouseTracking())
        if not on:
            self.magnifier.hide()

    def magnify_at(self, where: QPoint) -> None:
        """Show the loupe for the pointer at `where` (viewport coordinates), or hide it off the picture."""
        picture = self.base.pixmap()
        centre = self.base.mapFromScene(self.mapToScene(where))
        if not self.magnifying or picture.isNull() or not QRectF(picture.rect()).contains(centre):
            self.magnifier.hide()
            return
        self.magnifier.show_at(where, picture, centre, self.zoom)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        if self.magnifying:
            self.magnify_at(event.position().toPoint())

    def leaveEvent(self, event: QEvent) -> None:
        self.magnifier.hide()
        super().leaveEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit()
