"""Small charts of proportions (0 to 1), painted with QPainter: the reliability diagram of the model's referable
probability, and sensitivity and specificity month by month with their 95 % intervals.

Qt's own chart module is not in the PySide6 wheels the app installs (PySide6-Essentials); these need no more than a
few lines, markers and whiskers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ran_desktop.engine.validation.agreement import LocalValidation
from ran_desktop.engine.validation.calibration import Calibration

BEFORE, AFTER = QColor("#c0392b"), QColor("#1f6fb2")
SENSITIVITY, SPECIFICITY = QColor("#1f6fb2"), QColor("#7a7a7a")


@dataclass
class Series:
    name: str
    colour: QColor
    points: list[tuple[float, float]]  # (x, y), both in [0, 1] on the chart's axes
    whiskers: list[tuple[float, float, float]] = field(default_factory=list)  # (x, low, high)


class ProportionChart(QWidget):
    """Series of points on a 0-1 vertical axis; the horizontal axis is 0-1 too, or named categories."""

    def __init__(self, title: str, x_label: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title, self.x_label = title, x_label
        self.series: list[Series] = []
        self.categories: list[str] = []  # names along the horizontal axis; empty: a 0-1 axis
        self.diagonal = False
        self.empty_text = "Not enough reviewed images yet."
        lines = self.fontMetrics().height()
        self.setMinimumSize(lines * 16, lines * 13)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_series(self, series: list[Series], categories: list[str] | None = None, diagonal: bool = False) -> None:
        self.series, self.categories, self.diagonal = series, categories or [], diagonal
        self.update()

    def _plot_area(self) -> QRectF:
        lines = self.fontMetrics().height()
        return QRectF(lines * 2.6, lines * 2.6, self.width() - lines * 3.4, self.height() - lines * 5.2)

    def _to_screen(self, area: QRectF, x: float, y: float) -> QPointF:
        return QPointF(area.left() + x * area.width(), area.bottom() - y * area.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        text = palette.text().color()
        fm = self.fontMetrics()
        lines = fm.height()
        area = self._plot_area()
        painter.setPen(text)
        painter.drawText(QRectF(0, 0, self.width(), lines * 1.3), Qt.AlignmentFlag.AlignCenter, self.title)
        # The legend, one entry per series, under the title.
        x = area.left()
        for s in self.series:
            painter.fillRect(QRectF(x, lines * 1.45, lines * 0.7, lines * 0.7), s.colour)
            painter.setPen(text)
            painter.drawText(QPointF(x + lines * 0.9, lines * 2.1), s.name)
            x += lines * 1.6 + fm.horizontalAdvance(s.name)
        grid = QPen(palette.mid().color(), 1, Qt.PenStyle.DotLine)
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = self._to_screen(area, 0, tick).y()
            painter.setPen(grid)
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(text)
            painter.drawText(QRectF(0, y - lines / 2, area.left() - lines * 0.3, lines),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{tick:g}")
        painter.setPen(QPen(text, 1))
        painter.drawRect(area)
        below = QRectF(area.left(), area.bottom() + lines * 0.2, area.width(), lines)
        if self.categories:
            for i, name in enumerate(self.categories):
                centre = self._to_screen(area, self._category_x(i), 0).x()
                painter.drawText(QRectF(centre - lines * 3, below.top(), lines * 6, lines),
                                 Qt.AlignmentFlag.AlignCenter, name)
        else:
            for tick in (0.0, 0.5, 1.0):
                centre = self._to_screen(area, tick, 0).x()
                painter.drawText(QRectF(centre - lines * 2, below.top(), lines * 4, lines),
                                 Qt.AlignmentFlag.AlignCenter, f"{tick:g}")
        painter.drawText(QRectF(area.left(), below.bottom(), area.width(), lines * 1.2),
                         Qt.AlignmentFlag.AlignCenter, self.x_label)
        if self.diagonal:
            painter.setPen(QPen(palette.mid().color(), 1, Qt.PenStyle.DashLine))
            painter.drawLine(self._to_screen(area, 0, 0), self._to_screen(area, 1, 1))
        if not any(s.points for s in self.series):
            painter.setPen(text)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)
            return
        for s in self.series:
            self._paint_series(painter, area, s)

    def _category_x(self, index: int) -> float:
        return (index + 0.5) / max(len(self.categories), 1)

    def _paint_series(self, painter: QPainter, area: QRectF, s: Series) -> None:
        lines = self.fontMetrics().height()
        painter.setPen(QPen(s.colour, 1.2))
        for x, low, high in s.whiskers:
            top, bottom = self._to_screen(area, x, high), self._to_screen(area, x, low)
            painter.drawLine(top, bottom)
            for end in (top, bottom):
                painter.drawLine(QPointF(end.x() - lines * 0.2, end.y()), QPointF(end.x() + lines * 0.2, end.y()))
        points = [self._to_screen(area, x, y) for x, y in s.points]
        if len(points) > 1:
            path = QPainterPath(points[0])
            for p in points[1:]:
                path.lineTo(p)
            painter.setPen(QPen(s.colour, 2))
            painter.drawPath(path)
        painter.setBrush(s.colour)
        for p in points:
            painter.drawEllipse(p, lines * 0.22, lines * 0.22)
        painter.setBrush(Qt.BrushStyle.NoBrush)


def reliability_series(calibration: Calibration | None) -> list[Series]:
    """The model's probability against how often the graders called the images referable, before and after the
    proposed temperature (the diagonal is a perfectly honest probability)."""
    if calibration is None:
        return []
    series = [Series("as the model says", BEFORE, [(b.mean_probability, b.observed) for b in calibration.before])]
    if calibration.helps:
        series.append(Series(f"with temperature {calibration.temperature:.2f}", AFTER,
                             [(b.mean_probability, b.observed) for b in calibration.after]))
    return series


def monthly_series(validation: LocalValidation | None) -> tuple[list[Series], list[str]]:
    """Referable sensitivity and specificity per month with their Wilson intervals: drift shows as a slope."""
    if validation is None:
        return [], []
    months = list(validation.by_month)
    series = []
    for name, colour in (("sensitivity", SENSITIVITY), ("specificity", SPECIFICITY)):
        s = Series(name, colour, [])
        for i, month in enumerate(months):
            p = getattr(validation.by_month[month], name)
            if p.value is None:
                continue
            x = (i + 0.5) / len(months)
            s.points.append((x, p.value))
            if p.interval is not None:
                s.whiskers.append((x, *p.interval))
        series.append(s)
    return series, months
