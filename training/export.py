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

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.imaging.preprocess import PreprocessSettings
from ran_desktop.engine.model import build_ran
from ran_desktop.engine.model.bundle import load_bundle, read_manifest, save_bundle, verify_weights, write_manifest
from training.datasets import load_split
from training.evaluate import evaluate_records, format_table, predict_records
from training.lesion_eval import evaluate_lesions, format_lesion_table
from training.metrics import choose_threshold, referable_scores
from training.sources import credits, describe, has_real, is_synthetic, load_sources, provenance
from training.train import architecture_kwargs

SYNTHETIC_USE = (
    "Research and software evaluation only. Trained on synthetic fundus images: NOT validated for clinical use. "
    "Every grade must be confirmed by a qualified grader."
)
MIXED_USE = (
    "Research and software evaluation only. Trained mostly on synthetic fundus images with real lesions and a few "
    "real photographs of one camera: NOT validated for clinical use. Every grade must be confirmed by a qualified "
    "grader."
)
CLINICAL_USE = (
    "Decision support for trained graders screening colour fundus photographs of adults with diabetes for diabetic "
    "retinopathy and macular edema. Not a diagnosis; a qualified grader confirms every result."
)


def export_run(run: Path, out: Path, *, name: str, version: str, workers: int = 2, heldout: list[str] | None = None,
               heldout_cache: Path | None = None, calibrate: list[str] | None = None,
               target_sensitivity: float = 0.90, real_validation: list[str] | None = None,
               probe: Path | None = None, lesion_validation: Path | None = None) -> dict[str, Any]:
    """Export `run` into `out`. `heldout` data sets (KIND:PATH) are evaluated through the bundle too: their metrics
    go into the manifest (`metrics["heldout"]`) and the model card beside the test split's.

    `calibrate`: data sets (kept out of training) on which the operating point is chosen: the highest threshold on
    the probability of referable disease that keeps `target_sensitivity`; it goes into the manifest and every
    later measurement uses it, as the app does. `real_validation`: real photographs no training or choosing step
    touched, measured through the bundle (`metrics["real_validation"]`). `probe`: the shortcut probe's result
    (training/real/probe.py), reported in the model card. `lesion_validation`: IDRiD's segmentation folder, on whose
    testing photographs the lesion head's pixel AUPR is measured (`metrics["lesions"]`, training/lesion_eval.py)."""
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
        operating = choose_operating_point(loaded, calibrate, target_sensitivity, out, workers)
        write_manifest(out, replace(loaded.manifest, operating_point=operating))
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
    real = _evaluate_heldout(loaded, real_validation, out, None, workers, prefix="real_") if real_validation else None
    if real:
        card_metrics["real_validation"] = {"data": real["data"], **_headline(real["metrics"]),
                                           "dr_confusion": real["metrics"]["dr"]["confusion"],
                                           "dme_confusion": real["metrics"]["dme_grade"]["confusion"]}
    probe_result = json.loads(probe.read_text()) if probe else None
    if probe_result:
        card_metrics["shortcut_probe"] = {k: probe_result[k] for k in ("auc", "n_train", "n_test", "verdict")}
    lesions = None
    if lesion_validation is not None and loaded.model.lesion_head is not None:
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


def intended_use(sources: list[dict]) -> str:
    if is_synthetic(sources):
        return MIXED_USE if has_real(sources) else SYNTHETIC_USE
    return CLINICAL_USE


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


def choose_operating_point(loaded, data: list[str], target: float, out: Path, workers: int) -> dict[str, Any]:
    """The referable threshold chosen on `data` (never the validation set): see `metrics.choose_threshold`."""
    records, sources = load_sources(data)
    work = out / "calibration-work"
    preds, _, _ = predict_records(loaded, records, work, workers=workers)
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


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keep: dict[str, Any] = {}
    for task in ("any_dr", "referable_dr", "dme", "referable"):
        if task in metrics:
            keep[task] = {k: metrics[task][k] for k in ("n", "accuracy", "sensitivity", "specificity", "auc")}
    if "dr" in metrics:
        keep["dr"] = {k: metrics["dr"][k] for k in ("n", "accuracy", "quadratic_kappa")}
    return keep


