"""Training's data loaders with augmentation on the device (issue 21: training on a GPU was bound by its loaders):
the CPU time of one training sample as a loader makes it, with augmentation, CLAHE and standardisation in the loader
(the CPU default) and with them left to the device (FundusDataset's on_device, the GPU default), alternated; and the
device's share of the work, here the CPU standing in for it, per sample at batch 8.

    .venv/bin/python -m bench.loader_cost [--samples 64] [--size 320]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.training_loop import write_dataset
from ran_desktop.engine.imaging.preprocess import PreprocessSettings
from training.augment_on_device import model_inputs
from training.data import AugmentSettings, FundusDataset, SquareCache
from training.sources import load_sources


def seconds_per_sample(dataset: FundusDataset, count: int, epoch: int) -> float:
    started = time.thread_time()
    for i in range(count):
        dataset[(epoch, i % len(dataset))]
    return (time.thread_time() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = PreprocessSettings(input_size=args.size)
    with tempfile.TemporaryDirectory() as scratch:
        folder = write_dataset(Path(scratch) / "data", 32, size=2 * args.size)
        records, _ = load_sources([f"csv:{folder}"])
        cache = SquareCache(records, settings, Path(scratch) / "cache", workers=1)
        in_loader = FundusDataset(cache, augmentation=AugmentSettings(), seed=1)
        left = FundusDataset(cache, augmentation=AugmentSettings(), seed=1, on_device=True)
        times: dict[str, list[float]] = {"in the loader": [], "left to the device": []}
        for epoch in range(args.rounds):
            times["in the loader"].append(seconds_per_sample(in_loader, args.samples, epoch))
            times["left to the device"].append(seconds_per_sample(left, args.samples, epoch))
        items = [left[(0, i)] for i in range(8)]
        batch = torch.stack([item[0] for item in items])
        choices = torch.stack([item[-1] for item in items])
        model_inputs(batch, choices, settings, 4.0, torch.Generator().manual_seed(0))  # warm-up: colour tables
        started = time.perf_counter()
        for _ in range(args.rounds):
            model_inputs(batch, choices, settings, 4.0, torch.Generator().manual_seed(0))
        device_ms = (time.perf_counter() - started) * 1000 / (args.rounds * len(items))
    loader = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(json.dumps({**{f"loader CPU ms per sample, {name}": round(ms, 2) for name, ms in loader.items()},
                      "loader work ratio": round(loader["in the loader"] / loader["left to the device"], 1),
                      "device ms per sample (this CPU standing in, batch 8)": round(device_ms, 2)}, indent=1))


if __name__ == "__main__":
    main()
