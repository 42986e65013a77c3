"""`ran-export`: turn a training run's best weights into the engine's bundle (fp16 safetensors + manifest) with a
MODEL_CARD.md whose metrics are measured on the run's test split through the exported bundle itself."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.imaging.preprocess import PreprocessSettings
from ran_desktop.engine.model import build_ran
from ran_desktop.engine.model.bundle import load_bundle, read_manifest, verify_weights
from ran_desktop.engine.model.bundle_writer import save_bundle, write_manifest
from training import inference_graph
from training.config import architecture_kwargs
from training.datasets import load_split
from training.evaluate import evaluate_records, format_table, predict_records
from training.lesion_eval import evaluate_lesions
from training.metrics import choose_threshold, referable_scores
from training.model_card import headline, intended_use, model_card
from training.sources import credits, describe, has_real, is_synthetic, load_sources, provenance


def export_run(run: Path, out: Path, *, name: str, version: str, workers: int = 2, heldout: list[str] | None = None,
               heldout_cache: Path | None = None, calibrate: list[str] | None = None,
               target_sensitivity: float = 0.90, real_validation: list[str] | None = None,
               probe: Path | None = None, lesion_validation: Path | None = None,
               flip_average: bool = False) -> dict[str, Any]:
    """Export `run` into `out`. `heldout` data sets (KIND:PATH) are evaluated through the bundle too: their metrics
    go into the manifest (`metrics["heldout"]`) and the model card beside the test split's.

    `calibrate`: data sets (kept out of training) on which the operating point is chosen: the highest threshold on
    the probability of referable disease that keeps `target_sensitivity`; it goes into the manifest and every
    later measurement uses it, as the app does. `real_validation`: real photographs no training or choosing step
    touched, measured through the bundle (`metrics["real_validation"]`). `probe`: the shortcut probe's result
    (training/real/probe.py), reported in the model card. `lesion_validation`: IDRiD's segmentation folder, on whose
    testing photographs the lesion head's pixel AUPR is measured (`metrics["lesions"]`, training/lesion_eval.py).
    `flip_average`: the operating point is chosen on probabilities averaged over each photograph and its mirror
    image, and the bundle tells the app to compute them so (needs `calibrate`)."""
    if flip_average and not calibrate:
        raise ValueError("--flip-average belongs to an operating point: give --calibrate too")
    config = json.loads((run / "config.json").read_text())
    summary = _summary(run, config)
    kwargs = architecture_kwargs(config)
    model = build_ran(config["variant"], **kwargs)
    model.load_state_dict(load_file(str(run / "best.safetensors")))
    sources = [provenance(s) for s in summary["sources"]]
    synthetic = is_synthetic(sources)
    if out.exists():
        shutil.rmtree(out)
    training_data = {"description": describe(sources), "synthetic": synthetic, "real": has_real(sources),
                     "datasets": [s["kind"] for s in sources]}
    if credits(sources):
        training_data["credits"] = credits(sources)
    save_bundle(
        model, out, name=name, version=version, variant=config["variant"], architecture_kwargs=kwargs,
        preprocessing=PreprocessSettings(input_size=config["input_size"]),
        training_data=training_data,
        trained=True, metrics={}, intended_use=intended_use(sources),
    )
    # Measure the exported (fp16) bundle, not the training weights: these are the numbers users will get.
    loaded = load_bundle(out, device="cpu")
    operating = None
    if calibrate:
        operating = choose_operating_point(loaded, calibrate, target_sensitivity, out, workers, flip_average)
        write_manifest(out, replace(loaded.manifest, operating_point=operating))
        loaded = load_bundle(out, device="cpu")
    records, _ = load_sources(config["data"])
    test = list(load_split(run / "split.json", records)["test"])
    metrics = evaluate_records(loaded, test, out / "evaluation", cache_dir=run / "cache", workers=workers)
    for png in metrics["plots"]:
        shutil.move(str(out / "evaluation" / png), out / png)
    shutil.rmtree(out / "evaluation")
    card_metrics = {"test": headline(metrics), "validation": headline(summary.get("validation", {})),
                    "split_sizes": summary["split_sizes"], "best_epoch": summary["best_epoch"]}
    held = _evaluate_heldout(loaded, heldout, out, heldout_cache, workers) if heldout else None
    if held:
        card_metrics["heldout"] = {"data": held["data"], **headline(held["metrics"])}
    real = _evaluate_heldout(loaded, real_validation, out, None, workers, prefix="real_") if real_validation else None
    if real:
        card_metrics["real_validation"] = {"data": real["data"], **headline(real["metrics"]),
                                           "dr_confusion": real["metrics"]["dr"]["confusion"],
                                           "dme_confusion": real["metrics"]["dme_grade"]["confusion"]}
    probe_result = json.loads(probe.read_text()) if probe else None
    if probe_result:
        card_metrics["shortcut_probe"] = {k: probe_result[k] for k in ("auc", "n_train", "n_test", "verdict")}
    lesions = None
    if lesion_validation is not None and loaded.network.lesion_head is not None:
        lesions = evaluate_lesions(loaded, lesion_validation, "test", log=lambda *_: None)
        card_metrics["lesions"] = lesions
    # Rewrite the manifest with the metrics: its weights (and so their hash) do not change.
    manifest = write_manifest(out, replace(loaded.manifest, metrics=card_metrics))
    (out / "MODEL_CARD.md").write_text(
        model_card(manifest.title, config, sources, synthetic, metrics, summary, held, operating, real, probe_result,
                   lesions),
        encoding="utf-8")
    load_bundle(out, device="cpu")  # the finished bundle must load
    return metrics


def _evaluate_heldout(loaded, data: list[str], out: Path, cache: Path | None, workers: int,
                      prefix: str = "heldout_") -> dict[str, Any]:
    """Every image of `data` (no split: the whole set was kept out of training), with its plots named prefix*."""
    records, sources = load_sources(data)
    work = out / f"{prefix}work"
    metrics = evaluate_records(loaded, records, work, cache_dir=cache, workers=workers)
    for png in metrics["plots"]:
        shutil.move(str(work / png), out / f"{prefix}{png}")
    shutil.rmtree(work)
    described = [_describe_heldout(spec, source) for spec, source in zip(data, sources, strict=True)]
    return {"data": described, "metrics": metrics}


def choose_operating_point(loaded, data: list[str], target: float, out: Path, workers: int,
                           flip_average: bool = False) -> dict[str, Any]:
    """The referable threshold chosen on `data` (never the validation set): see `metrics.choose_threshold`."""
    records, sources = load_sources(data)
    work = out / "calibration-work"
    preds, _, _ = predict_records(loaded, records, work, workers=workers, flip_average=flip_average)
    shutil.rmtree(work, ignore_errors=True)
    truth = (preds.dr_true >= 2) | (preds.dme_true >= 1)
    scores = referable_scores(preds.dr_probs, preds.dme_probs)
    threshold = choose_threshold(truth, scores, target)
    flagged = scores >= threshold
    return {
        "referable_threshold": round(threshold, 6),
        "target_sensitivity": target,
        "chosen_on": "; ".join(_describe_heldout(spec, source) for spec, source in zip(data, sources, strict=True)),
        "on_that_data": {"n": int(len(truth)), "positives": int(truth.sum()),
                         "sensitivity": float(flagged[truth].mean()),
                         "specificity": float((~flagged[~truth]).mean()) if (~truth).any() else None},
        **({"flip_average": True} if flip_average else {}),
    }


def _describe_heldout(spec: str, source: dict) -> str:
    """A data set in words; for a generated one, the generator settings that make it again."""
    path = Path(spec.split(":", 1)[1])
    if source.get("dataset"):
        return f"{source['images']} images made from {source['dataset']} ({source.get('licence')}), {path.name}"
    marker = path / "synthetic.json"
    if marker.exists():
        g = json.loads(marker.read_text())
        size = g.get("size") or 0
        return (f"{g.get('count')} synthetic images: ran-synth --count {g.get('count')} --seed {g.get('seed')} "
                f"--size {size} --camera-family {g.get('camera_family')} "
                f"--real-fraction {g.get('real_background_fraction')}")
    return f"{source['kind']}: {source['images']} images ({path.name})"


def _summary(run: Path, config: dict) -> dict[str, Any]:
    """The finished run's summary, or, for a run still training, what its best checkpoint so far says."""
    finished = run / "summary.json"
    if finished.exists():
        return json.loads(finished.read_text())
    best = json.loads((run / "best.json").read_text())
    split = json.loads((run / "split.json").read_text())
    return {
        "best_epoch": best["epoch"],
        "validation": best["validation"],
        "split_sizes": {name: len(paths) for name, paths in split["splits"].items()},
        "sources": load_sources(config["data"])[1],
        "in_progress": True,
    }


