"""4. GUI: launch-to-window time against a bare PySide6 window, and the event loop's longest pause while a batch is
screened. Every measurement runs in a fresh interpreter with QT_QPA_PLATFORM=offscreen."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import FULL_SIZE, Context, Section, run_child

TARGET_LAUNCH = 1.5
TARGET_PAUSE_MS = 100.0
PROBE_MS = 10  # timer interval of the pause probe
ENV = {"QT_QPA_PLATFORM": "offscreen"}


def _launch_seconds(role: str, models: Path) -> float:
    started = time.time()
    r = run_child(["-m", "bench.gui", "--child", role, "--models", str(models)], env=ENV, timeout=300)
    return r["painted_at"] - started


def run(ctx: Context, section: Section) -> dict:
    models = ctx.scratch / "gui_models"
    models.mkdir(exist_ok=True)
    link = models / ctx.model_dir.name
    if not link.exists():
        link.symlink_to(ctx.model_dir.resolve(), target_is_directory=True)

    bare, app = [], []
    for _ in range(ctx.n(5, 1)):  # alternate, so load on the machine falls on both alike
        bare.append(_launch_seconds("bare", models))
        app.append(_launch_seconds("app", models))
    b, a = statistics.median(bare), statistics.median(app)
    section.add("launch to window shown: bare PySide6 QMainWindow", b * 1000, "ms")
    section.add("launch to window shown: RAN Screening (launch())", a * 1000, "ms", baseline=b * 1000, ratio=a / b,
                target=f"<= {TARGET_LAUNCH}x", passed=a / b <= TARGET_LAUNCH)

    count = ctx.n(200, 8)
    folder = ctx.fundus_folder(count, FULL_SIZE)
    r = run_child(["-m", "bench.gui", "--child", "probe", "--models", str(models), "--folder", str(folder)],
                  env=ENV, timeout=1800)
    section.add("longest event-loop pause, idle window (model loaded)", r["idle_max_ms"], "ms")
    section.add(f"longest event-loop pause while screening {r['stored']} images", r["busy_max_ms"], "ms",
                baseline=r["idle_max_ms"], ratio=r["busy_max_ms"] / max(r["idle_max_ms"], 1e-3),
                target=f"<= {TARGET_PAUSE_MS:.0f} ms", passed=r["busy_max_ms"] <= TARGET_PAUSE_MS)
    section.add("pauses over 100 ms during the batch", r["over_100"], "")
    section.add("batch wall time in the GUI", r["batch_s"], "s")
    section.notes.append(f"launch: wall time from starting a fresh interpreter to the window's first paint (what the "
                         f"user sees), median of {len(bare)} alternating runs each; the app's includes its imports "
                         f"and the window's construction; its session database is opened, and its workspace panels "
                         f"and the model's loader start, after that first frame, so none of them is in it")
    section.notes.append(f"pause: a {PROBE_MS} ms QTimer records the gap between its ticks; pause = gap - "
                         f"{PROBE_MS} ms. Idle baseline: 2 s with the model loaded, before adding the "
                         f"{count} full-size images")
    return {"launch_ratio": a / b, "busy_max_ms": r["busy_max_ms"]}


# --- child processes -------------------------------------------------------------------------------------------


def _first_paint(window_class: type, seen: dict[str, float]) -> None:
    """Record when a window of `window_class` is first drawn: what the user sees, whether it comes before the
    event loop turns (the app draws its first frame before opening its database) or in it."""
    paint = window_class.paintEvent

    def recorded(self, event) -> None:
        seen.setdefault("painted_at", time.time())
        paint(self, event)

    window_class.paintEvent = recorded


def _quit_once_painted(app, seen: dict[str, float]) -> object:
    from PySide6.QtCore import QTimer

    watch = QTimer()
    watch.timeout.connect(lambda: (print(json.dumps(seen), flush=True), app.quit()) if "painted_at" in seen else None)
    watch.start(2)
    return watch


def _bare() -> None:
    from PySide6.QtWidgets import QApplication, QMainWindow

    class Bare(QMainWindow):
        pass

    seen: dict[str, float] = {}
    _first_paint(Bare, seen)
    app = QApplication([sys.argv[0]])
    window = Bare()
    window.setWindowTitle("bare")
    window.resize(1200, 800)
    window.show()
    watch = _quit_once_painted(app, seen)  # noqa: F841 (kept alive while the loop runs)
    app.exec()


def _app(models: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from ran_desktop.app import launch  # first, as main.py imports it: the app chooses its import order
    from ran_desktop.gui.main_window import MainWindow

    seen: dict[str, float] = {}
    _first_paint(MainWindow, seen)
    app = QApplication([sys.argv[0]])

    with tempfile.TemporaryDirectory() as data:
        window = launch((), Path(data), models)
        watch = _quit_once_painted(app, seen)  # noqa: F841 (kept alive while the loop runs)
        app.exec()
        window.close()


def _probe(models: Path, folder: Path) -> None:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    from ran_desktop.app import launch

    with tempfile.TemporaryDirectory() as data:
        window = launch((), Path(data), models)
        clock = QElapsedTimer()
        clock.start()
        state = {"last": 0, "gaps": [], "phase": "loading", "stored": 0, "t_batch": 0.0}
        ticker = QTimer()
        ticker.setInterval(PROBE_MS)

        def tick() -> None:
            now = clock.elapsed()
            if state["phase"] in ("idle", "busy"):
                state["gaps"].append((state["phase"], now - state["last"] - PROBE_MS))
            state["last"] = now

        def start_batch() -> None:
            state["phase"] = "busy"
            state["t_batch"] = time.perf_counter()
            window.add_paths([folder])

        def ready(_loaded) -> None:
            state["phase"] = "idle"
            state["last"] = clock.elapsed()
            QTimer.singleShot(2000, start_batch)

        def done(stored: int, _total: int, _cancelled: bool) -> None:
            state["stored"] = stored
            state["t_batch"] = time.perf_counter() - state["t_batch"]
            state["phase"] = "done"
            app.quit()

        window.controller.modelReady.connect(ready)
        window.controller.modelFailed.connect(lambda reason: (print(reason, file=sys.stderr), app.exit(1)))
        window.controller.batchFinished.connect(done)
        ticker.timeout.connect(tick)
        ticker.start()
        code = app.exec()
        window.close()
    if code:
        raise SystemExit(code)
    idle = [g for p, g in state["gaps"] if p == "idle"] or [0]
    busy = [g for p, g in state["gaps"] if p == "busy"] or [0]
    print(json.dumps({"idle_max_ms": max(idle), "busy_max_ms": max(busy), "over_100": sum(g > 100 for g in busy),
                      "stored": state["stored"], "batch_s": state["t_batch"]}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--child", choices=["bare", "app", "probe"], required=True)
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--folder", type=Path)
    a = p.parse_args()
    if a.child == "bare":
        _bare()
    elif a.child == "app":
        _app(a.models)
    else:
        _probe(a.models, a.folder)
