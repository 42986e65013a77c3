"""The worklist, the selected image and the review form side by side.

The window builds it when the first image arrives (or at once, for a session that has images), not before the
window is first shown: an empty window is all a grader sees at launch, and it appears sooner without these panels.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QScrollArea, QSplitter, QTabWidget, QWidget

from ran_desktop.gui.detail_panel import DetailPanel
from ran_desktop.gui.patient_panel import PatientPanel
from ran_desktop.gui.results_filter import ResultsFilterProxy
from ran_desktop.gui.results_panel import ResultsPanel
from ran_desktop.gui.review_panel import ReviewPanel


class Workspace(QSplitter):
    def __init__(self, proxy: ResultsFilterProxy, view_mode: str, heat_opacity: int, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("workspaceSplitter")
        self.list_panel = ResultsPanel(proxy)
        self.table = self.list_panel.table
        self.patients = PatientPanel()
        self.list_tabs = QTabWidget()
        self.list_tabs.setDocumentMode(True)
        self.list_tabs.addTab(self.list_panel, "Images")
        self.list_tabs.addTab(self.patients, "Patients")

        self.detail = DetailPanel(view_mode, heat_opacity)
        self.review = ReviewPanel()
        # The grader's lesion marks: drawn on the picture, kept (and saved) with the review form's decision.
        self.detail.markAdded.connect(self.review.add_mark)
        self.review.marksChanged.connect(self.detail.show_marks)
        self.detail.gridMoved.connect(self.review.set_fovea)  # the macular grid as the grader placed it
        self.review.foveaChanged.connect(self.detail.show_fovea)
        review_scroll = QScrollArea()
        review_scroll.setWidgetResizable(True)
        review_scroll.setWidget(self.review)
        review_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        review_scroll.setMinimumWidth(self.fontMetrics().averageCharWidth() * 30)

        self.addWidget(self.list_tabs)
        self.addWidget(self.detail)
        self.addWidget(review_scroll)
        self.setStretchFactor(0, 7)
        self.setStretchFactor(1, 4)
        self.setStretchFactor(2, 2)
        # Proportions until the user moves them (then remembered): at 1280x800 the list's key words and the whole
        # review form must fit.
        self.setSizes([690, 380, 210])
        self.setChildrenCollapsible(False)

    def patients_shown(self) -> bool:
        return self.list_tabs.currentWidget() is self.patients

    def remembered_layout(self) -> tuple[tuple[str, QSplitter | QHeaderView], ...]:
        """The parts whose sizes the grader sets and the window keeps between runs, by their settings names."""
        return (("splitter", self), ("detail_splitter", self.detail.splitter),
                ("table-9", self.table.horizontalHeader()))  # 9 columns since Confidence left the list
