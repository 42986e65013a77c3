"""The screening pipeline: many paths in, one result per image out, in input order.

Decoding, the quality gate and preprocessing (`preparation`) run in worker threads, or worker processes on a GPU
workstation with many cores, and overlap with batched inference; a bounded look-ahead keeps memory flat on thousands
of images.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Grad-CAM's backward pass and the quality gate on the GPU (torch) load through their packages' lazy names, only
# where used: the CPU build has no torch.
import ran_desktop.engine.imaging as imaging
import ran_desktop.engine.model as ran_model
from ran_desktop.engine.grading import referable_probability
from ran_desktop.engine.imaging.loading import iter_image_files
from ran_desktop.engine.imaging.preprocess import DEFAULT_SETTINGS, decode_min_side, stage_images
from ran_desktop.engine.imaging.quality import QualityReport, judge
from ran_desktop.engine.model.activation_maps import maps_of
from ran_desktop.engine.model.bundle import LoadedModel
from ran_desktop.engine.model.device import torch_installed, torchvision_installed, worker_count
from ran_desktop.engine.model.runtime import predict, softmax
from ran_desktop.engine.records.local_threshold import LocalOperatingPoint
from ran_desktop.engine.records.results import ScreeningResult, Status, model_info
from ran_desktop.engine.screening.preparation import Failed, PreparationPlan, PreparationPool, Prepared

# The model looks at an ungradable photograph only if its mean brightness reaches this share of the gate's minimum.
_LOOK_BRIGHTNESS_SHARE = 0.5


@dataclass(frozen=True)
class ScreeningOptions:
    batch_size: int = 8
    workers: int | None = None  # decoding threads; None: chosen from the cores and the device
    lookahead: int = 16  # files decoded ahead of inference: bounds memory
    heatmaps: bool = False  # Grad-CAM of the predicted DR grade for every gradable image
    keep_stages: bool = False  # preprocessing previews for the GUI
    local_operating_point: LocalOperatingPoint | None = None  # a threshold the clinic adopted, for these weights
    processes: bool | None = None  # prepare in worker processes, not threads; None: where it pays (see below)
    # The quality gate's detail and preprocessing's last steps (CLAHE, standardisation) done for each batch by
    # tensor operations on the model's device (quality_on_device, finish_on_device), not in the preparation
    # workers; None: on a GPU, where they take most of preparation off the CPU. The same decisions (scores within
    # about 1e-5) and the same model input, bit for bit.
    prepare_on_device: bool | None = None
    # JPEG files decoded by nvJPEG on the model's GPU (loading.jpeg_on_device) instead of by Pillow on the CPU: pixels
    # within a grey level or two, the same grades. None: on a GPU where preparation runs in threads (in worker
    # processes each would need a CUDA context of its own, so they decode on the CPU).
    decode_on_device: bool | None = None


def default_workers(device_type: str, cores: int | None = None) -> int:
    """Decoding threads: preparation is about a third of each image's CPU time on a CPU."""
    return worker_count(device_type, cpu_share=3, cap=12, cores=cores)


PROCESSES_FROM_CORES = 8  # with a GPU and at least this many cores, preparation runs in processes


def default_processes(device_type: str, cores: int | None = None) -> bool:
    """Worker processes where the model does not need the cores (a GPU) and there are many to use: threads stop
    scaling after a few (bench/RESULTS.md). On a CPU the model needs the cores, and threads cost nothing to start."""
    return device_type == "cuda" and (cores or os.cpu_count() or 1) >= PROCESSES_FROM_CORES


def default_decode_on_device(device_type: str, processes: bool) -> bool:
    """nvJPEG where the model runs on a GPU, torchvision is there (a pip install on a GPU workstation: the installed
    builds leave it out), and preparation runs in threads of this process."""
    return device_type == "cuda" and torchvision_installed() and not processes


def default_prepare_on_device(device_type: str) -> bool:
    """Preparation's last steps on the device where the model runs on a GPU (and torch is there to run them)."""
    return device_type == "cuda" and torch_installed()