def seal_old_bundle(folder: Path) -> str:
    """Seal a bundle made before manifests were sealed (its weights still match its manifest's sha256), so it
    loads again, e.g. 0.3.0 from the repository's history to fine-tune from. Returns the sealed weights' sha256."""
    manifest = read_manifest(folder)
    verify_weights(folder, manifest)  # the weights are the ones the manifest names: only the seal is missing
    return write_manifest(folder, manifest).weights["sha256"]


def _add_graph(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="ran-export --add-graph", description="Write the bundle's ONNX inference graph "
                                "beside its weights, checked against PyTorch, and name it in the sealed manifest.")
    p.add_argument("bundle", type=Path)
    p.add_argument("--check-photos", type=Path, metavar="FOLDER",
                   help="also check the graph on these photographs (real ones: the more the better)")
    args = p.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            manifest = inference_graph.add_graph(args.bundle, inference_graph.photographs_in(args.check_photos),
                                                 Path(scratch))
    except (BundleError, ValueError) as exc:
        print(f"ran-export: {exc}", file=sys.stderr)
        return 2
    checked = manifest.inference_graph["checked"]
    print(f"{args.bundle / manifest.inference_graph['file']}: opset {manifest.inference_graph['opset']}, checked on "
          f"{checked['images']} photographs, probabilities within {checked['max_probability_difference']:.2g} of "
          f"PyTorch's")
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--add-graph"]:
        return _add_graph(argv[1:])
    if argv[:1] == ["--seal-old-bundle"]:
        if len(argv) != 2:
            print("usage: ran-export --seal-old-bundle BUNDLE", file=sys.stderr)
            return 2
        try:
            sha = seal_old_bundle(Path(argv[1]))
        except BundleError as exc:
            print(f"ran-export: {exc}", file=sys.stderr)
            return 2
        print(f"sealed {argv[1]} (weights sha256 now {sha})")
        return 0
    p = argparse.ArgumentParser(prog="ran-export", description=__doc__.split("\n\n")[0],
                                epilog="ran-export --seal-old-bundle BUNDLE seals a bundle made before manifests "
                                       "were sealed, after checking its weights against its manifest; ran-export "
                                       "--add-graph BUNDLE writes its ONNX inference graph")
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="bundle folder, e.g. models/ran18-synthetic")
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--heldout", action="append", metavar="KIND:PATH",
                   help="also evaluate a data set kept out of training (repeatable); it goes into the model card")
    p.add_argument("--heldout-cache", type=Path, help="where the held-out set's decoded squares are kept")
    p.add_argument("--calibrate", action="append", metavar="KIND:PATH",
                   help="choose the referable threshold on this data (kept out of training; repeatable)")
    p.add_argument("--target-sensitivity", type=float, default=0.90,
                   help="the sensitivity the threshold must keep on --calibrate data (default 0.90)")
    p.add_argument("--real-validation", action="append", metavar="KIND:PATH",
                   help="real photographs kept out of every step: measured and reported (repeatable)")
    p.add_argument("--probe", type=Path, help="the shortcut probe's result (probe.json from ran-real-probe)")
    p.add_argument("--flip-average", action="store_true",
                   help="probabilities averaged over each photograph and its mirror image (test-time flip): the "
                        "threshold is chosen on them and the app computes them so")
    p.add_argument("--lesion-validation", type=Path, metavar="IDRID",
                   help="IDRiD's segmentation folder: measure the lesion head's pixel AUPR on its testing photographs")
    args = p.parse_args(argv)
    try:
        metrics = export_run(args.run, args.out, name=args.name, version=args.version, workers=args.workers,
                             heldout=args.heldout, heldout_cache=args.heldout_cache, calibrate=args.calibrate,
                             target_sensitivity=args.target_sensitivity, real_validation=args.real_validation,
                             probe=args.probe, lesion_validation=args.lesion_validation,
                             flip_average=args.flip_average)
    except (FileNotFoundError, ValueError) as exc:
        print(f"ran-export: {exc}", file=sys.stderr)
        return 2
    print(format_table(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
