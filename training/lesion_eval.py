"""`ran-lesion-eval`: the lesion head's per-lesion pixel AUPR on IDRiD's 27 testing photographs.

Each photograph goes through the app's own path (decode, field of view, crop, resize, CLAHE, standardise); the
head's probabilities are brought up to the model's input size and compared, pixel by pixel inside the field of
view, with the experts' masks cut the same way (a pixel is a lesion where any part of it was in the full-size
mask). Precision-recall is pooled over all photographs per lesion kind, as the IDRiD 2018 challenge did, but at the
model's input size (320 px across the field of view) instead of 4288 px, which favours small lesions: a
microaneurysm a few pixels wide at full size fills a whole pixel here.

    ran-lesion-eval --model models/ran18-real --idrid ../shared/data/idrid-segmentation --out runs/lesions
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score

from ran_desktop.engine.imaging.loading import load_images
from ran_desktop.engine.imaging.preprocess import crop_to_fov, decode_min_side, detect_fov, finish, resize_square
from ran_desktop.engine.model import LESION_KINDS
from ran_desktop.engine.model.bundle import LoadedModel, load_bundle
from training import lesion_masks
from training.datasets.idrid_segmentation import DISC, LESIONS, load_cases, read_mask

# The IDRiD 2018 challenge's best pixel AUPR per kind (Porwal et al., Medical Image Analysis 59, 2020, 101561).
CHALLENGE_BEST = {"microaneurysms": 0.5017, "haemorrhages": 0.6490, "hard_exudates": 0.8850, "soft_exudates": 0.6995}


def lesion_probabilities(bundle: LoadedModel, image: np.ndarray, fov) -> np.ndarray:
    """(kinds, size, size) lesion probabilities over the model's input square for a decoded RGB photograph."""
    settings = bundle.preprocess_settings
    square = resize_square(crop_to_fov(image, fov, settings), settings.input_size)
    _, tensor = finish(square, settings)
    model = bundle.network
    with bundle.lock, torch.inference_mode():
        x = torch.from_numpy(tensor)[None].to(next(model.parameters()).device)
        _, logits = model.forward_with_lesions(x)
        up = F.interpolate(logits.float(), size=square.shape[:2], mode="bilinear", align_corners=False)
    return torch.sigmoid(up)[0].cpu().numpy()


def evaluate_lesions(bundle: LoadedModel, idrid: Path, split: str = "test", log=print) -> dict[str, Any]:
    """Pixel AUPR per lesion kind over IDRiD's `split` photographs, with what it is measured against."""
    if getattr(bundle.model, "lesion_head", None) is None:
        raise ValueError(f"{bundle.manifest.title} has no lesion head")
    settings = bundle.preprocess_settings
    scores: list[list[np.ndarray]] = [[] for _ in LESION_KINDS]
    truths: list[list[np.ndarray]] = [[] for _ in LESION_KINDS]
    cases = load_cases(idrid, split)
    for n, case in enumerate(cases, 1):
        image = load_images(case.image, min_side=decode_min_side(settings))[0].pixels
        fov = detect_fov(image, settings)
        disc = cv2.imread(str(case.masks[DISC]), cv2.IMREAD_GRAYSCALE)  # every case has one, at full size
        if disc is None:
            raise ValueError(f"{case.masks[DISC]}: the optic disc mask cannot be read")
        shape = disc.shape[:2]
        bits = lesion_masks.pack({kind: read_mask(case.masks[kind], shape) for kind in LESIONS}, shape)
        truth = lesion_masks.unpack(lesion_masks.square(bits, image.shape, fov, settings))
        inside = resize_square(crop_to_fov(np.full_like(image, 255), fov, settings), settings.input_size)[..., 0] > 0
        probs = lesion_probabilities(bundle, image, fov)
        for k in range(len(LESION_KINDS)):
            scores[k].append(probs[k][inside])
            truths[k].append(truth[k][inside])
        if n % 9 == 0 or n == len(cases):
            log(f"  {n}/{len(cases)} photographs")
    result: dict[str, Any] = {"photographs": len(cases), "split": split, "resolution_px": settings.input_size,
                              "per_kind": {}}
    for k, kind in enumerate(LESION_KINDS):
        y, s = np.concatenate(truths[k]), np.concatenate(scores[k])
        with_kind = sum(bool(t.any()) for t in truths[k])
        result["per_kind"][kind] = {
            "aupr": float(average_precision_score(y, s)) if y.any() else None,
            "photographs_with_lesion": with_kind,
            "lesion_pixel_fraction": float(y.mean()),
            "challenge_best": CHALLENGE_BEST[kind],
        }
    return result


def format_lesion_table(result: dict[str, Any]) -> str:
    rows = ["| lesion | pixel AUPR (this model) | IDRiD 2018 challenge best | photographs with the lesion |",
            "| --- | --- | --- | --- |"]
    for kind, m in result["per_kind"].items():
        aupr = "-" if m["aupr"] is None else f"{m['aupr']:.3f}"
        rows.append(f"| {kind.replace('_', ' ')} | {aupr} | {m['challenge_best']:.2f} | "
                    f"{m['photographs_with_lesion']} of {result['photographs']} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ran-lesion-eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, type=Path, help="a bundle with a lesion head")
    p.add_argument("--idrid", required=True, type=Path, help="IDRiD's segmentation part")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--out", type=Path, help="folder for lesion_metrics.json")
    args = p.parse_args(argv)
    try:
        result = evaluate_lesions(load_bundle(args.model, device="cpu"), args.idrid, args.split,
                                  log=lambda line: print(line, file=sys.stderr, flush=True))
    except (FileNotFoundError, ValueError) as exc:
        print(f"ran-lesion-eval: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "lesion_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(format_lesion_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
