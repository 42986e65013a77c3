"""Helpers for the desktop app's tests: real drag-and-drop events and waiting for batches."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from ran_desktop.gui.main_window import MainWindow

# Generous: a loaded CI machine may be slow, and waitUntil returns as soon as the condition holds.
TIMEOUT_MS = 30_000


def drop(target: QWidget, paths: Iterable[Path]) -> QDropEvent:
    """Drag `paths` over `target` and drop them there, as a file manager would (real Qt drag-and-drop events)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = QPoint(target.width() // 2, target.height() // 2)
    enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted(), "the window refused the drag"
    event = QDropEvent(where, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, event)
    return event


def wait_idle(qtbot, window: MainWindow, rows: int | None = None) -> None:
    """Until no batch runs or waits (and, if given, the table has `rows` rows)."""
    qtbot.waitUntil(
        lambda: not window.controller.running and not window.controller.queued
        and (rows is None or window.results.rowCount() == rows),
        timeout=TIMEOUT_MS,
    )


def names(window: MainWindow) -> list[str]:
    return [r.result.path.name for r in window.results.records()]


def key_of_file(window: MainWindow, path: Path) -> str:
    """The key of the (latest) row screened from `path`: keys also name the file's content."""
    return [r.key for r in window.results.records() if r.result.path == Path(path)][-1]
