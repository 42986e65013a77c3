"""Preparation alone (decode, field of view, quality gate, preprocessing) in threads against worker processes, the
same files and the same function (`engine.screening.preparation`), on this machine's cores.

    .venv/bin/python -m bench.preparation [--images 48] [--workers 1 2]

On a GPU workstation preparation is what limits end-to-end screening (issue 21): threads stop scaling after a few
because the Python between the library calls holds the interpreter's lock; processes do not share it. This shows
the two side by side where they can be measured (here, the CPU's cores); the baseline is one thread in the same
process. Photographs: generated at 2,848 px across (a full-size camera's), JPEG.

`--on-device` instead measures one thread preparing with the quality gate's detail, CLAHE and
standardisation left to the GPU (what the screener does on CUDA: quality_on_device.py, finish_on_device.py), against
one thread doing it all, alternated: the CPU time a GPU workstation's preparation saves per photograph.

`--decode-on-device cuda` measures preparation threads decoding the JPEGs with nvJPEG on that device
(loading.jpeg_on_device) against the same threads decoding with Pillow, alternated, for each `--workers` count:
whether the GPU's decoder pays on this machine (`cpu` runs the same path with torchvision's CPU decoder).

`--transport` measures worker processes sending their arrays back through shared memory (shared_arrays.py, the
default) against pickling them through the result pipe, alternated: the screener's process's CPU per photograph
(what a GPU workstation's inference thread competes with for the interpreter's lock) and photographs a second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2

from bench.common import REPO
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.screening.preparation import PreparationPool
from ran_desktop.engine.screening.screener import Screener
from training.synthetic import generate_fundus


def images_per_second(files: list[Path], plan, workers: int, processes: bool, shared_memory: bool = True) -> float:
    return timed(files, plan, workers, processes, shared_memory)[0]


def timed(files: list[Path], plan, workers: int, processes: bool, shared_memory: bool = True) -> tuple[float, float]:
    """(photographs a second, this process's CPU ms per photograph) with the pool started and warm."""
    pool = PreparationPool(plan, workers, processes, shared_memory=shared_memory)
    try:
        # Started before the clock: several files at once, so every worker process is spawned (a pool spawns one
        # only when none is idle) and has imported what it needs.
        for future in [pool.submit(files[i % len(files)]) for i in range(workers * 2)]:
            future.result()
        started, cpu = time.perf_counter(), time.process_time()
        futures = [(path, pool.submit(path)) for path in files]
        for path, future in futures:
            pool.result(future, path, lambda broken: None)
        return len(files) / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / len(files)
    finally:
        pool.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "ran18-real")
    parser.add_argument("--on-device", action="store_true")
    parser.add_argument("--decode-on-device", metavar="DEVICE")
    parser.add_argument("--transport", action="store_true")
    args = parser.parse_args()
    plan = Screener(load_bundle(args.model, device="cpu"))._plan
    with tempfile.TemporaryDirectory() as scratch:
        files = []
        for i in range(min(args.images, 12)):  # twelve different photographs, repeated
            sample = generate_fundus(900 + i, dr=i % 5, size=2848)
            path = Path(scratch) / f"photo{i:02d}.jpg"
            cv2.imwrite(str(path), cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
            files.append(path)
        files = [files[i % len(files)] for i in range(args.images)]
        if args.on_device:
            print(json.dumps(detail_saving(files, plan), indent=1))
            return
        if args.transport:
            print(json.dumps(transport_cost(files, plan, max(args.workers)), indent=1))
            return
        if args.decode_on_device:
            print(json.dumps(decode_saving(files, plan, args.decode_on_device, args.workers), indent=1))
            return
        base = images_per_second(files, plan, 1, processes=False)
        rows = []
        for workers in args.workers:
            for processes in (False, True):
                rate = images_per_second(files, plan, workers, processes)
                rows.append({"workers": workers, "kind": "processes" if processes else "threads",
                             "images_per_s": round(rate, 2), "vs_one_thread": round(rate / base, 2)})
    print(json.dumps(rows, indent=1))


def detail_saving(files: list[Path], plan, rounds: int = 3) -> dict:
    """One thread, the gate's detail in it or left to the device, alternated round by round."""
    later = replace(plan, on_device=True)
    rates: dict[str, list[float]] = {"all on the CPU": [], "left to the device": []}
    for _ in range(rounds):
        rates["all on the CPU"].append(images_per_second(files, plan, 1, processes=False))
        rates["left to the device"].append(images_per_second(files, later, 1, processes=False))
    median = {name: statistics.median(values) for name, values in rates.items()}
    cpu, device = median["all on the CPU"], median["left to the device"]
    return {**{f"{name} (img/s)": round(rate, 2) for name, rate in median.items()},
            "CPU ms per photograph saved": round(1000 / cpu - 1000 / device, 1), "ratio": round(device / cpu, 2)}


def transport_cost(files: list[Path], plan, workers: int, rounds: int = 3) -> dict:
    """Worker processes' arrays through shared memory or pickled through the pipe, alternated round by round."""
    found: dict[str, list[tuple[float, float]]] = {"pickled through the pipe": [], "shared memory": []}
    for _ in range(rounds):
        for name, shared in (("pickled through the pipe", False), ("shared memory", True)):
            found[name].append(timed(files, plan, workers, processes=True, shared_memory=shared))
    out: dict[str, float] = {"workers": workers}
    for name, runs in found.items():
        out[f"{name}: img/s"] = round(statistics.median(r[0] for r in runs), 2)
        out[f"{name}: screener CPU ms per photograph"] = round(statistics.median(r[1] for r in runs), 2)
    pickled, shared = (out[f"{n}: screener CPU ms per photograph"] for n in found)
    out["screener CPU, shared / pickled"] = round(shared / pickled, 2)
    return out


def decode_saving(files: list[Path], plan, device: str, workers: list[int], rounds: int = 3) -> list[dict]:
    """Threads decoding with Pillow, or with torchvision on `device`, alternated round by round."""
    on_device = replace(plan, jpeg_device=device)
    rows = []
    for count in workers:
        pillow, device_rates = [], []
        for _ in range(rounds):
            pillow.append(images_per_second(files, plan, count, processes=False))
            device_rates.append(images_per_second(files, on_device, count, processes=False))
        cpu, gpu = statistics.median(pillow), statistics.median(device_rates)
        rows.append({"threads": count, "Pillow (img/s)": round(cpu, 2), f"decoded on {device} (img/s)": round(gpu, 2),
                     "ratio": round(gpu / cpu, 2)})
    return rows


if __name__ == "__main__":
    main()
