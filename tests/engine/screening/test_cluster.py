"""Screening an archive on a Ray cluster started on this machine (several worker processes): the same rows as one
machine gives, a stopped run resumes without screening finished files again, and a worker killed mid-run leaves
every file in the results exactly once."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the optional 'cluster' extra (Ray) is not installed")

from ran_desktop.cli.screen import main as ran_screen  # noqa: E402
from ran_desktop.engine.screening.cluster import (  # noqa: E402
    ClusterPlan,
    journal_for,
    read_journal,
    screen_on_cluster,
)

TIMING = ("load_ms", "preprocess_ms", "inference_ms", "device")  # the device: each worker's share of the CPU


@pytest.fixture
def archive(sample_path, tmp_path):
    """Twelve different photographs (the sample with a byte appended: another file, another key) and a file that is
    not an image, in two folders."""
    folder = tmp_path / "archive"
    for i in range(12):
        sub = folder / ("2024" if i % 2 else "2025")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"eye{i:02d}_OD.jpg").write_bytes(sample_path.read_bytes() + bytes([i]))
    (folder / "2025" / "notes.jpg").write_text("not a photograph", encoding="utf-8")
    return folder


def _worker_pids() -> list[int]:
    """This run's screening workers: Ray names each actor's process after its class (Linux: /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"ScreenWorker" in cmdline.read_bytes() and int(cmdline.parent.name) != os.getpid():
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue  # gone meanwhile
    return pids


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(fh)]


def test_the_cluster_gives_the_rows_one_machine_gives(archive, tiny_bundle, tmp_path, capsys):
    alone, spread = tmp_path / "alone.csv", tmp_path / "spread.csv"
    assert ran_screen([str(archive), "--out", str(alone), "--model", str(tiny_bundle), "--quiet"]) == 1
    assert ran_screen([str(archive), "--out", str(spread), "--model", str(tiny_bundle), "--quiet",
                       "--cluster", "auto", "--cluster-workers", "2"]) == 1  # 1: one file is not an image
    assert "notes.jpg: not a supported image" in capsys.readouterr().err
    assert _rows(spread) == _rows(alone) and len(_rows(alone)) == 13
    with open(spread, newline="", encoding="utf-8") as fh:
        assert {row["device"] for row in csv.DictReader(fh)} == {"CPU (1 threads)"}  # one CPU per worker
    assert not journal_for(spread).exists()  # finished: the journal is gone, the results written once


def test_a_stopped_run_resumes_and_a_killed_worker_leaves_every_file_once(archive, tiny_bundle, tmp_path):
    files = sorted(archive.rglob("*.jpg"))
    journal = tmp_path / "results.csv.journal.jsonl"
    # A run stopped after two files (the second line cut short as the machine went down): the first is kept as it
    # was written, the second screened again.
    kept = {"file": str(files[0]), "rows": [{"file": str(files[0]), "status": "screened", "device": "earlier run"}]}
    journal.write_text(json.dumps(kept) + "\n" + json.dumps({"file": str(files[1]), "rows": []})[:20],
                       encoding="utf-8")
    killed: list[int] = []

    def kill_one_worker(count: int) -> None:
        if killed or count > 2:
            return
        pids = _worker_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    plan = ClusterPlan(tiny_bundle, workers=2, files_per_task=1)
    rows = screen_on_cluster(files, plan, journal, progress=kill_one_worker)
    assert killed, "no worker was running to be killed"
    assert [r["file"] for r in rows] == [str(f) for f in files]  # every file once, in order
    assert rows[0]["device"] == "earlier run"  # taken from the journal, not screened again
    assert {r["status"] for r in rows[1:]} == {"screened", "error"}
    lines = [json.loads(line)["file"] for line in journal.read_text(encoding="utf-8").splitlines()[2:]]
    assert sorted(lines) == sorted(str(f) for f in files[1:])  # each written once after the cut line
    assert read_journal(journal)[str(files[0])] == kept["rows"]


def test_without_ray_the_tool_says_what_to_install(archive, tiny_bundle, tmp_path):
    script = ("import sys; sys.modules['ray'] = None  # as where the optional extra is not installed\n"
              "from ran_desktop.cli.screen import main\n"
              f"sys.exit(main([{str(archive)!r}, '--out', {str(tmp_path / 'r.csv')!r}, '--model', "
              f"{str(tiny_bundle)!r}, '--cluster', 'auto', '--quiet']))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "--cluster needs Ray" in done.stderr and "ran-screening[cluster]" in done.stderr
    assert not (tmp_path / "r.csv").exists()
