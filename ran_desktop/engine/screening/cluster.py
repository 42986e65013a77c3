"""Screening an archive on a Ray cluster (Ray Data batch inference): one model copy per worker, results streamed
back to the machine that started the run, resumable.

Every finished file's rows are appended to a journal beside the results file as they arrive (one JSON line each,
flushed), so a run that is stopped, or whose machine goes down, starts again where it was: files already in the
journal are not screened again. A worker that dies mid-batch has its files screened again by another (Ray restarts
the actor and retries the batch); the journal keeps the first rows of a file and drops any later copy, so nothing
is written twice. The results file is written once, atomically, in the order the files were found.

Ray is an optional dependency (`pip install "ran-screening[cluster]"`); this module is only loaded for `--cluster`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
import ray.data
import torch

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.results import result_row
from ran_desktop.engine.screening.overlays import write_overlay
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions

LOCAL = "auto"  # `--cluster auto`: start Ray on this machine; anything else is a cluster's address
JOURNAL_SUFFIX = ".journal.jsonl"


@dataclass(frozen=True)
class ClusterPlan:
    model_folder: Path
    workers: int = 0  # model copies (Ray actors); 0: one per GPU on CUDA, else one per `cpus_per_worker` CPUs
    cpus_per_worker: int = 1  # torch threads per copy on the CPU
    device: str | None = None  # as --device: None/"auto", "cpu", "cuda"
    batch_size: int = 8  # images per forward pass
    files_per_task: int = 16  # files sent to a worker at once (a killed worker's files are retried as a unit)
    heatmaps: Path | None = None  # a folder every worker can write (shared storage on a real cluster)
    runtime: str | None = None  # as --runtime: None (RAN_RUNTIME, else PyTorch), "torch", "onnx"


def journal_for(out: Path) -> Path:
    return out.with_name(out.name + JOURNAL_SUFFIX)


def read_journal(journal: Path) -> dict[str, list[dict[str, Any]]]:
    """Rows already finished, by file. A last line cut short (the run stopped while writing it) is ignored: that
    file is screened again."""
    done: dict[str, list[dict[str, Any]]] = {}
    if not journal.exists():
        return done
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        done.setdefault(entry["file"], entry["rows"])
    return done


class ScreenWorker:
    """One Ray actor: loads the bundle once, then screens the files of each batch it is given."""

    def __init__(self, model_folder: str, device: str | None, threads: int, batch_size: int,
                 heatmaps: str | None, runtime: str | None = None):
        torch.set_num_threads(threads)  # the worker's share of the machine, not every core each
        self.loaded = load_bundle(Path(model_folder), device=device, runtime=runtime)
        self.screener = Screener(self.loaded, ScreeningOptions(batch_size=batch_size, workers=threads,
                                                               heatmaps=heatmaps is not None))
        self.heatmaps = Path(heatmaps) if heatmaps else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        by_file: dict[str, list[dict[str, Any]]] = {str(p): [] for p in batch["path"]}
        for result in self.screener.screen_files([Path(p) for p in batch["path"]]):
            if self.heatmaps is not None:
                write_overlay(result, self.heatmaps)
            by_file[str(result.path)].append(result_row(result))
        return {"file": list(by_file), "rows": [json.dumps(rows) for rows in by_file.values()]}


def screen_on_cluster(files: Sequence[Path], plan: ClusterPlan, journal: Path, address: str = LOCAL,
                      progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Every file's result rows (CSV columns), in the order of `files`, screened on the cluster at `address` (LOCAL:
    a Ray started here for this run). Files already in `journal` are not screened again."""
    done = read_journal(journal)
    if progress is not None and done:
        progress(sum(str(f) in done for f in files))
    todo = [str(f) for f in files if str(f) not in done]
    if todo:
        _run(todo, plan, journal, done, address, progress)
    return [row for f in files for row in done.get(str(f), [])]


def _run(todo: list[str], plan: ClusterPlan, journal: Path, done: dict[str, list[dict[str, Any]]], address: str,
         progress: Callable[[int], None] | None) -> None:
    cuda = plan.device is not None and plan.device.startswith("cuda")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # Ray's own chatter stays out of the tool's stderr
    logging.getLogger("ray").setLevel(logging.WARNING)
    ray.init(address=None if address == LOCAL else address, include_dashboard=False, log_to_driver=False,
             configure_logging=False, ignore_reinit_error=True)
    try:
        workers = plan.workers or max(1, int(ray.cluster_resources().get("GPU" if cuda else "CPU", 1))
                                      // (1 if cuda else plan.cpus_per_worker))
        ray.data.DataContext.get_current().enable_progress_bars = False
        # Enough blocks that every worker has work and a killed one loses little: files_per_task files at most.
        blocks = min(len(todo), max(2 * workers, -(-len(todo) // plan.files_per_task)))
        items = ray.data.from_items([{"path": p} for p in todo], override_num_blocks=blocks)
        screened = items.map_batches(
            ScreenWorker,
            fn_constructor_kwargs={"model_folder": str(plan.model_folder), "device": plan.device,
                                   "threads": plan.cpus_per_worker, "batch_size": plan.batch_size,
                                   "heatmaps": str(plan.heatmaps) if plan.heatmaps else None,
                                   "runtime": plan.runtime},
            batch_size=plan.files_per_task, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=plan.cpus_per_worker, num_gpus=1 if cuda else 0,
        )  # Ray Data restarts a killed worker and gives its batch again (the test kills one)
        cut = journal.exists() and journal.stat().st_size > 0 and not journal.read_bytes().endswith(b"\n")
        with journal.open("a", encoding="utf-8") as fh:
            if cut:
                fh.write("\n")  # the stopped run's last line was cut short: new lines start on their own
            for batch in screened.iter_batches(batch_size=None, batch_format="numpy"):
                fresh = 0
                for file, rows in zip(batch["file"], batch["rows"], strict=True):
                    if str(file) in done:
                        continue  # a retried batch's second copy
                    done[str(file)] = json.loads(str(rows))
                    fh.write(json.dumps({"file": str(file), "rows": done[str(file)]}) + "\n")
                    fresh += 1
                fh.flush()
                os.fsync(fh.fileno())
                if progress is not None and fresh:
                    progress(fresh)
    finally:
        ray.shutdown()
