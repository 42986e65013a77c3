"""A grader's hour compressed into a minute, in a real X server: the real app, thousands of rows, scrolled with
the mouse wheel, sorted by clicking headers, filtered by typing and ticking, walked with N/P, then quit with
Ctrl+Q. It must neither die nor abort (PySide6 6.12.0 aborted here with "none_dealloc"), and must keep up: before
Ctrl+A selected patients as one range, selecting every patient froze the window for 17 s and Ctrl+Q waited."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from xserver import xvfb

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.storage import open_storage
from ran_desktop.engine.screening.screener import Screener

SOAK_SECONDS = float(os.environ.get("RAN_SOAK_SECONDS", "60"))
ROWS = 3000
DRIVER = Path(__file__).parent / "x11" / "app_with_geometry.py"


def fill_session(data_dir: Path, tiny_bundle: Path, sample_path: Path, folder: Path) -> None:
    """A session of ROWS real screening results (a few real photographs, each stored under many names)."""
    folder.mkdir()
    photo = cv2.imread(str(sample_path))
    variants = {
        "sample_OS.jpg": photo,
        "flipped_OD.jpg": photo[:, ::-1],
        "dark_OS.jpg": (photo * 0.45).astype(np.uint8),
        "blurred_OD.jpg": cv2.GaussianBlur(photo, (0, 0), 9),
        "black_OS.png": np.zeros((600, 600, 3), np.uint8),
    }
    for name, pixels in variants.items():
        cv2.imwrite(str(folder / name), pixels)
    screened = list(Screener(load_bundle(tiny_bundle, device="cpu")).screen(sorted(folder.iterdir())))
    storage = open_storage(data_dir)
    try:
        session = storage.current_session()
        for i in range(ROWS):
            base = screened[i % len(screened)]
            path = folder / f"visit{i // 500}" / f"patient{i // 2:04d}_{'OD' if i % 2 else 'OS'}{base.path.suffix}"
            storage.save_result(session, dataclasses.replace(base, key=str(path), path=path))
    finally:
        storage.close()


def test_a_minute_of_scrolling_sorting_and_filtering_thousands_of_rows(tmp_path, tiny_bundle, sample_path):
    data_dir = tmp_path / "data"
    fill_session(data_dir, tiny_bundle, sample_path, tmp_path / "photos")
    geometry_file = tmp_path / "geometry.json"
    with xvfb(1600, 1000) as display:
        env = display.env(RAN_DATA_DIR=str(data_dir), RAN_MODELS_DIR=str(tiny_bundle.parent), RAN_DEVICE="cpu")
        app = subprocess.Popen([sys.executable, str(DRIVER), str(geometry_file), str(ROWS)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 90
            while not geometry_file.exists():
                assert app.poll() is None, f"the app ended before showing its worklist:\n{app.communicate()[1]}"
                assert time.monotonic() < deadline, "the worklist never showed its rows"
                time.sleep(0.2)
            time.sleep(1)  # the layout settles (the model's banner), then the geometry is current
            actions = 0
            started = time.monotonic()
            while time.monotonic() - started < SOAK_SECONDS:
                g = json.loads(geometry_file.read_text())
                assert g["rows"] == ROWS
                vx, vy, vw, vh = g["viewport"]
                headers = list(g["headers"].values())
                sx, sy, sw, sh = g["search"]
                filters = list(g["filters"].values())
                step = actions % 7
                if step == 0:
                    display.click(vx + vw * 0.4, vy + 30)  # select a row: N/P and the wheel go to the list
                    display.wheel(vx + vw * 0.4, vy + vh / 2, 40)
                elif step == 1:
                    display.wheel(vx + vw * 0.4, vy + vh / 2, -25)
                    display.key(*(["n"] * 8), *(["p"] * 3))
                elif step == 2:
                    x, y = headers[(actions // 7) % len(headers)]
                    display.click(x, y)  # sort, and again for the other direction
                    display.click(x, y)
                elif step == 3:
                    display.click(sx + sw / 2, sy + sh / 2)
                    display.type(f"patient{(actions * 7) % 1500:04d}"[:9])  # filters down to a few rows
                    display.key("ctrl+a", "BackSpace")
                elif step == 4:
                    fx, fy, fw, fh = filters[(actions // 7) % len(filters)]
                    display.click(fx + 8, fy + fh / 2)  # tick
                    display.wheel(vx + vw * 0.4, vy + vh / 2, 30)
                    display.click(fx + 8, fy + fh / 2)  # untick
                elif step == 5:
                    (ix, iy), (px, py) = g["tabs"]
                    display.click(px, py)  # the Patients tab: scroll it, select every patient, go back
                    display.wheel(vx + vw * 0.4, vy + vh / 3, 30)
                    display.click(vx + vw * 0.4, vy + vh / 3)
                    display.key("ctrl+a")
                    display.click(ix, iy)
                else:
                    display.xdotool("mousemove", int(vx + vw * 0.6), int(vy + vh * 0.7))
                    display.xdotool("click", "--repeat", 60, "--delay", 5, 5)  # a fast flick of the wheel
                actions += 1
                assert app.poll() is None, f"the app died after {actions} actions:\n{app.communicate()[1][-4000:]}"
            assert actions >= SOAK_SECONDS / 3  # the app kept up: no action waited long on a frozen window
            display.click(vx + vw * 0.4, vy + 30)
            display.key("ctrl+q")
            try:
                _, err = app.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                display.screenshot(tmp_path / "not-quit.png")
                pytest.fail(f"Ctrl+Q did not quit the app within 30 s; the screen: {tmp_path / 'not-quit.png'}")
            assert app.returncode == 0, f"the app ended with {app.returncode}:\n{err[-4000:]}"
            assert "Fatal Python error" not in err
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()
