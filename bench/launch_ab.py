"""Launch time of this checkout against another one (a worktree of the code before a change), alternated with a bare
PySide6 window, so a restructuring can show it did not slow the window's start: the time from starting a fresh
interpreter to the main window's first paint (what the grader sees; it can come before launch() returns), measured by
the same child code for both checkouts (as `bench/run.py --only gui` measures this one).

    git worktree add /tmp/before <commit>
    .venv/bin/python -m bench.launch_ab /tmp/before --runs 15
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO


# The same child for both checkouts (their own bench/gui.py may not measure it): the time of the main window's first
# paint, the moment the grader sees it, whether that comes before or after launch() returns; with `until_model`, also
# the moment its model has loaded (bench.without_torch).
def first_paint_child(until_model: bool = False) -> str:
    done = ("window.controller.model_state != 'loading'" if until_model else "'painted_at' in seen")
    return f"""
import json, sys, tempfile, time
from pathlib import Path
from ran_desktop.app import launch
from ran_desktop.gui.main_window import MainWindow
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
seen = {{}}
paint = MainWindow.paintEvent
def first_paint(self, event):
    seen.setdefault("painted_at", time.time())
    paint(self, event)
MainWindow.paintEvent = first_paint
app = QApplication([sys.argv[0]])
with tempfile.TemporaryDirectory() as data:
    window = launch((), Path(data), Path(sys.argv[1]))
    def check():
        if {done}:
            seen["ready_at"] = time.time()
            seen["state"] = window.controller.model_state
            seen["device"] = window.status.device_label.text()
            app.quit()
    watch = QTimer()
    watch.timeout.connect(check)
    watch.start(2)
    QTimer.singleShot(60000, app.quit)
    app.exec()
    print(json.dumps(seen), flush=True)
    window.close()
"""


def first_paint_seconds(checkout: Path, models: Path) -> float:
    """Seconds from starting a fresh interpreter on `checkout`'s code to its main window's first paint."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(checkout))
    started = time.time()
    done = subprocess.run([sys.executable, "-c", first_paint_child(), str(models)], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines or "painted_at" not in lines[-1]:
        raise RuntimeError(f"{checkout}: the window was not painted:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])["painted_at"] - started


def bare_paint_seconds(models: Path) -> float:
    """The same for a bare PySide6 window (bench.gui's child), the baseline of both."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "bench.gui", "--child", "bare", "--models", str(models)], cwd=REPO,
                          env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the bare window did not start:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])["painted_at"] - started


def compare(other: Path, runs: int, models_dir: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        models = Path(scratch)
        for bundle in (p for p in models_dir.iterdir() if (p / "manifest.json").is_file()):
            (models / bundle.name).symlink_to(bundle.resolve(), target_is_directory=True)
        times: dict[str, list[float]] = {"bare": [], "other": [], "this": []}
        for _ in range(runs):  # alternated, so load on the machine falls on all three alike
            times["bare"].append(bare_paint_seconds(models))
            times["other"].append(first_paint_seconds(other, models))
            times["this"].append(first_paint_seconds(REPO, models))
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {**{f"{name}_ms": 1000 * value for name, value in medians.items()},
            "this_vs_other": medians["this"] / medians["other"],
            "other_vs_bare": medians["other"] / medians["bare"], "this_vs_bare": medians["this"] / medians["bare"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (e.g. a git worktree before the change)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--models", type=Path, default=REPO / "models", help="models folder both launch with")
    args = parser.parse_args(argv)
    result = compare(args.other.resolve(), args.runs, args.models)
    print(f"median first paint over {args.runs} alternated runs: bare {result['bare_ms']:.0f} ms, "
          f"{args.other} {result['other_ms']:.0f} ms ({result['other_vs_bare']:.2f}x bare), "
          f"this checkout {result['this_ms']:.0f} ms ({result['this_vs_bare']:.2f}x bare); "
          f"this / other = {result['this_vs_other']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