class Screener:
    """Screens files and folders with one loaded model. `cancel()` may be called from any thread."""

    def __init__(self, loaded: LoadedModel, options: ScreeningOptions | None = None):
        self.loaded = loaded
        self.options = options or ScreeningOptions()
        workers = self.options.workers
        self.workers = workers if workers is not None else default_workers(loaded.device.kind)
        self.info = model_info(loaded, self.options.local_operating_point)
        self._thresholds = loaded.quality_thresholds
        settings = loaded.preprocess_settings
        on_device = self.options.prepare_on_device
        self.prepare_on_device = on_device if on_device is not None else default_prepare_on_device(loaded.device.kind)
        processes = self.options.processes
        self.processes = processes if processes is not None else default_processes(loaded.device.kind)
        decode = self.options.decode_on_device
        self.decode_on_device = decode if decode is not None else default_decode_on_device(loaded.device.kind,
                                                                                           self.processes)
        if self.decode_on_device and (self.processes or not torchvision_installed()):
            # On the CPU it decodes with torchvision's libjpeg: the same path, which is how it is tested here.
            raise ValueError("JPEG decoding on the device needs torchvision and preparation in threads")
        self._plan = PreparationPlan(
            settings, self._thresholds, decode_min_side(settings),
            keep_stages=self.options.keep_stages or self.options.heatmaps,
            # The quality gate measures the square cut with the default margin; reuse preprocessing's when it is.
            square_reusable=settings.fov_margin == DEFAULT_SETTINGS.fov_margin,
            on_device=self.prepare_on_device,
            jpeg_device=str(loaded.device.device) if self.decode_on_device else None,
        )
        self._dr_weight = loaded.head_weights["dr"]  # the maps' class weights
        self._flip_average = loaded.manifest.flip_average
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def screen(self, paths: Iterable[str | Path]) -> Iterator[ScreeningResult]:
        """Yield one result per image (per frame for multi-frame files) until done or cancelled; folders are walked
        (`loading.iter_image_files`)."""
        return self.screen_files(iter_image_files(paths))

    def screen_files(self, files: Iterable[Path]) -> Iterator[ScreeningResult]:
        """`screen` for files already found by `loading.iter_image_files` (a caller that counted them first): each
        folder is walked once."""
        self._cancel.clear()
        files = iter(files)
        pending: deque[tuple[Path, Future]] = deque()
        pool = PreparationPool(self._plan, self.workers, self.processes)

        def resubmit(broken: Future) -> None:  # a worker process died: the others' files go to the new pool
            for i, (path, future) in enumerate(pending):
                if future is not broken:
                    pending[i] = (path, pool.submit(path))

        try:
            self._fill(pool, files, pending)
            batch: list[Prepared | ScreeningResult] = []
            while pending and not self._cancel.is_set():
                path, future = pending[0]
                entries = pool.result(future, path, resubmit)
                pending.popleft()
                batch.extend(self._error(e.path, e.key, e.reason) if isinstance(e, Failed) else e for e in entries)
                self._fill(pool, files, pending)
                if sum(isinstance(item, Prepared) for item in batch) >= self.options.batch_size or not pending:
                    yield from self._finish(batch)
                    batch = []
            if not self._cancel.is_set():
                yield from self._finish(batch)
        finally:
            # A consumer that stopped early (or cancel) leaves queued work: drop it rather than decode it.
            for _, future in pending:
                future.cancel()
            pool.shutdown()

    def _fill(self, pool: PreparationPool, files: Iterator[Path], pending: deque[tuple[Path, Future]]) -> None:
        while len(pending) < max(self.options.lookahead, self.workers) and not self._cancel.is_set():
            path = next(files, None)
            if path is None:
                return
            pending.append((path, pool.submit(path)))

    def _finish(self, items: list[Prepared | ScreeningResult]) -> Iterator[ScreeningResult]:
        prepared = [item for item in items if isinstance(item, Prepared)]
        self._finish_on_device([item for item in prepared if item.quality is None or item.tensor is None])
        qualities = {id(item): _judged(item) for item in prepared}
        gradable = [item for item in prepared if qualities[id(item)].gradable]
        # The model also looks at an ungradable photograph that is a fundus photograph at all (its field of view was
        # found): not to grade it, only so that likely disease is referred instead of waiting for a re-take.
        poor = [item for item in prepared if not qualities[id(item)].gradable and
                self._worth_a_look(qualities[id(item)])]
        probs = self._infer(gradable, self.options.heatmaps) if gradable else {}
        if poor:
            probs.update(self._infer(poor, heatmaps=False))
        for item in items:
            if isinstance(item, ScreeningResult):
                yield item
                continue
            dr, dme, heatmap, infer_ms = probs.get(id(item), (None, None, None, None))
            timings = dict(item.timings_ms)
            if infer_ms is not None:
                timings["inference"] = infer_ms
            stages = item.stages if self.options.keep_stages else None
            quality = qualities[id(item)]
            gradable_item = quality.gradable
            yield ScreeningResult(
                key=item.key,
                path=item.path,
                status=Status.SCREENED if gradable_item else Status.UNGRADABLE,
                model=self.info,
                metadata=item.metadata,
                quality=quality,
                dr_probs=dr if gradable_item else None,
                dme_probs=dme if gradable_item else None,
                suspicion=referable_probability(dr, dme) if not gradable_item and dr is not None else None,
                timings_ms=timings,
                heatmap=heatmap,
                view=item.stages.get("field_of_view") if item.stages else None,
                stages=stages,
            )

    def _finish_on_device(self, items: list[Prepared]) -> None:
        """What preparation left to the device (PreparationPlan.on_device), for the whole batch at once: the gate's
        detail and decision, then CLAHE and standardisation."""
        measured = [item.measured for item in items if item.measured is not None]
        smalls = [item.small for item in items if item.small is not None]
        if len(measured) != len(items) or len(smalls) != len(items):
            raise RuntimeError("a photograph was prepared with neither its quality and model input nor what makes them")
        if not items:
            return
        device = self.loaded.device.device
        t0 = time.perf_counter()
        found = imaging.quality_on_device.details(measured, device)
        enhanced, tensors = imaging.finish_on_device.finish_numpy(np.stack(smalls), self._plan.settings, device)
        ms = (time.perf_counter() - t0) * 1000 / len(items)
        for i, (item, its, done) in enumerate(zip(items, measured, found, strict=True)):
            item.quality = judge(its, done, self._thresholds)
            item.tensor = tensors[i]
            if item.stages:
                item.stages = stage_images(item.stages["original"], item.stages["square"], enhanced[i], tensors[i],
                                           self._plan.settings)
            item.measured = item.small = None  # not needed any more: let the look-ahead's memory go
            item.timings_ms["on device"] = ms

    def _worth_a_look(self, quality: QualityReport) -> bool:
        """A field of view was found, and it is not so dark that a few grey levels hold the whole retina: there
        preprocessing's contrast stretch makes lesions of quantisation noise (the sample at 8 % exposure, mean 9,
        looks 96 % referable to the shipped model; at 15 %, mean 17, 23 %)."""
        scores = quality.scores
        return bool(scores.get("fov_found")) and scores.get("brightness", 0.0) >= _LOOK_BRIGHTNESS_SHARE * \
            self._thresholds.min_brightness

    def _infer(self, items: list[Prepared], heatmaps: bool) -> dict[int, tuple]:
        with self.loaded.lock:
            return self._infer_locked(items, heatmaps)

    def _infer_locked(self, items: list[Prepared], heatmaps: bool) -> dict[int, tuple]:
        out: dict[int, tuple] = {}
        if heatmaps and not self.loaded.forward_cam:
            # A model whose maps need the backward pass: one image at a time, in PyTorch.
            for item in items:
                t0 = time.perf_counter()
                res = ran_model.torch_runtime.backward_map(self.loaded.network, _input(item), self.loaded.device.device)
                ms = (time.perf_counter() - t0) * 1000
                out[id(item)] = (_probabilities(res.dr_logits), _probabilities(res.dme_logits), res.heatmap, ms)
            return out
        t0 = time.perf_counter()
        found = predict(self.loaded.runner, np.stack([_input(item) for item in items]), self._flip_average)
        # Each image's map of its most probable DR grade, from the same forward pass (activation_maps.py).
        heat = maps_of(found.features, self._dr_weight, found.dr.argmax(axis=1), found.mirrored) if heatmaps else None
        ms = (time.perf_counter() - t0) * 1000 / len(items)
        for i, item in enumerate(items):
            dr, dme = tuple(float(p) for p in found.dr[i]), tuple(float(p) for p in found.dme[i])
            out[id(item)] = (dr, dme, heat[i] if heat is not None else None, ms)
        return out

    def _error(self, path: Path, key: str, reason: str) -> ScreeningResult:
        return ScreeningResult(key=key, path=path, status=Status.ERROR, model=self.info, error=reason)


def _input(item: Prepared) -> np.ndarray:
    if item.tensor is None:
        raise RuntimeError(f"{item.key}: the model's input is missing")
    return item.tensor


def _judged(item: Prepared) -> QualityReport:
    if item.quality is None:
        raise RuntimeError(f"{item.key}: the quality gate's decision is missing")
    return item.quality


def _probabilities(logits: np.ndarray) -> tuple[float, ...]:
    """One image's class probabilities from its logits (1, classes)."""
    return tuple(float(p) for p in softmax(logits.astype(np.float64))[0])

