"""`ran-real-probe`: can a network tell inpainted from untouched photographs? If it can, "inpainted" could become a
shortcut for "healthy" (the lesion-free copies are inpainted), and a model would learn that instead of lesions.

A small classifier (RAN-18 at base width 8, the shipped network's family) is trained to tell each photograph as
taken (class 0) from the same photograph with decoy fills (class 1: lesion-shaped regions filled exactly as lesions
are removed, `inpaint.py`), on the training photographs, and measured on the testing photographs it never saw,
both prepared exactly as the model sees them (field-of-view crop, resize, CLAHE, standardisation). A second run of
the same classifier on the same photographs, asked to tell each photograph from its lesion-free copy, shows the
probe can learn what is there to see (its AUC should be high): a probe that learns nothing proves nothing.

    ran-real-probe --idrid "../shared/data/idrid-segmentation" --out runs/probe.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from ran_desktop.engine.imaging.preprocess import PreprocessSettings, preprocess
from ran_desktop.engine.model import build_ran
from training.datasets.idrid_segmentation import load_cases, read_case
from training.real.prepare import PreparedCase, prepare_case, with_decoys

INPUT_SIZE = 320


def _tensors(cases: list[PreparedCase], task: str, variants: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, S, S) inputs and (N,) labels: per photograph and variant, one image of each class."""
    settings = PreprocessSettings(input_size=INPUT_SIZE)
    xs, ys = [], []
    for i, case in enumerate(cases):
        others = [c for c in cases if c is not case]
        for v in range(variants):
            base = seed * 100_000 + 1000 * v + 2 * i
            if task == "inpainting":
                pair = (case.images.rgb, with_decoys(case.images.rgb, case, others, base))
            else:  # "lesions": the positive control, the photograph against its lesion-free copy
                pair = (with_decoys(case.images.rgb, case, others, base),
                        with_decoys(case.clean, case, others, base + 1))
            for label, rgb in enumerate(pair):
                if v % 2:
                    rgb = np.ascontiguousarray(rgb[:, ::-1])  # the other eye's orientation
                xs.append(preprocess(rgb, settings).tensor)
                ys.append(label)
    return np.stack(xs).astype(np.float32), np.array(ys)


def train_probe(x: np.ndarray, y: np.ndarray, *, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = build_ran("ran18", base_width=8, num_dr_classes=2, num_dme_classes=1, nominal_input_size=INPUT_SIZE)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(order), 16):
            batch = order[start:start + 16]
            opt.zero_grad()
            loss = loss_fn(model(xt[batch]).dr, yt[batch])
            loss.backward()
            opt.step()
    return model.eval()


def scores(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = [torch.softmax(model(torch.from_numpy(x[i:i + 32])).dr, 1)[:, 1] for i in range(0, len(x), 32)]
    return torch.cat(out).numpy()


def run_probe(idrid: Path, *, width: int = 1424, variants: int = 2, epochs: int = 8, seed: int = 0,
              log=print) -> dict:
    train = [prepare_case(read_case(c, width), seed) for c in load_cases(idrid, "train")]
    test = [prepare_case(read_case(c, width), seed) for c in load_cases(idrid, "test")]
    log(f"{len(train)} training and {len(test)} testing photographs prepared")
    result: dict = {}
    for task in ("inpainting", "lesions"):
        x_train, y_train = _tensors(train, task, variants, seed)
        x_test, y_test = _tensors(test, task, variants, seed + 1)
        model = train_probe(x_train, y_train, epochs=epochs, seed=seed)
        auc = float(roc_auc_score(y_test, scores(model, x_test)))
        auc_train = float(roc_auc_score(y_train, scores(model, x_train)))
        log(f"{task}: AUC {auc:.3f} on unseen photographs ({auc_train:.3f} on its own training images)")
        result[task] = {"auc": auc, "auc_on_training_images": auc_train, "n_train": int(len(y_train)),
                        "n_test": int(len(y_test))}
    auc = result["inpainting"]["auc"]
    return {
        "auc": auc,
        "n_train": result["inpainting"]["n_train"],
        "n_test": result["inpainting"]["n_test"],
        "verdict": "near chance" if auc <= 0.60 else "the traces are learnable",
        "positive_control_auc": result["lesions"]["auc"],
        "description": (
            f"A RAN-18 of base width 8 at {INPUT_SIZE} px, trained {epochs} epochs to tell each of "
            f"{len(train)} training photographs as taken from the same photograph with decoy fills "
            f"({variants} variants each), measured on the {len(test)} testing photographs. The same probe told "
            f"photographs from their lesion-free copies with AUC {result['lesions']['auc']:.3f}, so it can learn "
            "what is visible."
        ),
        "tasks": result,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ran-real-probe", description=__doc__.split("\n\n")[0])
    p.add_argument("--idrid", required=True, help="IDRiD's segmentation part (the folder holding 'A. Segmentation')")
    p.add_argument("--out", required=True, type=Path, help="where to write the result (JSON)")
    p.add_argument("--variants", type=int, default=2)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    result = run_probe(Path(args.idrid), variants=args.variants, epochs=args.epochs, seed=args.seed,
                       log=lambda line: print(line, file=sys.stderr, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"shortcut probe AUC {result['auc']:.3f} ({result['verdict']}); positive control "
          f"{result['positive_control_auc']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
