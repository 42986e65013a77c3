"""Pictures for the detail view, made off the GUI thread: the preview of the selected image, and Grad-CAM maps
computed on demand (any head, any grade) while holding the model's lock.

Selecting images quickly must not queue a backlog: every request carries a generation number, work for an older
generation is skipped before it starts and its results are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

# Previews (OpenCV) and Grad-CAM (torch) load on first use, in a worker, through their packages' lazy names.
from ran_desktop import gui
from ran_desktop.engine import imaging, model
from ran_desktop.engine.imaging.views import MODEL_VIEW
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.gui.display import grade_label, percent
from ran_desktop.gui.tasks import Report, TaskFailure, TaskRunner
from ran_desktop.gui.view_modes import LESION_LAYER

if TYPE_CHECKING:
    import numpy as np

    from ran_desktop.engine.imaging.preprocess import PreprocessSettings
    from ran_desktop.engine.model.bundle import LoadedModel


@dataclass(frozen=True, eq=False)
class _ModelInput:
    key: str
    tensor: np.ndarray
    disc_mask: np.ndarray
    view_size: tuple[int, int]  # (width, height) of MODEL_VIEW
    with_model_settings: bool


class DetailController(QObject):
    previewReady = Signal(str, dict, object)  # key, pictures, the macular grid (MacularGrid) or None
    previewFailed = Signal(str, str)
    heatReady = Signal(str, QImage, str)
    heatUnavailable = Signal(str, str)
    lesionLayerOffered = Signal(bool)  # the model has a lesion head: its layer can be shown
    unexpected = Signal(str, str, str)  # a failure nobody foresaw: summary, details to copy, trace for the log

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._runner = TaskRunner("ran-detail", 1, self)
        self._loaded: LoadedModel | None = None
        self._record: ImageRecord | None = None
        self._input: _ModelInput | None = None
        self._generation = 0
        self._heat_wanted: tuple[str, int | None] | None = None
        self._heat_shown: tuple[str, str, int | None] | None = None
        self.heat_jobs = 0  # Grad-CAM passes actually run (the tests check on-demand work)

    def set_model(self, loaded: LoadedModel) -> None:
        self._loaded = loaded
        self.lesionLayerOffered.emit(model.has_lesion_head(loaded))
        self._runner.prestart()  # ready before the first image is opened, usually in the middle of a batch
        if self._record is not None:  # previews made with default settings: redo with the model's
            record, wanted = self._record, self._heat_wanted
            self._record = None
            self.open(record, wanted)

    def open(self, record: ImageRecord | None, heat: tuple[str, int | None] | None) -> None:
        """Show `record`; `heat` = (head, grade) when the Grad-CAM view is on, else None."""
        if record is not None and self._record is not None and record.key == self._record.key:
            self._record = record
            self.request_heat(heat)
            return
        self._generation += 1
        self._record, self._input, self._heat_shown, self._heat_wanted = record, None, None, heat
        if record is None or record.status is Status.ERROR:
            return
        # None until the model is loaded: the worker then uses the defaults (preprocess imports OpenCV, which the
        # GUI thread does not wait for).
        settings = self._loaded.preprocess_settings if self._loaded is not None else None
        meta = record.result.metadata
        self._runner.submit(
            _preview_job, self._generation, lambda: self._generation, record.key, record.result.path,
            meta.frame_index if meta is not None else None, meta.content_sha256 if meta is not None else None,
            settings, self._loaded is not None, on_done=self._on_preview,
            on_failed=partial(self._on_preview_failed, record.key),
        )

    def request_heat(self, heat: tuple[str, int | None] | None) -> None:
        self._heat_wanted = heat
        record = self._record
        if heat is None or record is None or self._input is None:
            return
        head, grade = heat
        if self._heat_shown == (record.key, head, grade):
            return
        if record.status is not Status.SCREENED:
            reasons = "; ".join(record.result.quality.reasons) if record.result.quality else ""
            self.heatUnavailable.emit(record.key, f"No heat map: the image is ungradable ({reasons}).")
            return
        if self._loaded is None or not self._input.with_model_settings:
            self.heatUnavailable.emit(record.key, "The heat map appears once the model has loaded…")
            return
        self._heat_shown = (record.key, head, grade)
        self._runner.submit(
            _heat_job, self._generation, lambda: self._generation, self._loaded, self._input, head, grade,
            on_done=self._on_heat, on_failed=partial(self._on_heat_failed, record.key),
        )

    def shutdown(self) -> None:
        self._generation += 1
        self._runner.shutdown()

    def _on_preview(self, value: Any) -> None:
        if value is None or value[0] != self._generation:
            return
        _, key, images, model_input, grid = value
        self._input = model_input
        self.previewReady.emit(key, images, grid)
        self.request_heat(self._heat_wanted)

    def _on_preview_failed(self, key: str, failure: TaskFailure) -> None:
        if not failure.expected:
            self.unexpected.emit(f"The picture could not be prepared: {failure.message}", failure.details,
                                 failure.trace)
        if self._record is not None and self._record.key == key:
            self.previewFailed.emit(key, failure.message)

    def _on_heat(self, value: Any) -> None:
        if value is None or value[0] != self._generation:
            return
        _, key, image, caption = value
        self.heat_jobs += 1
        self.heatReady.emit(key, image, caption)

    def _on_heat_failed(self, key: str, failure: TaskFailure) -> None:
        self._heat_shown = None
        if not failure.expected:
            self.unexpected.emit(f"The heat map could not be computed: {failure.message}", failure.details,
                                 failure.trace)
        if self._record is not None and self._record.key == key:
            self.heatUnavailable.emit(key, f"The heat map could not be computed: {failure.message}")


def _preview_job(
    report: Report, generation: int, current: Any, key: str, path: Any, frame: int | None, content_sha256: str | None,
    settings: PreprocessSettings | None, with_model_settings: bool,
) -> tuple | None:
    if generation != current():
        return None  # the user has moved on
    if settings is None:
        settings = imaging.DEFAULT_SETTINGS
    preview = imaging.preview.for_display(imaging.make_preview(key, path, frame, settings, content_sha256))
    images = {name: gui.pixel_arrays.qimage_for_display(pixels) for name, pixels in preview.images.items()}
    view = preview.images[MODEL_VIEW]
    size = (view.shape[1], view.shape[0])
    model_input = _ModelInput(key, preview.tensor, preview.disc_mask, size, with_model_settings)
    return generation, key, images, model_input, preview.grid


def _heat_job(
    report: Report, generation: int, current: Any, loaded: LoadedModel, model_input: _ModelInput, head: str,
    grade: int | None,
) -> tuple | None:
    if generation != current():
        return None
    if head == LESION_LAYER:
        return generation, model_input.key, *_lesion_picture(loaded, model_input)
    explanation = model.explain(loaded, model_input.tensor, head=head, class_index=grade)
    layer = model.heat_layer(explanation.heatmap, model_input.view_size, model_input.disc_mask)
    explained = grade_label(head, explanation.class_index)
    if explanation.class_index == explanation.predicted:
        which = "the model's grade"
    else:
        which = f"the model's grade is {grade_label(head, explanation.predicted)}"
    caption = (
        f"Grad-CAM, {head.upper()} head: evidence for {explained} ({which}; "
        f"p = {percent(explanation.probs[explanation.class_index])})."
    )
    return generation, model_input.key, gui.pixel_arrays.qimage_for_display(layer), caption



def _lesion_picture(loaded: LoadedModel, model_input: _ModelInput) -> tuple[QImage, str]:
    kinds = tuple(loaded.manifest.heads.get(LESION_LAYER, ()))
    maps = model.explanation.lesion_maps(loaded, model_input.tensor)
    layer = model.explanation.lesion_layer(maps, kinds, model_input.view_size, model_input.disc_mask)
    counts = model.explanation.lesion_counts(maps, kinds)
    return gui.pixel_arrays.qimage_for_display(layer), lesion_caption(loaded, counts)


def lesion_caption(loaded: LoadedModel, counts: dict[str, int]) -> str:
    """What the lesion layer shows, and how far its outlines were found to be right (the manifest's pixel AUPR)."""
    colours = model.explanation.LESION_COLOUR_NAMES
    found = ", ".join(f"{colours[kind]} {kind.replace('_', ' ')} ({n} region{'s' if n != 1 else ''})"
                      for kind, n in counts.items())
    measured = loaded.manifest.metrics.get("lesions", {}).get("per_kind", {})
    if measured:
        aupr = ", ".join(f"{kind.replace('_', ' ')} {v['aupr']:.2f}" for kind, v in measured.items())
        trust = (f"Indicative only: its pixel AUPR on {loaded.manifest.metrics['lesions'].get('photographs', '?')} "
                 f"unseen photographs was {aupr} (1.00 would be perfect outlines).")
    else:
        trust = "Indicative only: how well its outlines match experts' has not been measured for this model."
    return (f"The model's lesion layer (its lesion head; your own marks are a separate layer): {found}, drawn where "
            f"the head's probability reaches {model.explanation.LESION_SHOWN_FROM:.0%}. {trust}")
