"""Class probabilities of one head as labelled bars, the predicted class in bold.

Each percentage stands in its own column right of its bar: drawn on the bar, a value near the middle sat half on the
filled part, dark text on the highlight colour."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget

from ran_desktop.gui.display import percent

_STEPS = 1000  # bar resolution: tenths of a percent


class ProbabilityBars(QWidget):
    def __init__(self, title: str, names: Sequence[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(f"<b>{title}</b>")
        self.names = [QLabel(f"{i} – {name}") for i, name in enumerate(names)]
        self.bars: list[QProgressBar] = []
        self.percents: list[QLabel] = []
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.title, 0, 0, 1, 3)
        bold = QFont(self.font())
        bold.setBold(True)  # the chosen grade's value is bold: its width must not shift the bars
        metrics = QFontMetrics(bold)
        widest = metrics.horizontalAdvance(percent(1.0)) + metrics.averageCharWidth()
        for i, label in enumerate(self.names, start=1):
            bar = QProgressBar()
            bar.setRange(0, _STEPS)
            bar.setTextVisible(False)  # the value is in the label beside it (its format still names it to readers)
            value = QLabel()
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setMinimumWidth(widest)
            self.bars.append(bar)
            self.percents.append(value)
            grid.addWidget(label, i, 0)
            grid.addWidget(bar, i, 1)
            grid.addWidget(value, i, 2)
        grid.setColumnStretch(1, 1)
        self.set_probabilities(None)

    def set_probabilities(self, probs: Sequence[float] | None, chosen: int | None = None) -> None:
        """Show `probs`, with the model's grade `chosen` in bold (under an operating point it need not be the most
        probable one); without `chosen`, the most probable."""
        best = None if probs is None else chosen if chosen is not None else max(range(len(probs)),
                                                                                   key=lambda i: probs[i])
        # QProgressBar.setValue repaints at once (repaint(), not update()), which paints everything pending in
        # the whole window there and then, once per bar: with updates off it is one ordinary, coalesced paint.
        self.setUpdatesEnabled(False)
        try:
            for i, (label, bar, shown) in enumerate(zip(self.names, self.bars, self.percents, strict=True)):
                value = None if probs is None else float(probs[i])
                text = "—" if value is None else percent(value)
                bar.setValue(0 if value is None else round(value * _STEPS))
                bar.setFormat(text)
                shown.setText(text)
                for widget in (label, shown):
                    font = widget.font()
                    font.setBold(i == best)
                    widget.setFont(font)
            self.setEnabled(probs is not None)
        finally:
            self.setUpdatesEnabled(True)

    def values(self) -> list[float]:
        return [bar.value() / _STEPS for bar in self.bars]
