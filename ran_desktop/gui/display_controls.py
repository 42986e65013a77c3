"""Brightness, contrast and gamma for the picture shown (the detail view's Display button), as graders set them on a
dark or washed-out photograph. Only what is shown changes: the model, the stored result and the report never see it.

The sliders live in the button's pop-up; the pixels are changed in a worker (engine.imaging.grading_views: one lookup
table on every channel), and a result that comes back after the picture has changed is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFormLayout, QMenu, QPushButton, QSlider, QToolButton, QWidget, QWidgetAction

from ran_desktop import gui
from ran_desktop.engine import imaging
from ran_desktop.gui.tasks import Report, TaskRunner

Setting = tuple[float, float, float]  # brightness (-1..1), contrast (factor), gamma
NEUTRAL: Setting = (0.0, 1.0, 1.0)


def adjust(_report: Report, picture: QImage, setting: Setting) -> QImage:
    pixels = gui.pixel_arrays.array_from_qimage(picture)
    display = imaging.grading_views.Display(*setting)
    return gui.pixel_arrays.qimage_for_display(imaging.grading_views.adjusted(pixels, display))


class DisplayButton(QToolButton):
    """'Display' with its sliders in a pop-up; `changed` carries the new setting (debounced while dragging)."""

    changed = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("displayButton")
        self.setText("Display")
        self.setToolTip("Brightness, contrast and gamma of the picture shown (the model and reports never see them)")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.brightness = self._slider(-100, 100, 0, "brightness")
        self.contrast = self._slider(20, 300, 100, "contrast")
        self.gamma = self._slider(20, 300, 100, "gamma")
        reset = QPushButton("Reset")
        reset.clicked.connect(self.reset)
        panel = QWidget()
        form = QFormLayout(panel)
        form.addRow("Brightness", self.brightness)
        form.addRow("Contrast", self.contrast)
        form.addRow("Gamma", self.gamma)
        form.addRow("", reset)
        menu = QMenu(self)
        holder = QWidgetAction(menu)
        holder.setDefaultWidget(panel)
        menu.addAction(holder)
        self.setMenu(menu)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(60)  # one adjustment per pause in the drag, not one per pixel of it
        self._settle.timeout.connect(lambda: self.changed.emit(self.setting))

    def _slider(self, low: int, high: int, value: int, name: str) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setObjectName(f"display_{name}")
        slider.setRange(low, high)
        slider.setValue(value)
        slider.setMinimumWidth(self.fontMetrics().averageCharWidth() * 24)
        slider.valueChanged.connect(lambda _value: self._settle.start())
        return slider

    def open_over(self, widget: QWidget) -> None:
        """The sliders from the View menu or its key: over the picture, wherever the button is (a narrow window
        keeps it under the tool bar's » menu)."""
        menu = self.menu()
        if menu is not None:
            menu.popup(widget.mapToGlobal(QPoint(12, 12)))

    @property
    def setting(self) -> Setting:
        return self.brightness.value() / 100, self.contrast.value() / 100, self.gamma.value() / 100

    def reset(self) -> None:
        for slider, value in ((self.brightness, 0), (self.contrast, 100), (self.gamma, 100)):
            slider.setValue(value)
        self._settle.stop()
        self.changed.emit(self.setting)


class DisplayAdjuster(QObject):
    """Makes the adjusted picture in a worker and hands it to `show`, unless another picture came meanwhile."""

    def __init__(self, show: Callable[[QImage], None], parent: QObject | None = None):
        super().__init__(parent)
        self._show = show
        self._runner = TaskRunner("ran-display", 1, self)
        self._generation = 0
        self.setting: Setting = NEUTRAL

    def picture_shown(self, picture: QImage | None) -> None:
        """A new picture is on screen as it is: adjust it too, if the grader has set anything."""
        self._generation += 1
        if picture is not None and not picture.isNull() and self.setting != NEUTRAL:
            generation = self._generation
            self._runner.submit(adjust, picture, self.setting,
                                on_done=lambda adjusted: self._deliver(generation, adjusted))

    def set_setting(self, setting: Setting, picture: QImage | None) -> None:
        self.setting = setting
        if setting == NEUTRAL:
            self._generation += 1
            if picture is not None:
                self._show(picture)
            return
        self.picture_shown(picture)

    def _deliver(self, generation: int, adjusted: QImage) -> None:
        if generation == self._generation:
            self._show(adjusted)

    def shutdown(self) -> None:
        self._runner.shutdown()
