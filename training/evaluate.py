"""`ran-evaluate`: a model bundle's screening metrics on any data set (or one split of it), with ROC curves and
confusion matrices as PNG. It loads the bundle exactly as the app does (hash check, manifest preprocessing)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.bundle import LoadedModel, load_bundle
from training.data import FundusDataset, SquareCache
from training.datasets import Record, load_split
from training.metrics import roc_points, screening_metrics
from training.plots import write_plots
from training.predict import Predictions, predict
from training.sources import load_sources


def predict_records(
    loaded: LoadedModel, records: Sequence[Record], out: Path, *, cache_dir: Path | None = None, workers: int = 2,
    batch_size: int = 16, flip_average: bool | None = None,
) -> tuple[Predictions, int, int]:
    """The bundle's probabilities for `records`, prepared exactly as training and the app prepare them (flip-averaged
    where the bundle says so, or `flip_average` overrides), with how many images were read and how many could not
    be."""
    out.mkdir(parents=True, exist_ok=True)
    cache = SquareCache(records, loaded.preprocess_settings, cache_dir or out / "cache", workers)
    dataset = FundusDataset(cache)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    model = loaded.network.to(memory_format=torch.channels_last)
    with loaded.lock:
        flip = loaded.manifest.flip_average if flip_average is None else flip_average
        preds = predict(model, loader, loaded.device.device, flip_average=flip)
    return preds, len(dataset), len(cache.failed)


def evaluate_records(
    loaded: LoadedModel, records: Sequence[Record], out: Path, *, cache_dir: Path | None = None, workers: int = 2,
    batch_size: int = 16,
) -> dict[str, Any]:
    preds, images, unreadable = predict_records(loaded, records, out, cache_dir=cache_dir, workers=workers,
                                                batch_size=batch_size)
    metrics = screening_metrics(preds.dr_true, preds.dme_true, preds.dr_probs, preds.dme_probs,
                                loaded.manifest.referable_threshold)
    metrics["images"] = images
    metrics["unreadable"] = unreadable
    metrics["model"] = loaded.manifest.title
    curves = roc_points(preds.dr_true, preds.dme_true, preds.dr_probs, preds.dme_probs)
    metrics["plots"] = [p.name for p in write_plots(metrics, curves, out)]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def format_table(metrics: dict[str, Any]) -> str:
    """The paper's table layout: accuracy, specificity, sensitivity, AUC per task; kappa for 5-class DR."""
    lines = [f"{'task':<16}{'n':>7}{'acc':>8}{'spec':>8}{'sens':>8}{'AUC':>8}"]
    def fmt(v: object) -> str:
        return f"{v:8.3f}" if isinstance(v, (int, float)) else f"{'-':>8}"
    for task in ("any_dr", "referable_dr", "dme", "referable"):
        m = metrics.get(task)
        if m:
            lines.append(f"{task:<16}{m['n']:>7}{fmt(m['accuracy'])}{fmt(m['specificity'])}{fmt(m['sensitivity'])}"
                         f"{fmt(m['auc'])}")
    if "dr" in metrics:
        lines.append(f"{'DR 5-class':<16}{metrics['dr']['n']:>7}{fmt(metrics['dr']['accuracy'])}"
                     f"   kappa {metrics['dr']['quadratic_kappa']:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="ran-evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="model bundle folder")
    p.add_argument("--data", action="append", required=True, metavar="KIND:PATH")
    p.add_argument("--split-file", type=Path, help="a run's split.json: evaluate one split of it")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", type=Path, required=True, help="folder for metrics.json and the plots")
    p.add_argument("--device", default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache-dir", type=Path)
    args = p.parse_args(argv)
    try:
        loaded = load_bundle(args.model, device=args.device)
        records, _ = load_sources(args.data)
        if args.split_file:
            records = list(load_split(args.split_file, records)[args.split])
        metrics = evaluate_records(loaded, records, args.out, cache_dir=args.cache_dir, workers=args.workers)
    except (BundleError, ValueError, FileNotFoundError) as exc:
        print(f"ran-evaluate: {exc}", file=sys.stderr)
        return 2
    print(f"{loaded.manifest.title} on {metrics['images']} images ({metrics['unreadable']} unreadable)")
    print(format_table(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
