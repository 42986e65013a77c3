"""Model loading and batch screening, off the GUI thread, with a queue for what arrives meanwhile.

Threads: one worker loads the model (torch is first imported there), then runs batches one after another. A batch
commits each result to the session database before reporting it (engine.screening.batch.BatchRun); reports reach the GUI
thread as queued signals and are applied to the table in groups every 50 ms, so thousands of images do not mean
thousands of table updates. Drops during a batch wait in the queue and run together as the next batch.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

# Bundles (torch) load through the model package's lazy names, first in the worker that loads the model.
import ran_desktop.engine.model as ran_model
from ran_desktop import gui
from ran_desktop.engine import imaging
from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.engine.screening.batch import BatchRun
from ran_desktop.gui.progress_text import seconds_left
from ran_desktop.gui.tasks import Report, TaskFailure, TaskRunner
from ran_desktop.paths import installed_models_dir

if TYPE_CHECKING:
    from ran_desktop.engine.model.bundle import LoadedModel
    from ran_desktop.engine.records.database import Target

_FLUSH_MS = 50


class NoModelError(BundleError):
    """No model bundle could be found."""


def load_model(report: Report, models_folder: Path, device: str | None, chosen_bundle: str = "") -> LoadedModel:
    """The bundle a person chose (Review > Models on this workstation), else the models folder's default."""
    chosen = ran_model.bundle_to_use(models_folder, chosen_bundle, also_known=[installed_models_dir()])
    if chosen is None:
        raise NoModelError(
            models_folder,
            "no model bundle here. Run scripts/start.py once to create one, "
            "or point RAN_MODELS_DIR at a models folder.",
        )
    try:
        loaded = ran_model.load_bundle(chosen, device=device)
    except ValueError as exc:  # an unknown device name in RAN_DEVICE
        raise NoModelError(chosen, str(exc)) from exc
    # What the window's start leaves out (the decoders: Pillow, OpenCV, pydicom; the screener) is imported now,
    # still off the GUI thread, rather than when the first batch starts: imports hold the interpreter lock that
    # the GUI thread needs to paint, and a batch is when the window must stay responsive.
    for module in ("ran_desktop.engine.imaging.loading.dicom", "ran_desktop.engine.imaging.loading.raster",
                   "ran_desktop.engine.screening.screener"):
        importlib.import_module(module)

    return loaded


def run_batch(report: Report, run: BatchRun) -> int:
    def on_record(record: ImageRecord, done: int, total: int) -> None:
        # The thumbnail is decoded here, in the worker (a QImage may be made in any thread): decoding each new
        # row's JPEG when the table first paints it was a good part of the GUI thread's work during a batch.
        pixels = imaging.thumbnails.decode_thumbnail(record.thumbnail)
        report(("record", record, gui.pixel_arrays.qimage_from_array(pixels) if pixels is not None else None,
                done, total))

    return run.run(lambda total: report(("planned", total)), on_record, lambda text: report(("changed", text)))


