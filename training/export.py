"""`ran-export`: turn a training run's best weights into the engine's bundle (fp16 safetensors + manifest) with a
MODEL_CARD.md whose metrics are measured on the run's test split through the exported bundle itself."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from ran_desktop.engine.bundle import load_bundle, read_manifest, save_bundle
from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model import build_ran
from ran_desktop.engine.preprocess import PreprocessSettings

from .datasets import load_split
from .evaluate import evaluate_records, format_table
from .sources import describe, is_synthetic, load_sources

SYNTHETIC_USE = (
    "Research and software evaluation only. Trained on synthetic fundus images: NOT validated for clinical use. "
    "Every grade must be confirmed by a qualified grader."
)
CLINICAL_USE = (
    "Decision support for trained graders screening colour fundus photographs of adults with diabetes for diabetic "
    "retinopathy and macular edema. Not a diagnosis; a qualified grader confirms every result."
)


def export_run(run: Path, out: Path, *, name: str, version: str, workers: int = 2, heldout: list[str] | None = None,
               heldout_cache: Path | None = None) -> dict[str, Any]:
    """Export `run` into `out`. `heldout` data sets (KIND:PATH) are evaluated through the bundle too: their metrics
    go into the manifest (`metrics["heldout"]`) and the model card beside the test split's."""
    config = json.loads((run / "config.json").read_text())
    summary = _summary(run, config)
    kwargs = {"dropout": config["dropout"]}
    if config["base_width"] != 64:
        kwargs["base_width"] = config["base_width"]
    model = build_ran(config["variant"], **kwargs)
    model.load_state_dict(load_file(str(run / "best.safetensors")))
    sources = summary["sources"]
    synthetic = is_synthetic(sources)
    if out.exists():
        shutil.rmtree(out)
    save_bundle(
        model, out, name=name, version=version, variant=config["variant"], architecture_kwargs=kwargs,
        preprocessing=PreprocessSettings(input_size=config["input_size"]),
        training_data={"description": describe(sources), "synthetic": synthetic,
                       "datasets": [s["kind"] for s in sources]},
        trained=True, metrics={}, intended_use=SYNTHETIC_USE if synthetic else CLINICAL_USE,
    )
    # Measure the exported (fp16) bundle, not the training weights: these are the numbers users will get.
    loaded = load_bundle(out, device="cpu")
    records, _ = load_sources(config["data"])
    test = list(load_split(run / "split.json", records)["test"])
    metrics = evaluate_records(loaded, test, out / "evaluation", cache_dir=run / "cache", workers=workers)
    for png in metrics["plots"]:
        shutil.move(str(out / "evaluation" / png), out / png)
    shutil.rmtree(out / "evaluation")
    card_metrics = {"test": _headline(metrics), "validation": _headline(summary.get("validation", {})),
                    "split_sizes": summary["split_sizes"], "best_epoch": summary["best_epoch"]}
    held = _evaluate_heldout(loaded, heldout, out, heldout_cache, workers) if heldout else None
    if held:
        card_metrics["heldout"] = {"data": held["data"], **_headline(held["metrics"])}
    # Rewrite the manifest with the metrics: its weights (and so their hash) do not change.
    manifest = loaded.manifest
    replace(manifest, metrics=card_metrics).write(out)
    (out / "MODEL_CARD.md").write_text(model_card(manifest.title, config, sources, synthetic, metrics, summary, held),
                                       encoding="utf-8")
    load_bundle(out, device="cpu")  # the finished bundle must load
    return metrics


def _evaluate_heldout(loaded, data: list[str], out: Path, cache: Path | None, workers: int) -> dict[str, Any]:
    """Every image of `data` (no split: the whole set was kept out of training), with its plots named heldout_*."""
    records, sources = load_sources(data)
    metrics = evaluate_records(loaded, records, out / "heldout", cache_dir=cache, workers=workers)
    for png in metrics["plots"]:
        shutil.move(str(out / "heldout" / png), out / f"heldout_{png}")
    shutil.rmtree(out / "heldout")
    return {"data": [_describe_heldout(spec, source) for spec, source in zip(data, sources)], "metrics": metrics}


def _describe_heldout(spec: str, source: dict) -> str:
    """A data set in words; for a generated one, the generator settings that make it again."""
    path = Path(spec.split(":", 1)[1])
    marker = path / "synthetic.json"
    if marker.exists():
        g = json.loads(marker.read_text())
        size = g.get("size") or 0
        return (f"{g.get('count')} synthetic images: ran-synth --count {g.get('count')} --seed {g.get('seed')} "
                f"--size {size} --camera-family {g.get('camera_family')} "
                f"--real-fraction {g.get('real_background_fraction')}")
    return f"{source['kind']}: {source['images']} images"


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


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keep = {}
    for task in ("any_dr", "referable_dr", "dme"):
        if task in metrics:
            keep[task] = {k: metrics[task][k] for k in ("n", "accuracy", "sensitivity", "specificity", "auc")}
    if "dr" in metrics:
        keep["dr"] = {k: metrics["dr"][k] for k in ("n", "accuracy", "quadratic_kappa")}
    return keep