def model_card(title: str, config: dict, sources: list[dict], synthetic: bool, metrics: dict, summary: dict,
               heldout: dict | None = None, operating: dict | None = None, real: dict | None = None,
               probe: dict | None = None, lesions: dict | None = None) -> str:
    if synthetic and has_real(sources):
        warning = ("> **Not validated for clinical use.** These weights were trained on synthetic fundus images and a "
                   "few real photographs, and measured on real photographs of one camera and one clinic only.\n\n")
    elif synthetic:
        warning = ("> **Not validated for clinical use.** These weights were trained on synthetic fundus images "
                   "only.\n\n")
    else:
        warning = ""
    progress = ""
    if summary.get("in_progress"):
        progress = (f" Exported while training was still running (best of the first {summary['best_epoch']} or more "
                    "epochs): a later export of the same run may be better.")
    elif summary.get("stopped_after_epoch"):
        progress = f" Stopped (`--stop-after-epoch`) after epoch {summary['stopped_after_epoch']}."
    start = ""
    if config.get("finetune"):
        start = f" Started (`--finetune`) from the weights of {_bundle_title(Path(config['finetune']))}."
    data_lines = "\n".join(
        f"- {s['kind']}: {s['images']} images" + (" (synthetic)" if s.get("synthetic") else "")
        + (f", made from {s['dataset']}, licence {s.get('licence')}" if s.get("dataset") else "")
        for s in sources)
    credit_lines = "".join(f"\n- {c}" for c in credits(sources))
    if credit_lines:
        data_lines += f"\n\nCredit (required by the data's licence):{credit_lines}"
    return f"""# Model card: {title}

{warning}## Intended use
{intended_use(sources)}

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
{_heldout_section(heldout)}{_operating_section(operating)}{_real_section(real)}{_probe_section(probe)}{_lesion_section(config, lesions)}
## Limits
- {_limits(sources, synthetic, config)}
- Ungradable photographs are caught by the app's quality gate, not by this model.
- Grad-CAM heat maps show where the network's evidence lies, not lesion outlines.
"""


def _limits(sources: list[dict], synthetic: bool, config: dict | None = None) -> str:
    head = ("No lesion head: the model gives grades and a Grad-CAM map, not lesion outlines or counts."
            if not (config or {}).get("lesion_weight") else
            "The lesion head was trained on masks of one camera's photographs and the generator's lesions; its "
            "outlines are at a quarter of the input's resolution and are not shown by the app yet.")
    if synthetic and has_real(sources):
        return ("Trained mostly on generated images; the real photographs come from one camera (Kowa VX-10 alpha) at "
                "one Indian eye clinic, every one with diabetic retinopathy, and their grades were derived from lesion "
                "masks, not given by graders. Sensitivity and specificity on other cameras, populations and grading "
                "practice are unknown until measured there; the real validation set has no grade 1, 3 or 4 eyes and "
                "its healthy eyes are the same photographs with their lesions removed (grades derived from masks "
                "cannot exceed DR 2 there, so the model's DR 3 calls on them are not counted right). " + head)
    if synthetic:
        return ("Synthetic images only: real photographs differ in ways no generator captures. Real-world sensitivity "
                "and specificity are unknown.")
    return "Performance on cameras and populations unlike the training data is unknown."


def _operating_section(operating: dict | None) -> str:
    if not operating:
        return ""
    seen = operating["on_that_data"]
    spec = "-" if seen["specificity"] is None else f"{seen['specificity']:.3f}"
    return f"""
## Operating point: when an eye is called referable
Referable = the model's probability of referable disease (the larger of P(DR >= 2) and P(DME >= 1)) at or above
**{operating['referable_threshold']:.4f}**, not the most probable grade; the shown DR and DME grades follow the same
decision (the app, `ran-screen`'s CSV and the reports all use it). Chosen for sensitivity >= {operating['target_sensitivity']:.2f}
on {operating['chosen_on']}, never on the validation set below; there it gave sensitivity {seen['sensitivity']:.3f} and
specificity {spec} ({seen['n']} images, {seen['positives']} referable).
"""


