"""CPU inference through ONNX Runtime against PyTorch, at the screener's batch size, on the shipped bundle's
inference graph (issue 22: >= 1.0x PyTorch's throughput on this 2-core machine).

    .venv/bin/python -m bench.onnx_runtime [--model models/ran18-real] [--batch 8] [--rounds 5]

Both runtimes run the same preprocessed batches (the sample photograph with noise, as bench.model_only makes them)
through `runtime.run` (logits and the heat maps' map), alternated round by round in this process; PyTorch is the
baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.common import REPO
from bench.model_only import preprocessed_batch
from ran_desktop.engine.model.bundle import load_bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "ran18-real")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch_loaded = load_bundle(args.model, device="cpu", runtime="torch")
    onnx_loaded = load_bundle(args.model, device="cpu", runtime="onnx")
    batch = preprocessed_batch(torch_loaded, args.batch, seed=3).numpy()
    runners = {"torch": torch_loaded.runner, "onnx": onnx_loaded.runner}
    for runner in runners.values():
        runner.run(batch)  # warm-up: first-call allocations, kernel choices
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, runner in runners.items():
            started = time.perf_counter()
            runner.run(batch)
            seconds[name].append(time.perf_counter() - started)
    rate = {name: args.batch / statistics.median(times) for name, times in seconds.items()}
    print(json.dumps({"batch": args.batch, "torch_img_per_s": round(rate["torch"], 2),
                      "onnx_img_per_s": round(rate["onnx"], 2), "onnx_vs_torch": round(rate["onnx"] / rate["torch"], 2),
                      "target": 1.0, "met": rate["onnx"] >= rate["torch"]}, indent=1))


if __name__ == "__main__":
    main()
