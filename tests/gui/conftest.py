"""Fixtures for the desktop app's tests: a real window, offscreen, on a temporary data folder, with the real
(tiny, seeded) model and real photographs."""

from __future__ import annotations

import gc
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_helpers import TIMEOUT_MS

from ran_desktop.app import launch
from ran_desktop.gui.main_window import MainWindow

if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
    # Qt's offscreen screen is 800x800 by default, smaller than any clinic monitor (and than the window's minimum
    # width, so restored geometry would be clamped): give it a common 1920x1080 one. Read when the QApplication
    # is created, which happens after this conftest is imported.
    _screens = Path(tempfile.gettempdir()) / "ran-screening-offscreen-screens.json"
    _screens.write_text(json.dumps({"screens": [{"name": "Offscreen", "x": 0, "y": 0, "width": 1920,
                                                 "height": 1080, "logicalDpi": 96, "logicalBaseDpi": 96,
                                                 "dpr": 1}]}), encoding="utf-8")
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_screens}"


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests():
    """Qt objects a test left in reference cycles are destroyed here, between tests, rather than by a garbage
    collection that happens to start inside the next test's Qt calls."""
    yield
    gc.collect()


@pytest.fixture
def models_folder(tiny_bundle, monkeypatch) -> Path:
    monkeypatch.setenv("RAN_MODELS_DIR", str(tiny_bundle.parent))
    monkeypatch.setenv("RAN_DEVICE", "cpu")
    return tiny_bundle.parent


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "user-data"
    monkeypatch.setenv("RAN_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def open_window(qtbot, models_folder, data_dir) -> Callable[..., MainWindow]:
    """Start the app as `main` does (window first, model in the background); closed at the end of the test."""

    def start(paths: Iterable[Path] = (), *, ready: bool = True, grader: str | None = "Dr Test") -> MainWindow:
        if grader is not None:
            from ran_desktop.gui.settings import AppSettings

            AppSettings(data_dir).grader_name = grader
        window = launch(list(paths), data_dir, models_folder)
        qtbot.addWidget(window)
        if ready:
            qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=TIMEOUT_MS)
        return window

    return start


@pytest.fixture
def photos(tmp_path, sample_path) -> Callable[..., Path]:
    """A folder of real fundus photographs (copies of the sample), `count` of them, in a nested layout."""

    def make(count: int, name: str = "photos", nested: bool = True) -> Path:
        folder = tmp_path / name
        for i in range(count):
            sub = folder / f"visit{i % 2}" if nested else folder
            sub.mkdir(parents=True, exist_ok=True)
            shutil.copy(sample_path, sub / f"eye{i:03d}_OS.jpg")
        return folder

    return make


@pytest.fixture
def small_photos(tmp_path, sample_path) -> Callable[..., Path]:
    """Many fast-to-decode copies of the sample (512 px JPEGs, still gradable) for batches that must run a while."""
    pixels = cv2.resize(cv2.imread(str(sample_path)), (512, 512), interpolation=cv2.INTER_AREA)

    def make(count: int, name: str = "many") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for i in range(count):
            cv2.imwrite(str(folder / f"small{i:04d}_OD.jpg"), pixels)
        return folder

    return make


@pytest.fixture
def black_photo(tmp_path) -> Path:
    path = tmp_path / "black_OD.png"
    cv2.imwrite(str(path), np.zeros((700, 700, 3), np.uint8))
    return path


@pytest.fixture
def bad_file(tmp_path) -> Path:
    path = tmp_path / "scan_notes.jpg"
    path.write_text("this is a letter, not a photograph", encoding="utf-8")
    return path
