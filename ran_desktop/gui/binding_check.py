"""Refuses a Qt binding that corrupts Python's reference counts, before it can crash a grader's session.

PySide6 6.12.0 on Python 3.11 returns None from every call whose C++ result is void or a null pointer without
taking a reference to it (pyproject.toml caps PySide6 below 6.12 for this). None's count then falls by one per
call, and once it reaches zero Python aborts ("Fatal Python error: none_dealloc") wherever the app happens to be:
scrolling the worklist, quitting. An environment assembled by hand can still hold such a build; it is caught here
in a fraction of a millisecond. From Python 3.12 None is immortal and its count never falls.
"""

from __future__ import annotations

import sys

import PySide6
from PySide6.QtCore import QModelRoleData, QObject

_CALLS = 200


def none_references_lost(calls: int = _CALLS) -> int:
    """How many references to None `calls` void binding calls lose (0 on a sound binding)."""
    probe = QObject()
    role_data = QModelRoleData(0)
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")  # returns void
        role_data.setData(0)  # the call the worklist makes most
    return before - sys.getrefcount(None)


def binding_problem() -> str | None:
    """A message for the user when the installed PySide6 loses references to None, else None."""
    lost = none_references_lost()
    if lost < _CALLS // 2:
        return None
    return (
        f"The installed Qt binding (PySide6 {PySide6.__version__}) has a known defect on Python "
        f"{sys.version_info.major}.{sys.version_info.minor}: it loses a reference to None on every call "
        f"({lost} in {_CALLS} calls), and the app would crash mid-session.\n\n"
        'Install a sound release, e.g. pip install "PySide6-Essentials>=6.8,<6.12" '
        "(python3 scripts/start.py installs it), or use Python 3.12 or newer."
    )
