"""What the app's log file may hold: no patient data, ever (see docs/privacy.md).

File names and folders often carry patients' names, and error messages quote file names, DICOM values and paths.
So the log keeps only what the code says itself: the message template, numbers, values the code marks `Public`
(the model's name, the device), and for an error its type and code locations, never its message. `PrivacyFilter`
enforces this on every record's arguments, whatever the call site passed in; the message template itself is a
string literal in the code (tests/reliability/test_privacy_logs.py checks every logging call in the package). Images
are referred to by their row id in the session database beside the log, which means nothing without that database.
Imports neither Qt nor torch.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from types import TracebackType

WITHHELD = "<withheld>"


class Public(str):
    """Text that may be logged as it is: it comes from the app or its model bundle, never from a patient's file."""


def safe_trace(exc: BaseException) -> str:
    """Exception types and the code locations they passed through, without their messages (which quote data)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the chain of causes, innermost last as Python shows it
        seen.add(id(current))
        parts.append(_one_trace(type(current), current.__traceback__))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n  caused by: ".join(parts)


def _one_trace(kind: type[BaseException], tb: TracebackType | None) -> str:
    frames = traceback.extract_tb(tb)
    where = "".join(f"\n    {frame.filename}:{frame.lineno} in {frame.name}" for frame in frames)
    return f"{kind.__module__}.{kind.__qualname__} (message withheld){where}"


class PrivacyFilter(logging.Filter):
    """Withhold every logged value that is not a number, a bool, None or `Public`; errors become `safe_trace`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str):
            record.msg = WITHHELD  # an object logged as the message (an exception, a path) is data
        if isinstance(record.args, Mapping):
            record.args = {key: _safe(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_safe(value) for value in record.args)
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg}\n  {safe_trace(record.exc_info[1])}"
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None  # a stack is code locations only, but may be long; safe_trace covers errors
        return True


def _safe(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, Public)):
        return value
    return WITHHELD

