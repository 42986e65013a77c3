"""The benchmark suite runs end to end at tiny sizes and writes every section. Nothing here is timed: the numbers
of a --quick run mean nothing, only that each benchmark still works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ran_desktop.engine.model.untrained import create_untrained_bundle

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("model_only", "end_to_end", "gradcam", "gui", "memory", "training", "flops", "variants", "local_validation",
            "local_finetune")


def test_quick_run_writes_every_section(tmp_path):
    # Width 16, not 8: at width 8 the CPU backward pass of this torch build crashes (see bench/README.md).
    model = tmp_path / "ran18-tiny"
    create_untrained_bundle(model, variant="ran18", base_width=16)
    out = tmp_path / "RESULTS.md"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RAN_DEVICE="cpu")
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--model", str(model),
                           "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = out.read_text()
    for name in SECTIONS:
        assert f"## {name}: " in text, f"section {name} missing"
    assert "ERROR" not in text
    assert "## Machine" in text and "## Targets" in text
    assert "PASS" in text or "FAIL" in text


def test_unknown_benchmark_is_refused():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--only", "nonsense"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown benchmark" in proc.stderr


def test_the_launch_comparison_runs_against_another_checkout(tmp_path):
    """bench.launch_ab against this same checkout: both windows start, and the two medians are of one code."""
    model = tmp_path / "models" / "ran18-tiny"
    create_untrained_bundle(model, variant="ran18", base_width=16)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RAN_DEVICE="cpu")
    proc = subprocess.run([sys.executable, "-m", "bench.launch_ab", str(REPO), "--runs", "1", "--models",
                           str(model.parent)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "median first paint over 1 alternated runs: bare" in proc.stdout and "this / other = " in proc.stdout


def test_the_cpu_build_start_is_measured_with_and_without_torch():
    """bench.without_torch: the window starts and loads the shipped model both with torch and with it left out, and
    the status bar says which runtime each used."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-m", "bench.without_torch", "--runs", "1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert result["cpu build"]["device"].endswith(", ONNX Runtime") and "ONNX" not in result["torch"]["device"]
    assert result["cpu build"]["shown_ms"] > 0 and result["cpu build"]["model_ready_ms"] > 0


def test_the_loader_cost_is_measured_both_ways():
    proc = subprocess.run([sys.executable, "-m", "bench.loader_cost", "--samples", "4", "--size", "64", "--rounds",
                           "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert result["loader CPU ms per sample, left to the device"] < result["loader CPU ms per sample, in the loader"]


def test_the_preparation_left_to_the_device_is_measured():
    proc = subprocess.run([sys.executable, "-m", "bench.preparation", "--on-device", "--images", "2"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert json.loads(proc.stdout)["ratio"] > 0
