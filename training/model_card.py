"""MODEL_CARD.md: what a bundle is for, what trained it, how well it did on held-out and real photographs, at which
operating point, and its limits, in words a clinic can read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.bundle import read_manifest
from training.evaluate import format_table
from training.lesion_eval import format_lesion_table
from training.sources import credits, has_real, is_synthetic

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


def intended_use(sources: list[dict]) -> str:
    if is_synthetic(sources):
        return MIXED_USE if has_real(sources) else SYNTHETIC_USE
    return CLINICAL_USE


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
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
            "outlines are at a quarter of the input's resolution; the app shows them, when a grader asks, as an "
            "indicative layer (\"Lesions\" in the heat-map box).")
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
    mirrored = (" Probabilities are the mean of the photograph's and its mirror image's (test-time flip), here as in "
                "the app." if operating.get("flip_average") else "")
    return f"""
## Operating point: when an eye is called referable
Referable = the model's probability of referable disease (the larger of P(DR >= 2) and P(DME >= 1)) at or above
**{operating['referable_threshold']:.4f}**, not the most probable grade; the shown DR and DME grades follow the same
decision (the app, `ran-screen`'s CSV and the reports all use it). Chosen for sensitivity >= {operating['target_sensitivity']:.2f}
on {operating['chosen_on']}, never on the validation set below; there it gave sensitivity {seen['sensitivity']:.3f} and
specificity {spec} ({seen['n']} images, {seen['positives']} referable).{mirrored}
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
masks by the ICDR/DME rules in `training/datasets/idrid_grading.py`) and with its lesions removed (grade 0), every image
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
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"
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
