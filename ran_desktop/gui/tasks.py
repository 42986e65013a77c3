"""Background work for the window: plain functions run in worker threads and report through Qt signals.

A task function gets a `report` callable for progress and returns its result; it never touches a widget. The
runner's signals are queued to the GUI thread, where the callbacks run (the same shape as napari's thread workers,
on a Python thread pool so no QRunnable lifetime can bite). Failures arrive as `TaskFailure`: a readable message,
plus the traceback when the failure was not one the engine raises on purpose.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from ran_desktop.engine.errors import ScreeningError
from ran_desktop.logsafe import safe_trace

Report = Callable[[Any], None]


@dataclass(frozen=True)
class TaskFailure:
    message: str
    details: str = ""  # traceback, for failures nobody foresaw
    expected: bool = True
    trace: str = ""  # what the log may keep: exception types and code locations, no message (logsafe)


def failure_from(exc: BaseException) -> TaskFailure:
    trace = safe_trace(exc)
    if isinstance(exc, ScreeningError):
        return TaskFailure(str(exc), trace=trace)
    if isinstance(exc, MemoryError):
        return TaskFailure("Not enough memory for this work. Close other programs or screen fewer images at once.",
                           trace=trace)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return TaskFailure(f"{exc.strerror or exc}{where}", trace=trace)
    details = "".join(traceback.format_exception(exc))
    return TaskFailure(f"{type(exc).__name__}: {exc}", details, expected=False, trace=trace)


def _nothing() -> None:
    pass


@dataclass
class _Callbacks:
    on_done: Callable[[Any], None] | None
    on_failed: Callable[[TaskFailure], None] | None
    on_progress: Callable[[Any], None] | None


class TaskRunner(QObject):
    _progress = Signal(int, object)
    _done = Signal(int, object)
    _failed = Signal(int, object)

    def __init__(self, name: str, threads: int = 1, parent: QObject | None = None):
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._callbacks: dict[int, _Callbacks] = {}
        self._ids = itertools.count(1)
        self._closed = False
        # Queued explicitly: emitted from worker threads, handled in the GUI thread.
        self._progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[TaskFailure], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
    ) -> int:
        """Run `fn(report, *args)` in a worker thread; returns the task's id."""
        if self._closed:
            raise RuntimeError("this task runner was shut down")
        task_id = next(self._ids)
        self._callbacks[task_id] = _Callbacks(on_done, on_failed, on_progress)
        self._executor.submit(self._run, task_id, fn, args)
        return task_id

    def prestart(self) -> None:
        """Start the worker thread now, while the window is idle. Otherwise the first submit starts it and waits
        until it runs, which takes a while when other threads are busy (a batch is being screened)."""
        if not self._closed:
            self._executor.submit(_nothing)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def shutdown(self, drain: bool = False) -> None:
        """Drop queued tasks (`drain`: run them first) and wait for the running one; results are no longer
        delivered."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=not drain)
        self._callbacks.clear()

    def _run(self, task_id: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            value = fn(lambda payload: self._progress.emit(task_id, payload), *args)
        except Exception as exc:  # every failure must reach the user, never die silently in a thread
            self._failed.emit(task_id, failure_from(exc))
            return
        self._done.emit(task_id, value)

    def _on_progress(self, task_id: int, payload: Any) -> None:
        callbacks = self._callbacks.get(task_id)
        if callbacks is not None and callbacks.on_progress is not None:
            callbacks.on_progress(payload)

    def _on_done(self, task_id: int, value: Any) -> None:
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is not None and callbacks.on_done is not None:
            callbacks.on_done(value)

    def _on_failed(self, task_id: int, failure: TaskFailure) -> None:
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is not None and callbacks.on_failed is not None:
            callbacks.on_failed(failure)
