"""`ran-finetune`: a local bundle, fine-tuned from the bundle in use on the images this clinic's graders reviewed,
and compared with it on reviewed images that neither training nor any choice touched.

    ran-finetune --data-dir DIR --parent models/ran18-real [--epochs 8] [--json-progress]

The reviewed images (the grader's grades as labels; ungradable, unreviewed and changed files left out) are split by
patient: 70 % train the weights, 10 % choose the epoch and the referable threshold (sensitivity 0.90, as the parent's
was chosen), 20 % are held out. Parent and local bundle are then measured on the held-out images, each at its own
threshold; a local bundle that finds fewer referable eyes there, ranks them worse (lower AUC), or finds no more while
sending more healthy eyes on (lower specificity), is marked `worse_than_parent` in its manifest and the app never
offers it as the one to use. The bundle is written under `DIR/models/`, the parent is never changed, and the model
card names the clinic's data by counts only.

With `--json-progress` every step is one JSON line on stdout (the app's fine-tune window reads them).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.model.bundle_writer import write_manifest
from ran_desktop.engine.model.catalogue import UNFINISHED, local_models_dir
from ran_desktop.engine.records.data_folder import utc_now
from ran_desktop.engine.validation.finetune_policy import RUNS_FOLDER
from training.config import TrainConfig
from training.datasets import load_split
from training.datasets import session as session_data
from training.datasets.records import LoadedRecords
from training.evaluate import evaluate_records, predict_records
from training.export import export_run
from training.metrics import choose_threshold, referable_scores
from training.model_card import headline
from training.sources import load_sources
from training.train import Trainer

TARGET_SENSITIVITY = 0.90
FRACTIONS = (0.70, 0.10, 0.20)  # train, choose (epoch and threshold), held out for the comparison
Report = Callable[[dict[str, Any]], None]


def _quiet(_: dict[str, Any]) -> None:
    pass


def runs_dir(data_dir: Path) -> Path:
    return data_dir / RUNS_FOLDER


def finetune_local(data_dir: Path, parent: Path, *, epochs: int = 8, lr: float = 1e-4, batch_size: int = 8,
                   workers: int | None = None, max_batches_per_epoch: int | None = None,
                   min_images: int | None = None, report: Report = _quiet) -> dict[str, Any]:
    """Fine-tune, export, compare; returns what the manifest's `metrics["local"]` holds, with the bundle's folder."""
    data_dir, parent = Path(data_dir).resolve(), Path(parent).resolve()
    report({"stage": "checking", "text": "Reading the reviewed images"})
    parent_loaded = load_bundle(parent, device="cpu")
    pm = parent_loaded.manifest
    reviewed = session_data.load(data_dir, min_images=min_images)  # refuses too few, with the reason
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    # A run's folder holds decoded copies of the photographs and their file names: it lives only as long as the run
    # (an earlier run that was cancelled or failed is cleared first), and only the bundle stays.
    shutil.rmtree(runs_dir(data_dir), ignore_errors=True)
    name, version = f"{pm.name}-local", f"{pm.version}+{stamp}"
    final = local_models_dir(data_dir) / f"{name}-{version.replace('+', '-')}"
    work = final.with_name(final.name + UNFINISHED)  # listed by nobody until it is renamed, complete
    try:
        run = runs_dir(data_dir) / stamp
        # The reviewed set, checked once, frozen for the run: training, the threshold and the comparison read it.
        data = _write_reviewed(run / "reviewed", reviewed)
        kwargs = dict(pm.architecture.get("kwargs", {}))
        cfg = TrainConfig(
            data=[f"csv:{data}"], out=run, variant=pm.architecture["variant"],
            base_width=int(kwargs.get("base_width", 64)), dropout=float(kwargs.get("dropout", 0.2)),
            input_size=pm.input_size, epochs=epochs, batch_size=batch_size, lr=lr, finetune=parent,
            fractions=FRACTIONS, workers=workers, max_batches_per_epoch=max_batches_per_epoch, resume=False,
            select="auc",
        )
        report({"stage": "preparing", "text": f"Preparing {len(reviewed)} reviewed images",
                "images": len(reviewed)})
        trainer = Trainer(cfg)
        trainer.on_batch = lambda epoch, batch, batches: report(
            {"stage": "training", "epoch": epoch + 1, "epochs": epochs, "batch": batch, "batches": batches})
        trainer.fit()

        report({"stage": "exporting", "text": "Writing the local bundle"})
        export_run(run, work, name=name, version=version, workers=cfg.workers or 0)
        records, _ = load_sources(cfg.data)
        splits = load_split(run / "split.json", records)
        local = load_bundle(work, device="cpu")

        report({"stage": "comparing", "text": "Choosing the threshold and comparing with the parent"})
        operating = _choose_threshold(local, list(splits["val"]), run)
        write_manifest(work, replace(local.manifest, operating_point=operating))
        local = load_bundle(work, device="cpu")
        held_out = list(splits["test"])
        after = headline(evaluate_records(local, held_out, run / "held-out-local", cache_dir=run / "cache",
                                          workers=cfg.workers or 0))
        before = headline(evaluate_records(parent_loaded, held_out, run / "held-out-parent",
                                           cache_dir=run / "cache", workers=cfg.workers or 0))
        comparison = {
            "parent": {"name": pm.name, "version": pm.version, "sha256": pm.weights["sha256"], "title": pm.title},
            "clinic_images": {name: len(split) for name, split in splits.items()},
            "held_out": {"parent": before, "local": after},
            "worse_than_parent": worse_than_parent(before, after),
            "made": utc_now(),
        }
        # What trained it, honestly: the parent's data (and its required credits) first, then this clinic's images.
        # A parent not validated for clinical use makes a child that is not either.
        training_data = {**pm.training_data, "real": True,
                         "description": f"{pm.training_data['description']}; then fine-tuned on {len(reviewed)} "
                                        "images graded at this clinic",
                         "datasets": [*pm.training_data.get("datasets", []), "this clinic's reviewed images"]}
        metrics = {**local.manifest.metrics, "test": after, "local": comparison}
        manifest = write_manifest(work, replace(local.manifest, metrics=metrics, training_data=training_data,
                                                intended_use=pm.intended_use))
        (work / "MODEL_CARD.md").write_text(local_card(manifest, comparison, operating), encoding="utf-8")
        load_bundle(work, device="cpu")  # the finished bundle must load
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    finally:
        shutil.rmtree(runs_dir(data_dir), ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)  # an unfinished bundle (the finished one was renamed away)
    result = {**comparison, "bundle": str(final), "title": manifest.title}
    report({"stage": "done", "result": result})
    return result


def _write_reviewed(folder: Path, reviewed: LoadedRecords) -> Path:
    """The reviewed images as a labels.csv (absolute paths, the hashed patient key), and a real.json naming them as
    this clinic's own, by kind only."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["image", "dr", "dme", "patient", "eye"])
        for r in reviewed:
            writer.writerow([str(r.image), r.dr, r.dme, r.patient, r.eye.value])
    (folder / "real.json").write_text(json.dumps({
        "dataset": "images reviewed at this clinic", "licence": "the clinic's own; they never left this workstation",
    }), encoding="utf-8")
    return folder


