"""`ran-real`: turn IDRiD's lesion-segmentation photographs into what training and validation need.

    ran-real --idrid "../shared/data/idrid-segmentation" --out data/real

writes, under --out:
    train/         the training photographs (all but the calibration ones): each as taken and lesion-free,
                   with the grades their masks imply (labels.csv, the generic CSV layout; both copies of a
                   photograph share a patient id, so a split keeps them together; split "train": with
                   --use-predefined-split they go to training and validation, never to a test split)
    calibration/   the same for --calibration photographs held out of every training step: the operating point
                   (the referable threshold) is chosen on them
    validation/    the testing photographs (the authors' test split), as taken and lesion-free: the real
                   validation set, which no training or choosing step touches
    backgrounds/   the training photographs, lesion-free, for the generator, with backgrounds.json (anatomy)
    lesion-bank.npz  every lesion of the training photographs (`lesion_bank.py`)
    real.json      what came from where, with the data set's licence and the credit it requires

Every image written, lesion-free or not, carries decoy fills (`inpaint.py`), so that no image's class can be read
from inpainting traces. All images are written at --width px wide (default 1424, a third of the original) as JPEG
(quality 95), lesion-free and original alike, so the two differ only in their lesions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ran_desktop.engine.imaging.field_of_view import detect_fov
from training import lesion_masks
from training.datasets.idrid_grading import GradedCase, grade_case
from training.datasets.idrid_segmentation import DISC, LESIONS, CaseImages, load_cases, read_case
from training.real.inpaint import decoy_region, fill
from training.real.lesion_bank import LesionBank, cut_lesions

DATASET = "IDRiD lesion segmentation (real photographs)"
LICENCE = "CC BY 4.0"
CREDIT = (
    'Prasanna Porwal, Samiksha Pachade, Ravi Kamble, Manesh Kokare, Girish Deshmukh, Vivek Sahasrabuddhe, '
    'Fabrice Meriaudeau. "Indian Diabetic Retinopathy Image Dataset (IDRiD)". IEEE Dataport, 2018. '
    'https://dx.doi.org/10.21227/H25W98'
)
LABEL_COLUMNS = ("image", "dr", "dme", "patient", "eye", "kind", "source", "split", "lesion_mask")
_JPEG_QUALITY = 95
DECOYS_PER_IMAGE = 2


@dataclass
class PreparedCase:
    images: CaseImages
    graded: GradedCase
    lesions: np.ndarray  # bool, every lesion kind
    clean: np.ndarray  # uint8 RGB, lesion-free


def prepare_case(images: CaseImages, seed: int) -> PreparedCase:
    graded = grade_case(images)
    lesions = np.zeros(images.rgb.shape[:2], bool)
    for kind in LESIONS:
        lesions |= images.masks[kind]
    clean = fill(images.rgb, lesions, graded.geometry.dd_px, np.random.default_rng([seed, 1]))
    return PreparedCase(images, graded, lesions, clean)


def with_decoys(rgb: np.ndarray, case: PreparedCase, others: list[PreparedCase], seed: int) -> np.ndarray:
    """`rgb` (a photograph or its lesion-free copy) with lesion-shaped fills from other photographs' masks."""
    rng = np.random.default_rng(seed)
    fov = detect_fov(case.images.rgb).mask
    avoid = case.lesions | case.images.masks[DISC]
    out = rgb
    for _ in range(DECOYS_PER_IMAGE):
        donor = others[int(rng.integers(len(others)))]
        shapes = cv2.resize(donor.lesions.astype(np.uint8), (rgb.shape[1], rgb.shape[0]),
                            interpolation=cv2.INTER_NEAREST).astype(bool)
        region = decoy_region(shapes, fov, avoid, rng, case.graded.geometry.dd_px)
        out = fill(out, region, case.graded.geometry.dd_px, rng, keep_out=case.lesions)
        avoid = avoid | region
    return out


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def _write_labels(folder: Path, rows: list[list[object]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".labels.csv.tmp"
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LABEL_COLUMNS)
        writer.writerows(rows)
    os.replace(tmp, folder / "labels.csv")


def write_pair_set(folder: Path, cases: list[PreparedCase], donors: list[PreparedCase], seed: int,
                   copies: int = 1, split: str = "") -> None:
    """Each photograph as taken (its derived grades) and lesion-free (grade 0), both with decoys; `copies` > 1
    writes each pair that many times with other decoys (training sees more of the few real photographs)."""
    rows = []
    for i, case in enumerate(cases):
        others = [d for d in donors if d is not case] or donors
        patient, eye = case.images.case.id, case.graded.eye
        shape = case.images.rgb.shape[:2]
        lesion_bits = lesion_masks.pack({kind: case.images.masks[kind] for kind in LESIONS}, shape)
        lesion_masks.write(folder / "masks" / f"{case.images.case.name}.png", lesion_bits)
        lesion_masks.write(folder / "masks" / f"{case.images.case.name}_lesion-free.png", np.zeros(shape, np.uint8))
        for copy in range(copies):
            name = case.images.case.name + (f"_v{copy + 1}" if copies > 1 else "")
            base = seed * 100_000 + 1000 * copy + 2 * i
            original = with_decoys(case.images.rgb, case, others, base)
            clean = with_decoys(case.clean, case, others, base + 1)
            _write_jpeg(folder / "images" / f"{name}.jpg", original)
            _write_jpeg(folder / "images" / f"{name}_lesion-free.jpg", clean)
            rows.append([f"images/{name}.jpg", case.graded.dr, case.graded.dme, patient, eye, "original",
                         case.images.case.id, split, f"masks/{case.images.case.name}.png"])
            rows.append([f"images/{name}_lesion-free.jpg", 0, 0, patient, eye, "lesion-free",
                         case.images.case.id, split, f"masks/{case.images.case.name}_lesion-free.png"])
    _write_labels(folder, rows)
    write_provenance(folder, [c.images.case.id for c in cases])


def write_provenance(folder: Path, photographs: list[str]) -> None:
    """real.json beside labels.csv: where the photographs came from, so a model trained on them credits them."""
    (folder / "real.json").write_text(json.dumps({
        "dataset": DATASET, "licence": LICENCE, "credit": CREDIT, "photographs": photographs,
        "made_by": "ran-real (training/real/prepare.py)",
    }, indent=1) + "\n")


def write_backgrounds(folder: Path, cases: list[PreparedCase], seed: int) -> None:
    entries = []
    for i, case in enumerate(cases):
        name = f"{case.images.case.name}.png"
        others = [c for c in cases if c is not case] or cases  # a single photograph borrows its own shapes
        clean = with_decoys(case.clean, case, others, seed * 1000 + 500 + i)
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), clean[..., ::-1])
        g = case.graded.geometry
        entries.append({"image": name, "source": case.images.case.id, "eye": g.eye,
                        "fov_center": list(g.fov_center), "fov_radius": g.fov_radius, "fovea": list(g.fovea),
                        "dd_px": g.dd_px, "disc_offset": list(g.disc_offset)})
    (folder / "backgrounds.json").write_text(json.dumps(entries, indent=1) + "\n")


