"""The CPU build's start (issue 22: the window shown no slower than today's launch ratio): the main window's first
paint and the moment its model is ready, in fresh interpreters with torch installed and with torch left out (as the
CPU build ships: the model is the bundle's ONNX graph on ONNX Runtime), against a bare PySide6 window, alternated.

    .venv/bin/python -m bench.without_torch [--runs 7] [--models models]
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
from bench.launch_ab import bare_paint_seconds, first_paint_child

LEFT_OUT = ("torch", "torchvision")
BLOCKER = f"""
import importlib.abc, sys
class LeftOut(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {LEFT_OUT!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, LeftOut())
"""
def start_seconds(models: Path, without_torch: bool) -> dict:
    """Seconds from starting a fresh interpreter to the window's first paint and to its model being ready."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO), RAN_RUNTIME="", RAN_DEVICE="cpu")
    started = time.time()
    child = first_paint_child(until_model=True)  # the model's loader starts after the first paint, in a worker
    done = subprocess.run([sys.executable, "-c", (BLOCKER if without_torch else "") + child, str(models)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    seen = json.loads(lines[-1]) if lines else {}
    if done.returncode != 0 or seen.get("state") != "ready":
        raise RuntimeError(f"the window did not load its model:\n{done.stderr[-2000:]}")
    return {"shown": seen["painted_at"] - started, "ready": seen["ready_at"] - started, "device": seen["device"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--models", type=Path, default=REPO / "models")
    args = parser.parse_args(argv)
    times: dict[str, list] = {"bare": [], "torch": [], "cpu build": []}
    with tempfile.TemporaryDirectory() as scratch:
        models = Path(scratch)
        for bundle in (p for p in args.models.iterdir() if (p / "manifest.json").is_file()):
            (models / bundle.name).symlink_to(bundle.resolve(), target_is_directory=True)
        for _ in range(args.runs):  # alternated, so load on the machine falls on all three alike
            times["bare"].append(bare_paint_seconds(models))
            times["torch"].append(start_seconds(models, without_torch=False))
            times["cpu build"].append(start_seconds(models, without_torch=True))
    bare = statistics.median(times["bare"])
    result: dict[str, object] = {"bare_ms": round(bare * 1000)}
    for name in ("torch", "cpu build"):
        shown = statistics.median(t["shown"] for t in times[name])
        ready = statistics.median(t["ready"] for t in times[name])
        result[name] = {"shown_ms": round(shown * 1000), "shown_vs_bare": round(shown / bare, 2),
                        "model_ready_ms": round(ready * 1000), "device": times[name][0]["device"]}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
