"""Shared pieces of the benchmarks: timing, test images, the model under test, and RESULTS.md sections.

Every number that is judged against a target is a ratio to a baseline measured in the same run, because the
machines this runs on (clinic PCs, CI, a dev box with training in the background) are noisy in absolute terms.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "resources" / "samples" / "normal_fundus_OS.jpg"
FULL_SIZE = (4288, 2848)  # a common 12-megapixel fundus camera frame (width, height)


def median_time(fn: Callable[[], object], *, warmup: int = 1, repeats: int = 5) -> float:
    """Median wall time of `fn` in seconds after `warmup` untimed calls; the median shrugs off noisy neighbours."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@dataclass
class Row:
    metric: str
    value: float | str
    unit: str = ""
    baseline: float | str | None = None
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None  # None: informational, no target


@dataclass
class Section:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, *args, **kwargs) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row


@dataclass
class Context:
    """What every benchmark gets: sizes (full or --quick), the model bundle, a scratch folder."""

    quick: bool
    model_dir: Path
    scratch: Path
    _folders: dict = field(default_factory=dict)

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def fundus_folder(self, count: int, size: tuple[int, int], seed: int = 0) -> Path:
        """A folder of `count` JPEG fundus photographs of `size`, made once per run and shared by benchmarks."""
        key = (count, size, seed)
        if key not in self._folders:
            folder = self.scratch / f"fundus_{count}_{size[0]}x{size[1]}_{seed}"
            make_fundus_folder(folder, count, size, seed)
            self._folders[key] = folder
        return self._folders[key]

    def load_model(self):
        from ran_desktop.engine.model.bundle import load_bundle

        return load_bundle(self.model_dir, device=os.environ.get("RAN_DEVICE"))


def fundus_canvas(size: tuple[int, int]) -> np.ndarray:
    """The sample photograph scaled so its disc fills the frame's height, centred on black (BGR)."""
    w, h = size
    sample = cv2.imread(str(SAMPLE))
    side = min(w, h)
    disc = cv2.resize(sample, (side, side), interpolation=cv2.INTER_CUBIC if side > sample.shape[0] else cv2.INTER_AREA)
    canvas = np.zeros((h, w, 3), np.uint8)
    x0, y0 = (w - side) // 2, (h - side) // 2
    canvas[y0 : y0 + side, x0 : x0 + side] = disc
    return canvas


def make_fundus_folder(folder: Path, count: int, size: tuple[int, int], seed: int = 0) -> list[Path]:
    """Distinct photographs: a brightness/contrast change and a few dark dots per image, so no decoder or result
    cache can serve one file's work for another's."""
    folder.mkdir(parents=True, exist_ok=True)
    canvas = fundus_canvas(size)
    rng = np.random.default_rng(seed)
    w, h = size
    paths = []
    for i in range(count):
        gain, bias = rng.uniform(0.9, 1.1), rng.uniform(-8, 8)
        lut = np.clip(np.arange(256) * gain + bias, 0, 255).astype(np.uint8)
        lut[:12] = np.arange(12)  # keep the surround dark, as a camera's is
        image = cv2.LUT(canvas, lut)
        for _ in range(int(rng.integers(3, 12))):
            x, y = int(rng.integers(w // 3, 2 * w // 3)), int(rng.integers(h // 3, 2 * h // 3))
            cv2.circle(image, (x, y), max(2, h // 300), (20, 20, 90), -1)
        path = folder / f"img_{i:04d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def rss_bytes() -> tuple[int, int]:
    """(current, peak) resident set size of this process, from /proc (Linux)."""
    cur = peak = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return cur, peak


def run_child(args: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> dict:
    """Run `python -m bench.<module> ...` in a fresh interpreter; its last stdout line is a JSON object."""
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def machine_description() -> dict[str, str]:
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = os.environ.get("RAN_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and torch.cuda.is_available():
        device = f"CUDA: {torch.cuda.get_device_name(0)}"
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "CPU": cpu,
        "cores (logical)": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "device": device,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "OS": platform.platform(),
        "load average at start (1/5/15 min)": load,
    }


def _fmt(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def render(sections: list[Section], machine: dict[str, str], header: list[str]) -> str:
    out = ["# Benchmark results", "", *header, "", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in machine.items()]
    out.append("")
    judged = [(s, r) for s in sections for r in s.rows if r.passed is not None]
    if judged:
        out += ["## Targets", "", "| benchmark | metric | measured | target | result |", "|---|---|---|---|---|"]
        for s, r in judged:
            # Ratio targets show the ratio; absolute ones (ms, %) show the value they are judged on.
            ratio = r.target.startswith((">", "<= ")) and r.target.endswith(("x", "forward"))
            measured = f"{_fmt(r.ratio)}x" if ratio else f"{_fmt(r.value)} {r.unit}".strip()
            out.append(f"| {s.name} | {r.metric} | {measured} | {r.target} | {'PASS' if r.passed else 'FAIL'} |")
        out.append("")
    for s in sections:
        out += [f"## {s.name}: {s.title}", "", "| metric | value | baseline | ratio | target | pass/fail |",
                "|---|---|---|---|---|---|"]
        for r in s.rows:
            value = f"{_fmt(r.value)} {r.unit}".strip()
            verdict = "" if r.passed is None else ("PASS" if r.passed else "FAIL")
            out.append(f"| {r.metric} | {value} | {_fmt(r.baseline)} | {_fmt(r.ratio)} | {r.target} | {verdict} |")
        out.append("")
        out += [f"- {note}" for note in s.notes]
        out += [f"- section took {s.seconds:.0f} s", ""]
    return "\n".join(out)
