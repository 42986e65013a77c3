"""The selected image in detail: the picture in five views, class probabilities, quality and file facts.

Pictures arrive from the detail worker (`show_preview`, `show_heat`); this widget only displays and asks.

Long because the five views, the heat map's controls and the facts beside them share one record and one review
mode (blind-first hides the model's grades in all of them at once).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QActionGroup, QImage
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES, suspicion_words
from ran_desktop.engine.imaging.views import HEAT_OPACITY, MACULA, MODEL_VIEW, ORIGINAL, RED_FREE
from ran_desktop.engine.records.lesion_marks import LesionMark
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import OPEN, ImageRecord, blinded, caveat_for
from ran_desktop.gui import display
from ran_desktop.gui.display_controls import DisplayAdjuster, DisplayButton, Setting
from ran_desktop.gui.full_resolution import FullResolution
from ran_desktop.gui.image_view import ImageView
from ran_desktop.gui.marking import MarkingTool, MarksButton, MarksItem
from ran_desktop.gui.probability_bars import ProbabilityBars
from ran_desktop.gui.results_model import BLIND_TIP
from ran_desktop.gui.view_modes import GRADCAM, LESION_LAYER, LESION_LAYER_TIP, VIEW_MODES

if TYPE_CHECKING:
    from ran_desktop.engine.imaging.macula import MacularGrid

_SCORE_NAMES = (
    ("fov_diameter_px", "Field of view diameter", "{:.0f} px"),
    ("fov_fraction", "Field of view / frame", "{:.0%}"),
    ("brightness", "Brightness (0-255)", "{:.1f}"),
    ("overexposed_fraction", "Overexposed", "{:.1%}"),
    ("contrast", "Contrast (RMS)", "{:.3f}"),
    ("vessel_contrast", "Vessel contrast", "{:.3f}"),
    ("sharpness", "Sharpness", "{:.2f}"),
)


def _facts_table() -> QTableWidget:
    table = QTableWidget(0, 2)
    table.setHorizontalHeaderLabels(["", ""])
    table.horizontalHeader().setVisible(False)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
    table.setWordWrap(True)
    return table


MARKABLE = (ORIGINAL, RED_FREE, MACULA)  # views of the whole photograph, where marks have a place

def _tool_button(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    return button


def _scrolling(page: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


def _fill(table: QTableWidget, rows: list[tuple[str, str]]) -> None:
    table.setRowCount(len(rows))
    for i, (name, value) in enumerate(rows):
        table.setItem(i, 0, QTableWidgetItem(name))
        item = QTableWidgetItem(value)
        item.setToolTip(value)
        table.setItem(i, 1, item)


class DetailPanel(QWidget):
    modeChanged = Signal(str)
    heatRequested = Signal(str, object)
    opacityChanged = Signal(int)
    markAdded = Signal(object)  # a LesionMark the grader drew, in the photograph's own pixels
    gridMoved = Signal(object)  # where the grader put the macular grid's centre, in the photograph's own pixels

    def __init__(self, mode: str = GRADCAM, opacity: int = round(HEAT_OPACITY * 100), parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("detailPanel")
        self.record: ImageRecord | None = None
        self._images: dict[str, QImage] = {}
        self._heat: QImage | None = None
        self._heat_caption = ""
        self.grid: MacularGrid | None = None  # the macular grid on the photograph (its MACULA view), movable
        self._saved_fovea: tuple[float, float] | None = None  # the grid's centre in the grader's decision
        self._mode = mode if mode in {m for m, _, _ in VIEW_MODES} else GRADCAM
        self.review_mode = OPEN  # BLIND: no probabilities or heat map before the grader's decision

        self.title = QLabel("No image selected")
        self.title.setObjectName("detailTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        # A tool bar, not a row of buttons: on a narrow window the views that do not fit go under its » menu
        # instead of pushing the review form off the screen.
        self.mode_buttons: dict[str, QToolButton] = {}
        modes = QToolBar()
        modes.setObjectName("viewModes")
        modes.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        modes.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._mode_group = QActionGroup(self)
        for i, (mode_id, label, tip) in enumerate(VIEW_MODES, start=1):
            action = modes.addAction(label)
            action.setCheckable(True)
            action.setToolTip(f"{tip} (Ctrl+{i})")
            action.setChecked(mode_id == self._mode)
            action.triggered.connect(lambda _=False, m=mode_id: self.set_mode(m))
            self._mode_group.addAction(action)
            button = modes.widgetForAction(action)
            assert isinstance(button, QToolButton)
            self.mode_buttons[mode_id] = button
        modes.addSeparator()
        self.display_button = DisplayButton()  # in the tool bar: on a narrow window it goes under » with the views
        modes.addWidget(self.display_button)
        self.marks_button = MarksButton()
        modes.addWidget(self.marks_button)
        self.fit_button = _tool_button("Fit", "Fit the picture to the view (Ctrl+0)")
        self.zoom_in_button = _tool_button("+", "Zoom in (Ctrl++)")
        self.zoom_out_button = _tool_button("−", "Zoom out (Ctrl+-)")

        self.head_box = QComboBox()
        self.head_box.addItem("DR map", "dr")
        self.head_box.addItem("DME map", "dme")
        self.head_box.setToolTip("Which output the heat map explains: diabetic retinopathy or macular edema")
        self.grade_box = QComboBox()
        self.grade_box.setToolTip("Which grade the heat map explains: the model's own, or any other")
        self.grade_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.grade_box.setMinimumContentsLength(13)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(opacity)
        self.opacity.setToolTip("Heat-map opacity")
        self.opacity.setMinimumWidth(self.fontMetrics().averageCharWidth() * 6)
        self.cam_controls = QWidget()
        cam = QHBoxLayout(self.cam_controls)
        cam.setContentsMargins(0, 0, 0, 0)
        cam.addWidget(self.head_box)
        cam.addWidget(self.grade_box, 1)
        cam.addWidget(QLabel("Opacity"))
        cam.addWidget(self.opacity, 1)
        controls = QHBoxLayout()
        controls.addWidget(self.cam_controls, 1)
        for button in (self.zoom_out_button, self.fit_button, self.zoom_in_button):
            controls.addWidget(button)
        self._fill_grades()

        self.view = ImageView()
        self.view.setMinimumHeight(self.fontMetrics().height() * 10)
        self.caption = QLabel()
        self.caption.setObjectName("viewCaption")
        self.caption.setWordWrap(True)
        self.caption.setMinimumWidth(1)  # wraps instead of widening the panel

        self.tabs = self._build_facts()

        picture = QWidget()
        picture_layout = QVBoxLayout(picture)
        picture_layout.setContentsMargins(0, 0, 0, 0)
        picture_layout.addWidget(self.title)
        picture_layout.addWidget(modes)
        picture_layout.addLayout(controls)
        picture_layout.addWidget(self.view, 1)
        picture_layout.addWidget(self.caption)
        # The picture and the facts share the height; the grader decides how (a splitter, remembered).
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("detailSplitter")
        self.splitter.addWidget(picture)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        lines = self.fontMetrics().lineSpacing()
        self.splitter.setSizes([lines * 30, lines * 12])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self.marks_item = MarksItem()
        self.view.scene().addItem(self.marks_item)
        self.marks: tuple[LesionMark, ...] = ()
        self.marking = MarkingTool(self.view, self.marks_item)
        self.marking.marked.connect(self._on_marked)
        self.marks_button.kindChosen.connect(self.set_marking)
        self.display = DisplayAdjuster(lambda picture: self.view.set_image(picture, keep_view=True), self)
        self.full_resolution = FullResolution(self.view, self)
        self.display_button.changed.connect(self._on_display)
        self.fit_button.clicked.connect(self.view.fit)
        self.zoom_in_button.clicked.connect(self.view.zoom_in)
        self.zoom_out_button.clicked.connect(self.view.zoom_out)
        self.opacity.valueChanged.connect(self._on_opacity)
        self.head_box.currentIndexChanged.connect(self._on_head_changed)
        self.grade_box.currentIndexChanged.connect(self._on_grade_changed)
        self.view.set_overlay_opacity(opacity / 100)
        self.clear()

    def _build_facts(self) -> QTabWidget:
        """Tabs under the picture: class probabilities, the quality gate's measurements, file facts."""
        self.dr_bars = ProbabilityBars("Diabetic retinopathy (DR)", DR_GRADE_NAMES)
        self.dme_bars = ProbabilityBars("Diabetic macular edema (DME)", DME_GRADE_NAMES)
        self.prob_caveat = QLabel()
        self.prob_caveat.setObjectName("probabilityCaveat")
        self.prob_caveat.setWordWrap(True)
        self.prob_caveat.setStyleSheet("color: #8a3b00;")
        self.referable_line = QLabel()
        self.referable_line.setObjectName("referableProbability")
        self.referable_line.setWordWrap(True)
        probs = QWidget()
        probs_layout = QVBoxLayout(probs)
        probs_layout.addWidget(self.prob_caveat)
        probs_layout.addWidget(self.referable_line)
        probs_layout.addWidget(self.dr_bars)
        probs_layout.addWidget(self.dme_bars)
        probs_layout.addStretch(1)

        self.quality_verdict = QLabel()
        self.quality_verdict.setWordWrap(True)
        self.quality_table = _facts_table()
        quality = QWidget()
        quality_layout = QVBoxLayout(quality)
        quality_layout.addWidget(self.quality_verdict)
        quality_layout.addWidget(self.quality_table, 1)

        self.file_table = _facts_table()
        tabs = QTabWidget()
        tabs.setDocumentMode(True)
        tabs.addTab(_scrolling(probs), "Probabilities")
        tabs.addTab(_scrolling(quality), "Quality")
        tabs.addTab(self.file_table, "File")
        return tabs


    # --- what is shown ------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def images(self) -> dict[str, QImage]:
        """The current image's pictures by view name (empty until the worker delivers them)."""
        return dict(self._images)

    @property
    def head(self) -> str:
        return str(self.head_box.currentData())

    @property
    def grade(self) -> int | None:
        return self.grade_box.currentData()

    def clear(self) -> None:
        self.record = None
        self._images = {}
        self._heat = None
        self.title.setText("No image selected")
        self.view.show_message("Select an image in the list")
        self.caption.clear()
        self.dr_bars.set_probabilities(None)
        self.dme_bars.set_probabilities(None)
        self.prob_caveat.clear()
        self.referable_line.clear()
        self.quality_verdict.clear()
        _fill(self.quality_table, [])
        _fill(self.file_table, [])

    def show_record(self, record: ImageRecord) -> None:
        """Facts at once (from the stored result); pictures follow from the worker."""
        same = self.record is not None and self.record.key == record.key
        self.record = record
        if not same:
            self._saved_fovea = None  # the review form hands over this image's, if its decision has one
        self.title.setText(f"<b>{display.file_text(record)}</b> · {display.EYE_TEXT[record.eye]} · "
                           f"{display.patient_text(record)}")
        self.title.setToolTip(str(record.result.path))
        result = record.result
        hidden = blinded(record, self.review_mode)
        self.dr_bars.set_probabilities(None if hidden else result.dr_probs, result.dr_grade)
        self.dme_bars.set_probabilities(None if hidden else result.dme_probs, result.dme_grade)
        self.referable_line.setText(BLIND_TIP if hidden else display.referable_probability_text(result))
        # The weights' warning is said once, in the window's banner; here only what these numbers are.
        caveat = caveat_for(result) if result.dr_probs is not None and not hidden else ""
        self.prob_caveat.setText(f"The model's probabilities ({caveat}); not calibrated." if caveat else "")
        self.prob_caveat.setVisible(bool(caveat))
        self._show_quality(record)
        self._show_file(record)
        if same:
            return
        self._images, self._heat = {}, None
        with QSignalBlocker(self.grade_box):
            self.grade_box.setCurrentIndex(0)
        if record.status is Status.ERROR:
            self.view.show_message("This file could not be read")
            self.caption.setText(f"Not screened: {result.error}")
        else:
            self.view.show_message("Loading the picture…")
            self.caption.clear()

    def show_preview(self, key: str, images: dict[str, QImage], grid: MacularGrid | None = None) -> None:
        if self.record is None or key != self.record.key:
            return
        self._images = images
        self.grid = grid
        self._apply_saved_fovea()
        self._render(fit=True)

    def _picture_scale(self) -> float | None:
        """Preview pixels per photograph pixel (the grid is placed on the preview of the whole photograph)."""
        meta = self.record.result.metadata if self.record is not None else None
        original = self._images.get(ORIGINAL)
        if meta is None or original is None or original.isNull():
            return None
        return original.width() / meta.original_size[0]

    def show_fovea(self, fovea: tuple[float, float] | None) -> None:
        """The grid's centre as the grader saved it (photograph pixels), or None: where the engine found it."""
        self._saved_fovea = fovea
        if self._apply_saved_fovea() and self._mode == MACULA:
            self._render(fit=False)

    def _apply_saved_fovea(self) -> bool:
        scale = self._picture_scale()
        if self._saved_fovea is None or self.grid is None or scale is None:
            return False
        x, y = self._saved_fovea
        self.grid = self.grid.moved_to((x * scale, y * scale))
        return True

    def _grid_moved(self, grid: MacularGrid) -> None:
        self.grid = grid  # where the grader put it: kept while this image is shown, and saved with the decision
        scale = self._picture_scale()
        if scale is not None:
            self.gridMoved.emit((grid.fovea[0] / scale, grid.fovea[1] / scale))

    def show_preview_failed(self, key: str, message: str) -> None:
        if self.record is not None and key == self.record.key:
            self.view.show_message("The picture cannot be shown")
            self.caption.setText(message)

    def show_heat(self, key: str, heat: QImage, caption: str) -> None:
        if self.record is None or key != self.record.key:
            return
        self._heat, self._heat_caption = heat, caption
        if self._mode == GRADCAM:
            self._render(fit=False)

    def show_heat_unavailable(self, key: str, reason: str) -> None:
        if self.record is None or key != self.record.key:
            return
        self._heat, self._heat_caption = None, reason
        if self._mode == GRADCAM:
            self._render(fit=False)

    def set_mode(self, mode: str) -> None:
        if mode not in self.mode_buttons:
            return
        self.mode_buttons[mode].setChecked(True)
        if mode == self._mode:
            return
        self._mode = mode
        self._render(fit=False)
        self.modeChanged.emit(mode)

    def _render(self, *, fit: bool) -> None:
        self.cam_controls.setEnabled(self._mode == GRADCAM)
        if not self._images:
            return
        base = self._base()
        previous = self.view.base.pixmap().size()
        self.view.set_image(base, keep_view=not fit)
        self.display.picture_shown(base)  # the grader's brightness, contrast and gamma follow
        self.full_resolution.picture_changed(self.record, self._mode, self.display.setting)
        if previous != self.view.base.pixmap().size():
            self.view.fit()
        self._place_marks()
        item = self.view.set_grid(self.grid if self._mode == MACULA else None)
        if item is not None:
            item.moved.connect(self._grid_moved)
        if self._mode == GRADCAM:
            self.view.set_overlay(self._heat)
            self.caption.setText(self._heat_caption or "Computing the heat map…")
        else:
            self.view.set_overlay(None)
            self.caption.setText(dict((m, tip) for m, _, tip in VIEW_MODES)[self._mode])

    # --- lesion marks -----------------------------------------------------------------------------------------

    def set_marking(self, kind: str | None) -> None:
        """Clicks and drags on the picture mark `kind` (None: they pan again)."""
        self.marking.set_kind(kind)
        self.marks_button.show_kind(kind)
        if kind is not None and self._mode not in MARKABLE:
            self.set_mode(ORIGINAL)  # marks are placed on the whole photograph, not the model's crop

    def show_marks(self, marks: tuple[LesionMark, ...]) -> None:
        self.marks = tuple(marks)
        self._place_marks()

    def _photo_scale(self) -> float | None:
        """Picture pixels per photograph pixel for the view shown, or None where marks cannot be placed."""
        meta = self.record.result.metadata if self.record is not None else None
        picture = self.view.base.pixmap()
        if meta is None or picture.isNull() or self._mode not in MARKABLE:
            return None
        return picture.width() / meta.original_size[0]

    def _place_marks(self) -> None:
        scale = self._photo_scale()
        self.marks_item.setVisible(scale is not None)
        if scale is not None:
            self.marks_item.set_marks(self.marks, scale, self.view.base.pixmap().width())

    def _on_marked(self, kind: str, points: list[tuple[float, float]]) -> None:
        scale = self._photo_scale()
        meta = self.record.result.metadata if self.record is not None else None
        if scale is None or meta is None:
            self.caption.setText("Marks go on the photograph: choose Original, Red-free or Macular grid.")
            return
        width, height = meta.original_size
        photo = tuple((min(max(0.0, x / scale), width - 1.0), min(max(0.0, y / scale), height - 1.0))
                      for x, y in points)
        self.markAdded.emit(LesionMark(kind, photo))

    def _on_display(self, setting: Setting) -> None:
        self.display.set_setting(setting, self._base())
        self.full_resolution.picture_changed(self.record, self._mode, self.display.setting)

    def _base(self) -> QImage | None:
        """The picture under the current view (the heat map goes over the model's view, the grid over the original)."""
        return self._images.get(MODEL_VIEW if self._mode == GRADCAM else ORIGINAL if self._mode == MACULA
                                else self._mode)

    def _show_quality(self, record: ImageRecord) -> None:
        quality = record.result.quality
        if quality is None:
            self.quality_verdict.setText(display.quality_text(record))
            _fill(self.quality_table, [])
            return
        reasons = html.escape("; ".join(quality.reasons))
        verdict = "<b>Gradable</b>" if quality.gradable else f"<b>Ungradable</b>: {reasons}"
        result = record.result
        if not quality.gradable and result.suspicion is not None and result.model.trained:
            verdict += "<br>" + html.escape(suspicion_words(result.suspicion, result.model.referable_threshold))
        self.quality_verdict.setText(verdict)
        rows = [(label, fmt.format(quality.scores[key])) for key, label, fmt in _SCORE_NAMES if key in quality.scores]
        _fill(self.quality_table, rows)

    def _show_file(self, record: ImageRecord) -> None:
        result, meta = record.result, record.result.metadata
        rows: list[tuple[str, str]] = [("File", str(result.path))]
        if meta is not None:
            rows += [
                ("Format", f"{meta.source_format}, {meta.bit_depth}-bit {meta.color_model}"),
                ("Size", f"{meta.original_size[0]} × {meta.original_size[1]} px"),
                ("Eye", f"{display.EYE_TEXT[meta.eye]} (from {meta.eye_source})"),
                ("Patient ID", meta.patient_id or display.NONE),
                ("Patient name", meta.patient_name or display.NONE),
                ("Birth date", meta.birth_date or display.NONE),
                ("Sex", meta.sex or display.NONE),
                ("Study date", meta.study_date or display.NONE),
            ]
            if meta.frame_index is not None:
                rows.append(("Frame", f"{meta.frame_index + 1} of {meta.frame_count}"))
            rows += sorted((str(k), str(v)) for k, v in meta.extra.items())
        if record.decision is not None:
            d = record.decision
            for label, value in (("Eye (grader)", d.eye.value if d.eye else None),
                                 ("Patient ID (grader)", d.patient_id), ("Patient name (grader)", d.patient_name)):
                if value:
                    rows.append((label, value))
        model = result.model
        rows += [
            ("Model", f"{model.name} {model.version}"),
            ("Trained on", model.training_data),
            ("Device", model.device),
            ("Screened", record.screened_at),
        ]
        timings = ", ".join(f"{k} {v:.0f} ms" for k, v in result.timings_ms.items())
        if timings:
            rows.append(("Timings", timings))
        _fill(self.file_table, rows)

    # --- controls -----------------------------------------------------------------------------------------

    def offer_lesion_layer(self, available: bool) -> None:
        """The head box offers the model's lesion layer where its lesion head exists (a layer of its own, apart from
        the grader's marks and from Grad-CAM)."""
        index = self.head_box.findData(LESION_LAYER)
        if available and index < 0:
            # Short: the box is as wide as "DME map" at 1280 px, where the row has no room to spare (the caption and
            # the tooltip say what the layer is).
            self.head_box.addItem("Lesions", LESION_LAYER)
            self.head_box.setItemData(self.head_box.count() - 1, LESION_LAYER_TIP, Qt.ItemDataRole.ToolTipRole)
        elif not available and index >= 0:
            self.head_box.removeItem(index)  # moves to another head when it was chosen: a map is asked for

    def _fill_grades(self) -> None:
        names = DR_GRADE_NAMES if self.head == "dr" else DME_GRADE_NAMES
        self.grade_box.setEnabled(self.head != LESION_LAYER)  # the lesion layer explains no grade
        with QSignalBlocker(self.grade_box):
            self.grade_box.clear()
            self.grade_box.addItem("Model's grade", None)
            for i, name in enumerate(names):
                self.grade_box.addItem(f"{i} – {name}", i)

    def _on_head_changed(self) -> None:
        self._fill_grades()
        self.heatRequested.emit(self.head, None)

    def _on_grade_changed(self) -> None:
        self.heatRequested.emit(self.head, self.grade)

    def _on_opacity(self, value: int) -> None:
        self.view.set_overlay_opacity(value / 100)
        self.opacityChanged.emit(value)

