"""`ran-compare`: the paper's comparison. RAN and torchvision's VGG-16, ResNet-50, ResNeXt-50, DenseNet-121 and
EfficientNet-B0 are trained under one protocol on one split, each with cross entropy and with focal loss, and tested
on the same held-out images. Prints and writes (COMPARISON.md) the paper's table layout.

Small settings (e.g. --input-size 96 --epochs 3) run on a CPU; the defaults are the paper's, for a GPU.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from training.baselines import BASELINES
from training.train import TrainConfig, Trainer

NETWORKS = ("ran18", *BASELINES)
LOSSES = {"ce": 0.0, "focal": 2.0}


def compare(data: list[str], out: Path, *, networks: list[str], losses: list[str], **train_options: Any) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    split = out / "split.json"
    for network in networks:
        for loss in losses:
            run = out / f"{network}-{loss}"
            cfg = TrainConfig(data=data, out=run, variant=network, gamma=LOSSES[loss], cache_dir=out / "cache",
                              split_file=split if split.exists() else None, **train_options)
            if network in BASELINES:
                cfg.base_width = 64
            trainer = Trainer(cfg)
            if not split.exists():
                split.write_bytes((run / "split.json").read_bytes())  # every later network sees the same images
            summary = trainer.fit()
            rows.append({"network": network, "loss": loss, "test": summary.get("test", {}),
                         "parameters": sum(p.numel() for p in trainer.model.parameters())})
    (out / "comparison.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


def table(rows: list[dict]) -> str:
    def cell(metrics: dict, task: str, key: str) -> str:
        value = (metrics.get(task) or {}).get(key)
        return f"{value:.3f}" if isinstance(value, (int, float)) else "-"

    head = ("| network | loss | params | DR acc | DR spec | DR sens | DR AUC | DME acc | DME spec | DME sens | DME AUC "
            "| 5-class acc | kappa |\n|" + " --- |" * 13)
    lines = [head]
    for r in rows:
        t = r["test"]
        lines.append(
            f"| {r['network']} | {r['loss']} | {r['parameters'] / 1e6:.1f}M | "
            + " | ".join(cell(t, "any_dr", k) for k in ("accuracy", "specificity", "sensitivity", "auc")) + " | "
            + " | ".join(cell(t, "dme", k) for k in ("accuracy", "specificity", "sensitivity", "auc")) + " | "
            + f"{cell(t, 'dr', 'accuracy')} | {cell(t, 'dr', 'quadratic_kappa')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    d = TrainConfig(data=[], out=Path("."))
    p = argparse.ArgumentParser(prog="ran-compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", action="append", required=True, metavar="KIND:PATH")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--networks", default=",".join(NETWORKS), help=f"comma-separated, from {', '.join(NETWORKS)}")
    p.add_argument("--losses", default="ce,focal")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--input-size", type=int, default=d.input_size)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--base-width", type=int, default=d.base_width, help="RAN's width (baselines keep their own)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, help="data-loading processes (default: from the cores and the device)")
    p.add_argument("--device", default=None)
    p.add_argument("--max-batches-per-epoch", type=int)
    args = p.parse_args(argv)
    networks = [n.strip() for n in args.networks.split(",") if n.strip()]
    losses = [x.strip() for x in args.losses.split(",") if x.strip()]
    unknown = [n for n in networks if n not in NETWORKS] + [x for x in losses if x not in LOSSES]
    if unknown:
        p.error(f"unknown network or loss: {', '.join(unknown)}")
    options = dict(epochs=args.epochs, input_size=args.input_size, batch_size=args.batch_size, lr=args.lr,
                   base_width=args.base_width, seed=args.seed, workers=args.workers, device=args.device,
                   max_batches_per_epoch=args.max_batches_per_epoch)
    try:
        rows = compare(args.data, args.out, networks=networks, losses=losses, **options)
    except (ValueError, FileNotFoundError) as exc:
        print(f"ran-compare: {exc}", file=sys.stderr)
        return 2
    settings = ", ".join(f"{k}={v}" for k, v in options.items() if v is not None)
    text = f"# RAN against the paper's baselines\n\nData: {', '.join(args.data)}. Settings: {settings}.\n" \
           f"Test split, same images for every network. DR = any DR (grade >= 1); DME = grade >= 1.\n\n{table(rows)}\n"
    (args.out / "COMPARISON.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
