"""Unexpected exceptions: logged, shown in a dialog with details to copy, and the app stays up.

Installed as sys.excepthook (PySide routes exceptions raised in slots and event handlers there too) and as
threading.excepthook; reports from other threads are queued to the GUI thread before a dialog is shown.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from ran_desktop.gui.messages import ErrorDialog
from ran_desktop.logsafe import Public, safe_trace

log = logging.getLogger("ran_desktop")


class CrashReporter(QObject):
    _reported = Signal(str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.dialog: ErrorDialog | None = None
        self.window: QWidget | None = None
        self._previous: tuple | None = None
        self._reported.connect(self._show)  # auto: direct in the GUI thread, queued from any other

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None

    def report(self, summary: str, details: str = "", trace: str = "") -> None:
        """Show `summary` and `details` to the user; only `trace` (see logsafe.safe_trace) goes to the log."""
        # summary and details quote file names and DICOM values: patient data, which stays out of the log
        log.error("unexpected error shown to the user\n  %s", Public(trace or "(no trace)"))
        self._reported.emit(summary, details or summary)

    def report_exception(self, exc: BaseException) -> None:
        self.report(f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc)), safe_trace(exc))

    def _excepthook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt) and self._previous is not None:
            self._previous[0](exc_type, exc, tb)
            return
        self.report_exception(exc.with_traceback(tb))

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self.report_exception(args.exc_value.with_traceback(args.exc_traceback))

    def _show(self, summary: str, details: str) -> None:
        if self.dialog is None:
            self.dialog = ErrorDialog(self.window)
        self.dialog.add(summary, details)
        self.dialog.show()
        self.dialog.raise_()