def _choose_threshold(loaded, records: list, run: Path) -> dict[str, Any]:
    """The referable threshold chosen on the split that chose the epoch (never on the held-out images)."""
    preds, _, _ = predict_records(loaded, records, run / "threshold-work", cache_dir=run / "cache")
    truth = (preds.dr_true >= 2) | (preds.dme_true >= 1)
    scores = referable_scores(preds.dr_probs, preds.dme_probs)
    threshold = choose_threshold(truth, scores, TARGET_SENSITIVITY) if truth.any() else 0.5
    flagged = scores >= threshold
    return {
        "referable_threshold": round(float(threshold), 6),
        "target_sensitivity": TARGET_SENSITIVITY,
        "chosen_on": f"{len(truth)} reviewed images of this clinic that trained no weights (the validation split)",
        "on_that_data": {"n": int(len(truth)), "positives": int(truth.sum()),
                         "sensitivity": float(flagged[truth].mean()) if truth.any() else None,
                         "specificity": float((~flagged[~truth]).mean()) if (~truth).any() else None},
    }


def worse_than_parent(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Worse when, on the held-out reviewed images, it finds fewer referable eyes, ranks them worse (lower AUC), or
    finds no more of them while sending more healthy eyes on (lower specificity)."""
    b, a = before.get("referable", {}), after.get("referable", {})

    def compared(key: str) -> float | None:  # this bundle's value minus the parent's; None where either is unknown
        x, y = b.get(key), a.get(key)
        if x is None or y is None or math.isnan(x) or math.isnan(y):
            return None
        return float(y - x)

    sensitivity, specificity, auc = compared("sensitivity"), compared("specificity"), compared("auc")
    fewer_found = sensitivity is not None and sensitivity < -1e-9
    ranked_worse = auc is not None and auc < -1e-9
    more_referred = (specificity is not None and specificity < -1e-9
                     and (sensitivity is None or sensitivity <= 1e-9))
    return fewer_found or ranked_worse or more_referred


def local_card(manifest, comparison: dict[str, Any], operating: dict[str, Any]) -> str:
    """MODEL_CARD.md of a local bundle: what it is for, what trained it, and how it compares with its parent."""
    parent = comparison["parent"]
    counts = comparison["clinic_images"]
    rows = []
    for label, task, key in (("referable sensitivity", "referable", "sensitivity"),
                             ("referable specificity", "referable", "specificity"),
                             ("referable AUC", "referable", "auc"), ("DR quadratic kappa", "dr", "quadratic_kappa")):
        b = comparison["held_out"]["parent"].get(task, {}).get(key)
        a = comparison["held_out"]["local"].get(task, {}).get(key)
        rows.append(f"| {label} | {_num(b)} | {_num(a)} |")
    verdict = ("**Worse than its parent on the held-out reviewed images: the app does not offer it as the model to "
               "use.**" if comparison["worse_than_parent"] else
               "Not worse than its parent on the held-out reviewed images.")
    credits = "".join(f"\n- {c}" for c in manifest.training_data.get("credits", []))
    credit = f"\n\nCredit (required by the data's licence):{credits}" if credits else ""
    return f"""# Model card: {manifest.title}

## Intended use

{manifest.intended_use}

## What made it

Fine-tuned on this workstation from **{parent['title']}** (weights sha256 {parent['sha256'][:16]}...; its own model
card describes its training) on images this clinic's graders reviewed, their grades as the labels, split by
patient: {counts.get('train', 0)} to train, {counts.get('val', 0)} to choose the epoch and the referable threshold
({operating['referable_threshold']:.4f}, for sensitivity {operating['target_sensitivity']:.2f}), {counts.get('test', 0)}
held out. No patient identifier, file name or image is in this bundle; nothing left the workstation.

Training data: {manifest.training_data['description']}.{credit}

## Against its parent

On the {counts.get('test', 0)} held-out reviewed images, each model at its own threshold:

| measure | parent | this bundle |
| --- | --- | --- |
{chr(10).join(rows)}

{verdict} These are one clinic's images and graders, a few hundred at most: the intervals are wide.
{'' if not manifest.synthetic else 'Its parent was trained on synthetic images: neither is validated for clinical use.'}
"""


def _num(value: Any) -> str:
    return "—" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ran-finetune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="the app's data folder (its session database)")
    parser.add_argument("--parent", type=Path, required=True, help="the bundle to start from (the one in use)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--max-batches-per-epoch", type=int, default=None, help="for quick looks and tests")
    parser.add_argument("--min-images", type=int, default=None, help=argparse.SUPPRESS)  # tests' tiny sets
    parser.add_argument("--json-progress", action="store_true", help="one JSON line per step on stdout")
    args = parser.parse_args(argv)

    # Cancel (the app ends the process with SIGTERM) unwinds like an error, so the run's folder is cleared.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def report(event: dict[str, Any]) -> None:
        if args.json_progress:
            print(json.dumps(event), flush=True)
        elif "text" in event:
            print(event["text"], file=sys.stderr, flush=True)

    try:
        result = finetune_local(args.data_dir, args.parent, epochs=args.epochs, lr=args.lr,
                                batch_size=args.batch_size, workers=args.workers,
                                max_batches_per_epoch=args.max_batches_per_epoch, min_images=args.min_images,
                                report=report)
    except ValueError as exc:  # too few reviewed images, a bundle that does not fit: said in words
        report({"stage": "failed", "text": str(exc)})
        print(f"ran-finetune: {exc}", file=sys.stderr)
        return 2
    if not args.json_progress:
        print(f"Local bundle: {result['bundle']}" + (" (WORSE than its parent on the held-out reviewed images)"
                                                     if result["worse_than_parent"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