def prepare(idrid: Path, out: Path, *, width: int = 1424, calibration: int = 10, seed: int = 0,
            train_copies: int = 1, log=print) -> dict:
    started = time.monotonic()
    train_cases = load_cases(idrid, "train")
    test_cases = load_cases(idrid, "test")
    order = np.random.default_rng(seed).permutation(len(train_cases))
    held = {train_cases[i].name for i in order[:calibration]}

    def load(cases):
        done = []
        for n, case in enumerate(cases, 1):
            done.append(prepare_case(read_case(case, width), seed))
            if n % 10 == 0 or n == len(cases):
                log(f"  {n}/{len(cases)} photographs graded and made lesion-free "
                    f"({time.monotonic() - started:.0f} s)")
        return done

    log("training photographs:")
    train = load(train_cases)
    log("testing photographs:")
    test = load(test_cases)
    fit = [c for c in train if c.images.case.name not in held]
    calib = [c for c in train if c.images.case.name in held]
    write_pair_set(out / "train", fit, fit, seed, train_copies, split="train")  # never in a test split
    write_pair_set(out / "calibration", calib, calib, seed + 1)
    write_pair_set(out / "validation", test, test, seed + 2)
    write_backgrounds(out / "backgrounds", fit, seed)
    bank = LesionBank([les for c in fit for les in cut_lesions(c.images, c.clean, c.graded.geometry.dd_px)])
    bank.save(out / "lesion-bank.npz")
    summary = {
        "source": "IDRiD, A. Segmentation", "licence": LICENCE, "credit": CREDIT, "width": width, "seed": seed,
        "train": sorted(c.images.case.id for c in fit), "calibration": sorted(c.images.case.id for c in calib),
        "validation": sorted(c.images.case.id for c in test), "lesion_bank": bank.counts(),
        "derived_grades": {c.images.case.id: [c.graded.dr, c.graded.dme] for c in (*train, *test)},
    }
    (out / "real.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(f"done in {time.monotonic() - started:.0f} s: {len(fit)} training, {len(calib)} calibration, "
        f"{len(test)} validation photographs; {len(bank)} lesions banked {bank.counts()}")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ran-real", description=__doc__.split("\n\n")[0])
    p.add_argument("--idrid", required=True, help="IDRiD's segmentation part (the folder holding 'A. Segmentation')")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--width", type=int, default=1424, help="width of every image written, px (default 1424)")
    p.add_argument("--calibration", type=int, default=10,
                   help="training photographs held out to choose the operating point on (default 10)")
    p.add_argument("--train-copies", type=int, default=1,
                   help="write each training photograph this many times, with other decoys (default 1)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        prepare(Path(args.idrid), Path(args.out), width=args.width, calibration=args.calibration, seed=args.seed,
                train_copies=args.train_copies, log=lambda line: print(line, file=sys.stderr, flush=True))
    except (FileNotFoundError, ValueError) as exc:
        print(f"ran-real: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