class ScreeningController(QObject):
    modelLoading = Signal()
    modelReady = Signal(object)
    modelFailed = Signal(str)
    waiting = Signal(int)  # paths queued while no model is ready
    progressed = Signal(int, int, object, int)  # files done, files in batch, seconds left or None, paths queued
    recordsArrived = Signal(list)
    thumbnailsArrived = Signal(object)
    batchFinished = Signal(int, int, bool)
    batchFailed = Signal(object)
    fileChanged = Signal(str)
    unexpected = Signal(str, str, str)  # a failure nobody foresaw: summary, details to copy, trace for the log

    def __init__(self, database: Target, session_id: int, models_folder: Path, device: str | None,
                 parent: QObject | None = None, *, data_dir: Path | None = None):
        super().__init__(parent)
        self.database = database
        self.data_dir = data_dir  # the clinic's adopted operating point lives there (default: beside the database)
        self.session_id = session_id
        self.models_folder = models_folder
        self.device = device
        self.chosen_bundle = ""  # a bundle folder a person chose; "" for the models folder's default
        self.loaded: LoadedModel | None = None
        self.model_error = ""
        self._runner = TaskRunner("ran-screening", 1, self)
        self._queue: list[Path] = []
        self._run: BatchRun | None = None
        self._done = self._total = 0
        self._started = 0.0
        self._left: float | None = None
        self._pending: list[ImageRecord] = []
        self._pending_thumbnails: dict[str, QImage] = {}
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(_FLUSH_MS)
        self._flush.timeout.connect(self._apply_pending)

    # --- model --------------------------------------------------------------------------------------------

    @property
    def model_state(self) -> str:
        return "ready" if self.loaded is not None else "failed" if self.model_error else "loading"

    def load_model(self) -> None:
        self.model_error = ""
        self.loaded = None
        self.modelLoading.emit()
        self._runner.submit(load_model, self.models_folder, self.device, self.chosen_bundle, on_done=self._on_loaded,
                            on_failed=self._on_load_failed)

    def _on_loaded(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.modelReady.emit(loaded)
        self._start_next()

    def _on_load_failed(self, failure: TaskFailure) -> None:
        self.model_error = failure.message
        self._queue.clear()  # nothing can screen them; the user is told why
        if not failure.expected:
            self.unexpected.emit(f"The model could not be loaded: {failure.message}", failure.details, failure.trace)
        self.modelFailed.emit(failure.message)

    # --- batches ------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._run is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def enqueue(self, paths: Iterable[str | Path]) -> None:
        self._queue.extend(Path(p) for p in paths)
        if self.running:
            self.progressed.emit(self._done, self._total, self._left, len(self._queue))
        elif self.loaded is None:
            self.waiting.emit(len(self._queue))
        self._start_next()

    def cancel(self) -> None:
        """Stop the running batch (what finished stays) and forget what was queued."""
        self._queue.clear()
        if self._run is not None:
            self._run.cancel()
        elif self.loaded is None:
            self.batchFinished.emit(0, 0, True)

    def set_session(self, session_id: int) -> None:
        self.session_id = session_id

    def shutdown(self) -> None:
        self.cancel()
        self._flush.stop()
        self._runner.shutdown()

    def _start_next(self) -> None:
        if self.running or self.loaded is None or not self._queue:
            return
        paths, self._queue = self._queue, []
        self._run = BatchRun(self.loaded, self.database, self.session_id, paths, self.data_dir)
        self._done, self._total, self._started, self._left = 0, 0, time.monotonic(), None
        self._runner.submit(run_batch, self._run, on_done=self._on_batch_done, on_failed=self._on_batch_failed,
                            on_progress=self._on_progress)

    def _on_progress(self, payload: Any) -> None:
        if payload[0] == "planned":
            self._total = payload[1]
            self._started = time.monotonic()
        elif payload[0] == "changed":
            self.fileChanged.emit(payload[1])
            return
        else:
            _, record, thumbnail, self._done, self._total = payload
            self._pending.append(record)
            if thumbnail is not None:
                self._pending_thumbnails[record.key] = thumbnail
            if not self._flush.isActive():
                self._flush.start()
        self._left = seconds_left(self._done, self._total, time.monotonic() - self._started)
        self.progressed.emit(self._done, self._total, self._left, len(self._queue))

    def _apply_pending(self) -> None:
        if self._pending:
            records, self._pending = self._pending, []
            thumbnails, self._pending_thumbnails = self._pending_thumbnails, {}
            self.thumbnailsArrived.emit(thumbnails)
            self.recordsArrived.emit(records)

    def _on_batch_done(self, stored: int) -> None:
        self._finish()
        cancelled = self._run is not None and self._run.cancelled
        self._run = None
        self.batchFinished.emit(stored, self._total, cancelled)
        self._start_next()

    def _on_batch_failed(self, failure: TaskFailure) -> None:
        self._finish()
        self._run = None
        self._queue.clear()
        self.batchFailed.emit(failure)

    def _finish(self) -> None:
        self._flush.stop()
        self._apply_pending()