def model_card(title: str, config: dict, sources: list[dict], synthetic: bool, metrics: dict, summary: dict,
               heldout: dict | None = None) -> str:
    warning = ("> **Not validated for clinical use.** These weights were trained on synthetic fundus images only.\n\n"
               if synthetic else "")
    progress = ""
    if summary.get("in_progress"):
        progress = (f" Exported while training was still running (best of the first {summary['best_epoch']} or more "
                    "epochs): a later export of the same run may be better.")
    elif summary.get("stopped_after_epoch"):
        progress = f" Stopped (`--stop-after-epoch`) after epoch {summary['stopped_after_epoch']}."
    start = ""
    if config.get("finetune"):
        start = f" Started (`--finetune`) from the weights of {_bundle_title(Path(config['finetune']))}."
    data_lines = "\n".join(f"- {s['kind']}: {s['images']} images" + (" (synthetic)" if s.get("synthetic") else "")
                           for s in sources)
    return f"""# Model card: {title}

{warning}## Intended use
{SYNTHETIC_USE if synthetic else CLINICAL_USE}

## Model
RAN (ResNet encoder, residual attention modules, channel attention, dilated-convolution module), variant
`{config['variant']}`, base width {config['base_width']}, input {config['input_size']} px, two heads: DR (ICDR 0-4) and
DME (0-2). Preprocessing: field-of-view crop, CLAHE, per-image per-channel standardisation (settings in
`manifest.json`).

## Training
{data_lines}

Split (patient-aware, stratified, seed {config['seed']}): {summary['split_sizes']}. Adam, learning rate {config['lr']}
({config['schedule']}), batch {config['batch_size']}, {config['epochs']} epochs planned, focal loss gamma
{config['gamma']}, augmentation {'on' if config['augment'] else 'off'}; best epoch {summary['best_epoch']} by
validation `{config['select']}`.{start}{progress}

## Test metrics (held-out split, measured through this bundle)
```
{format_table(metrics)}
```

![ROC curves](roc.png)
![DR confusion matrix](confusion_dr.png)
![DME confusion matrix](confusion_dme.png)
{_heldout_section(heldout)}
## Limits
- {"Synthetic images only: real photographs differ in ways no generator captures. Real-world sensitivity and specificity are unknown." if synthetic else "Performance on cameras and populations unlike the training data is unknown."}
- Ungradable photographs are caught by the app's quality gate, not by this model.
- Grad-CAM heat maps show where the network's evidence lies, not lesion outlines.
"""


def _bundle_title(folder: Path) -> str:
    """`name version`, and how that bundle was itself trained, so a chain of fine-tunings stays traceable."""
    try:
        m = read_manifest(folder)
    except BundleError:
        return f"`{folder.name}`"
    epoch = m.metrics.get("best_epoch")
    details = ", ".join(x for x in (f"best epoch {epoch} of its run" if epoch else "",
                                    m.training_data.get("description", "")) if x)
    return f"`{m.name} {m.version}` ({details})" if details else f"`{m.name} {m.version}`"


def _heldout_section(heldout: dict | None) -> str:
    if not heldout:
        return ""
    m = heldout["metrics"]
    kappa, ref, dme = m["dr"]["quadratic_kappa"], m["referable_dr"]["auc"], m["dme"]["auc"]
    verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    data = "\n".join(f"- {d}" for d in heldout["data"])
    return f"""
## Held-out set: unseen seeds and unseen camera settings
Never used in training or model selection:
{data}

Reproduce with `ran-evaluate --model <this folder> --data csv:DATA --out DIR`.
```
{format_table(m)}
```
Targets for the shipped model: quadratic kappa >= 0.85 for DR ({kappa:.3f}, {verdict(kappa >= 0.85)}), AUC >= 0.95
for referable DR ({ref:.3f}, {verdict(ref >= 0.95)}) and for DME ({dme:.3f}, {verdict(dme >= 0.95)}).

![Held-out ROC curves](heldout_roc.png)
![Held-out DR confusion matrix](heldout_confusion_dr.png)
![Held-out DME confusion matrix](heldout_confusion_dme.png)
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ran-export", description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="bundle folder, e.g. models/ran18-synthetic")
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--heldout", action="append", metavar="KIND:PATH",
                   help="also evaluate a data set kept out of training (repeatable); it goes into the model card")
    p.add_argument("--heldout-cache", type=Path, help="where the held-out set's decoded squares are kept")
    args = p.parse_args(argv)
    try:
        metrics = export_run(args.run, args.out, name=args.name, version=args.version, workers=args.workers,
                             heldout=args.heldout, heldout_cache=args.heldout_cache)
    except (FileNotFoundError, ValueError) as exc:
        print(f"ran-export: {exc}", file=sys.stderr)
        return 2
    print(format_table(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
