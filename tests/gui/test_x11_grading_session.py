"""A grader's session through the X server, keys only: open 100 photographs, grade 50 of them with the keyboard,
export the results, quit with Ctrl+Q, open the app again: every decision is back, and nothing crashed."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from xserver import xvfb

from ran_desktop.engine.records.storage import open_storage
from ran_desktop.gui.settings import AppSettings

DRIVER = Path(__file__).parent / "x11" / "app_with_geometry.py"
PHOTOS, GRADED = 100, 50


def start(display, geometry: Path, data_dir: Path, models: Path, *paths: Path) -> subprocess.Popen:
    geometry.unlink(missing_ok=True)
    env = display.env(RAN_DATA_DIR=str(data_dir), RAN_MODELS_DIR=str(models), RAN_DEVICE="cpu")
    return subprocess.Popen([sys.executable, str(DRIVER), str(geometry), str(PHOTOS), *map(str, paths)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_rows(app: subprocess.Popen, geometry: Path, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while not geometry.exists():
        assert app.poll() is None, f"the app ended early:\n{app.communicate()[1][-4000:]}"
        assert time.monotonic() < deadline, "the photographs were never all in the list"
        time.sleep(0.3)
    time.sleep(1.0)  # the layout settles (the model's banner), and the geometry file follows it
    return json.loads(geometry.read_text())


def quit_app(display, app: subprocess.Popen, x: int, y: int) -> str:
    display.click(x, y)
    display.key("ctrl+q")
    try:
        _, err = app.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        app.kill()
        pytest.fail("Ctrl+Q did not end the app")
    assert app.returncode == 0, err[-4000:]
    assert "Fatal Python error" not in err
    return err


def test_a_keyboard_grading_session_in_a_real_x_server(tmp_path, tiny_bundle, sample_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    pixels = cv2.resize(cv2.imread(str(sample_path)), (512, 512), interpolation=cv2.INTER_AREA)
    for i in range(PHOTOS):
        cv2.imwrite(str(photos / f"person{i:03d}_{'OD' if i % 2 else 'OS'}.jpg"), pixels)
    data_dir, exports = tmp_path / "data", tmp_path / "exports"
    exports.mkdir()
    settings = AppSettings(data_dir)
    settings.grader_name = "Dr Keys"
    settings.export_folder = str(exports)
    geometry = tmp_path / "geometry.json"
    with xvfb(1280, 800) as display:
        app = start(display, geometry, data_dir, tiny_bundle.parent, photos)
        try:
            g = wait_for_rows(app, geometry)
            vx, vy, vw, vh = g["viewport"]
            display.click(vx + vw * 0.4, vy + 10)  # the first row; from here on, the keyboard only
            display.key("Home")
            for i in range(GRADED):
                display.key(str(i % 5), f"alt+{i % 3}", "ctrl+Return")  # grade, DME, save and move on
                assert app.poll() is None, app.communicate()[1][-4000:]
            display.key("ctrl+e")
            time.sleep(1.5)
            display.key("Return")  # the suggested file in the export folder
            deadline = time.monotonic() + 30
            while not list(exports.glob("*.csv")) and time.monotonic() < deadline:
                time.sleep(0.3)
            quit_app(display, app, vx + vw * 0.4, vy + 10)
        finally:
            if app.poll() is None:
                app.kill()
        exported = next(exports.glob("*.csv"))
        rows = list(csv.DictReader(open(exported, encoding="utf-8")))
        assert len(rows) == PHOTOS and sum(1 for r in rows if r["grader_dr_grade"] != "") == GRADED

        storage = open_storage(data_dir)
        try:
            decided = [r for r in storage.load_session(storage.current_session()) if r.decision is not None]
        finally:
            storage.close()
        assert len(decided) == GRADED and {r.decision.grader for r in decided} == {"Dr Keys"}
        assert sorted((r.decision.dr_grade, r.decision.dme_grade) for r in decided) == sorted(
            (i % 5, i % 3) for i in range(GRADED))

        again = start(display, geometry, data_dir, tiny_bundle.parent)  # reopened: everything is back
        try:
            g = wait_for_rows(again, geometry)
            assert g["rows"] == PHOTOS
            vx, vy, vw, vh = g["viewport"]
            quit_app(display, again, vx + vw * 0.4, vy + 10)
        finally:
            if again.poll() is None:
                again.kill()
