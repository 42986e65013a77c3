"""Screening throughput on a local Ray cluster with N workers against one worker, on this machine's CPUs (issue 21:
N workers should give >= 0.8 x N x one worker's throughput, up to the cores there are).

    .venv/bin/python -m bench.ray_scaling [--images 96] [--workers 1 2] [--model models/ran18-real]

Each run screens the same photographs (the bundled sample with a byte appended, so each is another file) through
`engine.screening.cluster.screen_on_cluster`, one CPU and one torch thread per worker. Throughput is counted from
the first photograph returned to the last, so Ray's start and each worker's model load are left out (they are
reported beside it); the baseline is the one-worker run in the same process.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import REPO
from ran_desktop.engine.screening.cluster import ClusterPlan, screen_on_cluster


def measure(files: list[Path], model: Path, workers: int, scratch: Path) -> dict[str, float]:
    arrivals: list[tuple[float, int]] = []
    started = time.perf_counter()
    rows = screen_on_cluster(files, ClusterPlan(model, workers=workers, files_per_task=4),
                             scratch / f"run{workers}.journal.jsonl",
                             progress=lambda n: arrivals.append((time.perf_counter(), n)))
    total = time.perf_counter() - started
    assert len(rows) == len(files) and all(r["status"] == "screened" for r in rows)
    first, last = arrivals[0][0], arrivals[-1][0]
    counted = sum(n for _, n in arrivals[1:])  # photographs that arrived after the first batch
    return {"workers": workers, "images": len(files), "total_s": round(total, 2),
            "start_s": round(first - started, 2), "images_per_s": round(counted / (last - first), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "ran18-real")
    args = parser.parse_args()
    sample = REPO / "resources" / "samples" / "normal_fundus_OS.jpg"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "photos"
        folder.mkdir()
        files = []
        for i in range(args.images):
            path = folder / f"eye{i:04d}_OS.jpg"
            path.write_bytes(sample.read_bytes() + i.to_bytes(4, "little"))
            files.append(path)
        runs = [measure(files, args.model, n, Path(scratch)) for n in args.workers]
    one = next(r for r in runs if r["workers"] == 1)["images_per_s"]
    for run in runs:
        run["vs_one_worker"] = round(run["images_per_s"] / one, 2)
        run["target"] = round(0.8 * run["workers"], 2)
        run["met"] = run["vs_one_worker"] >= run["target"]
    print(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
