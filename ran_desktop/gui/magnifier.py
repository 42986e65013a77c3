"""A loupe over the picture that follows the pointer: a round window showing the pixels under it enlarged, as
graders use to tell a microaneurysm from a dot of dust without zooming the whole photograph.

It reads the picture the view holds (its own pixels, not the screen's), so it shows detail the fitted view scales
away; Qt crops and scales it, on the GUI thread, in well under a millisecond.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QWidget

SIZE = 220  # on-screen diameter, px
POWER = 3.0  # how much larger than the view shows the picture now
MIN_SCALE = 3.0  # and at least this many screen pixels per picture pixel


class Magnifier(QWidget):
    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self._area = parent  # the view's viewport: the loupe stays inside it
        self.setObjectName("magnifier")
        self.setFixedSize(SIZE, SIZE)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._picture = QPixmap()
        self.hide()

    def show_at(self, where: QPoint, source: QPixmap, centre: QPointF, view_zoom: float) -> None:
        """Show the part of `source` around `centre` (its own pixel coordinates) next to the pointer at `where`."""
        if source.isNull():
            self.hide()
            return
        scale = max(MIN_SCALE, view_zoom * POWER)  # screen pixels per picture pixel inside the loupe
        side = max(4, round(SIZE / scale))
        crop = QRect(round(centre.x() - side / 2), round(centre.y() - side / 2), side, side)
        self._picture = source.copy(crop).scaled(SIZE, SIZE, Qt.AspectRatioMode.IgnoreAspectRatio,
                                                 Qt.TransformationMode.FastTransformation)
        parent = self._area
        x = min(max(0, where.x() - SIZE // 2), parent.width() - SIZE)
        y = where.y() - SIZE - 24 if where.y() - SIZE - 24 >= 0 else where.y() + 24  # above the pointer, else below
        self.move(x, min(y, parent.height() - SIZE))
        self.show()
        self.raise_()
        self.update()

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        circle = QPainterPath()
        circle.addEllipse(QRectF(1, 1, SIZE - 2, SIZE - 2))
        painter.setClipPath(circle)
        painter.fillRect(self.rect(), QColor(24, 24, 24))
        painter.drawPixmap(0, 0, self._picture)
        painter.setClipping(False)
        painter.setPen(QPen(QColor(255, 255, 255, 200), 2))
        painter.drawEllipse(QRectF(1, 1, SIZE - 2, SIZE - 2))
        painter.setPen(QPen(QColor(255, 255, 255, 140), 1))
        middle = SIZE / 2
        painter.drawLine(QPointF(middle - 8, middle), QPointF(middle + 8, middle))  # where the pointer is
        painter.drawLine(QPointF(middle, middle - 8), QPointF(middle, middle + 8))
        painter.end()
