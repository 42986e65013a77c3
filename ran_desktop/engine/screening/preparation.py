"""Preparing a file for the model: decode, field of view, quality gate, preprocessing. The same function runs in the
screener's threads or in worker processes (`PreparationPool`), so both give the same pixels and the same errors.

Threads suit a CPU-only machine, where the model needs the cores anyway (OpenCV and the decoders release the
interpreter's lock while they work). Processes suit a GPU workstation with many cores: preparation is Python between
the library calls and stops scaling after a few threads, while separate interpreters do not share a lock. A worker
process that dies (a decoder crashing on a damaged file) takes no one else's file with it: the pool is rebuilt, the
file tried once more alone, and only a file that crashes again is reported as unreadable. A worker process sends its
arrays back through shared memory (`shared_arrays`), not pickled through the result pipe.

Imports here stay light (no torch): every worker process imports this module.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ran_desktop.engine.errors import ImageLoadError
from ran_desktop.engine.imaging.loading import ImageMetadata, load_images
from ran_desktop.engine.imaging.preprocess import prepare_square, preprocess
from ran_desktop.engine.imaging.preprocess_settings import PreprocessSettings
from ran_desktop.engine.imaging.quality import Measured, QualityReport, QualityThresholds, detail, judge, measure
from ran_desktop.engine.screening.shared_arrays import release_any, share_any, take_any

CRASHED = "the preparation process stopped while reading this file (twice): the file may be damaged"
# Windows frees a block of shared memory when its last handle closes, which the worker's is before the screener opens
# it: there results travel through the pipe.
SHARED_MEMORY = os.name != "nt"


@dataclass(frozen=True)
class PreparationPlan:
    """Everything a worker needs to prepare a file, picklable."""

    settings: PreprocessSettings
    thresholds: QualityThresholds
    min_side: int  # decode large photographs at a reduced size, never below this
    keep_stages: bool  # preprocessing previews (GUI, heat maps)
    square_reusable: bool  # the quality gate may reuse preprocessing's square cut
    # The gate's detail (sharpness, vessel contrast) and `finish` (CLAHE, standardisation) left to the screener,
    # which does them for a batch on the GPU (quality_on_device, finish_on_device): Prepared.quality and .tensor are
    # then None until it has.
    on_device: bool = False
    # JPEG files decoded on this CUDA device by nvJPEG (loading.jpeg_on_device), in preparation threads only: a
    # worker process would need a CUDA context of its own.
    jpeg_device: str | None = None


@dataclass
class Prepared:
    """What the model and the result need of a prepared image, and nothing more: the decoded photograph and the
    square cut are dropped here, so the look-ahead holds (and a worker process sends back) the model's input, not
    several megabytes of pixels per file."""

    key: str
    path: Path
    metadata: ImageMetadata
    quality: QualityReport | None  # None until the screener measures the detail (PreparationPlan.on_device)
    tensor: np.ndarray | None  # the model's input, float32 (3, S, S); None until the screener finishes `small`
    stages: dict[str, np.ndarray]  # preprocessing previews, with PreparationPlan.keep_stages
    timings_ms: dict[str, float]
    measured: Measured | None = None  # the gate's measurements awaiting their detail (PreparationPlan.on_device)
    small: np.ndarray | None = None  # the square at input size, uint8, awaiting `finish` (PreparationPlan.on_device)


@dataclass(frozen=True)
class Failed:
    """A file or frame that could not be prepared: the screener makes it an error result."""

    path: Path
    key: str
    reason: str


def prepare_file(path: Path, plan: PreparationPlan) -> list[Prepared | Failed]:
    """One entry per image of the file (per frame of a multi-frame file), in order; errors as Failed."""
    started = time.perf_counter()
    try:
        images = load_images(path, min_side=plan.min_side, jpeg_device=plan.jpeg_device)
    except ImageLoadError as exc:
        return [Failed(path, str(path), exc.reason)]
    load_ms = (time.perf_counter() - started) * 1000 / max(1, len(images))
    prepared: list[Prepared | Failed] = []
    for image in images:
        t0 = time.perf_counter()
        try:
            entry = _prepare_image(image.pixels, image.metadata.original_size, plan)
        except Exception as exc:  # a bug or an image no check foresaw must not take the batch down
            prepared.append(Failed(path, image.key, f"preprocessing failed ({type(exc).__name__}: {exc})"))
            continue
        timings = {"load": load_ms, "preprocess": (time.perf_counter() - t0) * 1000}
        prepared.append(Prepared(image.key, image.path, image.metadata, timings_ms=timings, **entry))
    return prepared


def _prepare_image(rgb: np.ndarray, original_size: tuple[int, int], plan: PreparationPlan) -> dict:
    """Prepared's fields for one decoded photograph: all of them, or (PreparationPlan.on_device) all but what the
    screener does on the device."""
    if plan.on_device:
        fov, square, small = prepare_square(rgb, plan.settings)
        measured = measure(rgb, fov, original_size, square=square if plan.square_reusable else None)
        stages = {"original": rgb, "square": square} if plan.keep_stages else {}  # completed with the finish
        return {"quality": None, "tensor": None, "stages": stages, "measured": measured, "small": small}
    pre = preprocess(rgb, plan.settings, keep_stages=plan.keep_stages)
    measured = measure(rgb, pre.fov, original_size, square=pre.square if plan.square_reusable else None)
    return {"quality": judge(measured, detail(measured), plan.thresholds), "tensor": pre.tensor, "stages": pre.stages}


Prepare = Callable[[Path, PreparationPlan], list[Prepared | Failed]]
Entries = list[Prepared | Failed]


def prepare_in_process(prepare: Prepare, path: Path, plan: PreparationPlan) -> Entries:
    """`prepare` run in a worker process, its arrays left in shared memory for the screener to take."""
    return [_mapped(entry, share_any) if isinstance(entry, Prepared) else entry for entry in prepare(path, plan)]


def _mapped(entry: Prepared, each: Callable) -> Prepared:
    """The entry with `each` applied to every array it carries (shared, taken back)."""
    measured = entry.measured
    return replace(entry, tensor=each(entry.tensor), small=each(entry.small),
                   stages={name: each(image) for name, image in entry.stages.items()},
                   measured=None if measured is None else replace(measured, lum=each(measured.lum)))


def _taken(entries: Entries) -> Entries:
    return [_mapped(entry, take_any) if isinstance(entry, Prepared) else entry for entry in entries]


def _released(entries: Entries) -> None:
    for entry in entries:
        if isinstance(entry, Prepared):
            _mapped(entry, release_any)


class PreparationPool:
    """Threads or worker processes preparing files ahead of the model, results in the order submitted."""

    def __init__(self, plan: PreparationPlan, workers: int, processes: bool, prepare: Prepare = prepare_file,
                 shared_memory: bool = SHARED_MEMORY):
        """`prepare`: a module-level function (worker processes import it by name), `prepare_file` but in tests.
        `shared_memory=False` sends worker processes' arrays through the result pipe (bench.preparation's
        reference)."""
        self.plan = plan
        self.workers = workers
        self.processes = processes
        self._prepare = prepare
        self._shared = processes and shared_memory
        self._unread: set[Future] = set()  # results whose shared memory nobody has taken yet
        if processes and plan.jpeg_device is not None:
            raise ValueError("JPEG decoding on the GPU runs in preparation threads, not worker processes")
        self._executor = self._start()

    def _start(self) -> Executor:
        if not self.processes:
            return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ran-prepare")
        # spawn, not fork: the parent holds threads (torch, Qt) that a forked child would inherit mid-lock. OpenCV
        # keeps its own threads in each worker: limited to one, two workers prepared 30 % fewer photographs a second
        # on two cores (bench.preparation), and its results then differ from the threads' in the last bits.
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, path: Path) -> Future:
        future = self._submit(path)
        if self._shared:
            self._unread.add(future)
        return future

    def _submit(self, path: Path) -> Future:
        try:
            if self._shared:
                return self._executor.submit(prepare_in_process, self._prepare, path, self.plan)
            return self._executor.submit(self._prepare, path, self.plan)
        except BrokenProcessPool as exc:
            # A worker died since the last result was read: the file waits in a failed future, which `result`
            # hands to a new pool like every other file the dead one stranded.
            stranded: Future = Future()
            stranded.set_exception(exc)
            return stranded

    def result(self, future: Future, path: Path, resubmit: Callable[[Future], None]) -> list[Prepared | Failed]:
        """The future's entries. Where its worker process died, the pool is rebuilt, this file tried once more alone,
        and then `resubmit` gives every other waiting file a new future in the new pool."""
        self._unread.discard(future)
        try:
            return self._received(future.result())
        except BrokenProcessPool:
            self._restart()
        try:  # alone in the new pool, so a crash now is this file's
            entries = self._received(self._submit(path).result())
        except BrokenProcessPool:
            self._restart()
            entries = [Failed(path, str(path), CRASHED)]
        resubmit(future)
        return entries

    def _received(self, entries: Entries) -> Entries:
        return _taken(entries) if self._shared else entries

    def _restart(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._start()

    def shutdown(self) -> None:
        """Stop, dropping queued files; the shared memory of results prepared but never asked for is freed."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        for future in self._unread:
            if future.done() and not future.cancelled() and future.exception() is None:
                _released(future.result())
        self._unread.clear()