def _real_section(real: dict | None) -> str:
    if not real:
        return ""
    m = real["metrics"]
    data = "\n".join(f"- {d}" for d in real["data"])
    ref = m["referable"]
    verdict = "met" if (ref["sensitivity"] or 0) >= 0.90 and (ref["specificity"] or 0) >= 0.80 else "NOT met"
    dr_rows = "\n".join(f"| {g} | " + " | ".join(str(v) for v in row) + " |"
                        for g, row in enumerate(m["dr"]["confusion"]))
    dme_rows = "\n".join(f"| {g} | " + " | ".join(str(v) for v in row) + " |"
                          for g, row in enumerate(m["dme_grade"]["confusion"]))
    return f"""
## Real validation set: real photographs no training or choosing step touched
{data}

The authors' testing photographs of IDRiD's segmentation set, each as taken (grades derived from its expert lesion
masks by the ICDR/DME rules in `training/real/mask_grading.py`) and with its lesions removed (grade 0), every image
with decoy fills so neither kind can be told by inpainting traces. Measured through this bundle with the app's own
rule:
```
{format_table(m)}
```
Referable (the app's flag): sensitivity **{ref['sensitivity']:.3f}**, specificity **{ref['specificity']:.3f}**, AUC
{ref['auc']:.3f}; target sensitivity >= 0.90 at specificity >= 0.80: {verdict}.

DR grades (rows: derived truth, columns: the app's grade 0-4):

| truth | 0 | 1 | 2 | 3 | 4 |
| --- | --- | --- | --- | --- | --- |
{dr_rows}

DME grades (rows: derived truth, columns: the app's grade 0-2):

| truth | 0 | 1 | 2 |
| --- | --- | --- | --- |
{dme_rows}

![Real validation ROC curves](real_roc.png)
"""


def _probe_section(probe: dict | None) -> str:
    if not probe:
        return ""
    return f"""
## Shortcut probe: can inpainting traces give the class away?
{probe['description']} AUC on unseen photographs: **{probe['auc']:.3f}** ({probe['verdict']}; 0.5 is chance, the
target is <= 0.60).
"""


def _lesion_section(config: dict, lesions: dict | None) -> str:
    if not config.get("lesion_weight"):
        return ""
    head = (f"A lesion head (microaneurysms, haemorrhages, hard and soft exudates) on the encoder was trained beside "
            f"the grading heads (loss weight {config['lesion_weight']}: binary cross entropy plus Dice per kind) on the "
            "experts' masks of the real training photographs and the generator's own masks of every lesion it painted "
            "or pasted. It outputs a map at a quarter of the input's size; the grading heads do not use it, so it "
            "changes the grades only through what it taught the shared encoder.")
    if not lesions:
        return f"\n## Lesion head\n{head}\n"
    return f"""
## Lesion head
{head}

Pixel AUPR on IDRiD's {lesions['photographs']} testing photographs (never trained on), inside the field of view, at the
model's input size ({lesions['resolution_px']} px across the field; the challenge measured at 4288 px, where small
lesions are harder), beside the best team of the IDRiD 2018 challenge (Porwal et al., Medical Image Analysis 2020):

{format_lesion_table(lesions)}
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


def seal_old_bundle(folder: Path) -> str:
    """Seal a bundle made before manifests were sealed (its weights still match its manifest's sha256), so it
    loads again, e.g. 0.3.0 from the repository's history to fine-tune from. Returns the sealed weights' sha256."""
    manifest = read_manifest(folder)
    verify_weights(folder, manifest)  # the weights are the ones the manifest names: only the seal is missing
    return write_manifest(folder, manifest).weights["sha256"]


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
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
                                       "were sealed, after checking its weights against its manifest")
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
    p.add_argument("--lesion-validation", type=Path, metavar="IDRID",
                   help="IDRiD's segmentation folder: measure the lesion head's pixel AUPR on its testing photographs")
    args = p.parse_args(argv)
    try:
        metrics = export_run(args.run, args.out, name=args.name, version=args.version, workers=args.workers,
                             heldout=args.heldout, heldout_cache=args.heldout_cache, calibrate=args.calibrate,
                             target_sensitivity=args.target_sensitivity, real_validation=args.real_validation,
                             probe=args.probe, lesion_validation=args.lesion_validation)
    except (FileNotFoundError, ValueError) as exc:
        print(f"ran-export: {exc}", file=sys.stderr)
        return 2
    print(format_table(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
