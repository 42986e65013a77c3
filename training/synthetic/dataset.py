"""Writing a synthetic data set: images plus labels.csv in the project's generic CSV layout.

Layout (what training/datasets/generic_csv.py reads):

    out_dir/
        labels.csv        image,dr,dme,patient,eye,seed,camera_family,background
        synthetic.json    the parameters, so a resumed run can check it continues the same data set
        images/syn-000000_OD.jpg ...

Patients: about half have both eyes photographed, in the same session (same camera set-up) and with correlated
grades and shared pigmentation, so that splitting by patient matters as it does for real data sets. The plan for
N images is a prefix of the plan for more, so an interrupted or extended run continues where it stopped; images
already on disk are not rewritten (files are written to a temporary name and renamed, so a file that exists is
complete).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from training import lesion_masks
from training.fundus.anatomy import sample_appearance
from training.fundus.camera import FAMILIES, sample_camera
from training.synthetic.generate import DEFAULT_DR_WEIGHTS, DME_WEIGHTS, generate_fundus

LABEL_COLUMNS = ("image", "dr", "dme", "patient", "eye", "seed", "camera_family", "background", "lesions",
                 "lesion_mask")
LABELS_FILE = "labels.csv"
MANIFEST_FILE = "synthetic.json"
IMAGE_DIR = "images"
MASK_DIR = "masks"
FORMATS = ("jpg", "png")
_BOTH_EYES_P = 0.5
_JPEG_QUALITY = 95


@dataclass(frozen=True)
class ImageSpec:
    """Everything needed to generate one image of the data set, independently of every other."""

    index: int
    image: str  # path relative to out_dir
    seed: int
    patient: str
    patient_seed: int  # shared traits of the patient's eyes: camera session, pigmentation
    eye: str
    dr: int
    dme: int
    background: str
    camera_family: str
    size: int | None
    lesion_source: str = "painted"
    real_assets: str | None = None


@dataclass(frozen=True)
class DatasetSummary:
    written: int
    skipped: int
    labels: Path


def _weights(grade_distribution: Sequence[float] | dict[int, float] | None) -> np.ndarray:
    if grade_distribution is None:
        w = np.array(DEFAULT_DR_WEIGHTS, np.float64)
    elif isinstance(grade_distribution, dict):
        w = np.array([float(grade_distribution.get(g, 0.0)) for g in range(5)])
    else:
        w = np.array([float(v) for v in grade_distribution], np.float64)
    if w.shape != (5,) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"grade_distribution needs 5 non-negative weights for DR 0-4, got {grade_distribution!r}")
    return w / w.sum()


def _sub_seed(*keys: int) -> int:
    return int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint32)[0])


def plan_dataset(
    count: int,
    *,
    seed: int,
    size: int | None = 512,
    grade_distribution: Sequence[float] | dict[int, float] | None = None,
    real_background_fraction: float = 0.0,
    camera_family: str = "train",
    image_format: str = "jpg",
    real_lesion_fraction: float = 0.0,
    idrid_background_fraction: float = 0.0,
    real_assets: str | None = None,
) -> list[ImageSpec]:
    """The data set's images, in order; a prefix of the plan for any larger `count`.

    Each image draws its background (IDRiD lesion-free photographs with `idrid_background_fraction`, else the
    sample photograph with `real_background_fraction`, else synthetic) and, independently, whether its lesions
    come from the real lesion bank (`real_lesion_fraction`; always on IDRiD backgrounds). `real_assets` is the
    folder `ran-real` made, needed for either.
    """
    for name, value in (("real_lesion_fraction", real_lesion_fraction),
                        ("idrid_background_fraction", idrid_background_fraction)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in 0..1, not {value}")
    if (real_lesion_fraction or idrid_background_fraction) and not real_assets:
        raise ValueError("real lesions and IDRiD backgrounds need real_assets (a folder made by ran-real)")
    if count < 0:
        raise ValueError(f"count must not be negative, not {count}")
    if not 0.0 <= real_background_fraction <= 1.0:
        raise ValueError(f"real_background_fraction must lie in 0..1, not {real_background_fraction}")
    if camera_family not in FAMILIES:
        raise ValueError(f"camera_family must be one of {FAMILIES}, not {camera_family!r}")
    if image_format not in FORMATS:
        raise ValueError(f"image_format must be one of {FORMATS}, not {image_format!r}")
    weights = _weights(grade_distribution)
    specs: list[ImageSpec] = []
    k = 0
    while len(specs) < count:
        rng = np.random.default_rng([seed, 7, k])
        patient = f"syn{seed}-{k:06d}"
        patient_seed = _sub_seed(seed, 8, k)
        first_eye = str(rng.choice(["OD", "OS"]))
        dr1 = int(rng.choice(5, p=weights))
        dme1 = 0 if dr1 < 2 else int(rng.choice(3, p=DME_WEIGHTS))
        eyes = [(first_eye, dr1, dme1)]
        if rng.random() < _BOTH_EYES_P:
            # The fellow eye: usually the same or a neighbouring grade (diabetes affects both eyes).
            u = rng.random()
            if u < 0.55:
                dr2 = dr1
            elif u < 0.9:
                dr2 = int(np.clip(dr1 + rng.choice([-1, 1]), 0, 4))
            else:
                dr2 = int(rng.choice(5, p=weights))
            if dr2 < 2:
                dme2 = 0
            elif dme1 > 0 and rng.random() < 0.6:
                dme2 = dme1
            else:
                dme2 = int(rng.choice(3, p=DME_WEIGHTS))
            eyes.append(("OS" if first_eye == "OD" else "OD", dr2, dme2))
        for eye, dr, dme in eyes:
            index = len(specs)
            if index >= count:
                break
            img_seed = _sub_seed(seed, 9, index)
            draw = np.random.default_rng([img_seed, 10])
            real = draw.random() < real_background_fraction
            idrid = draw.random() < idrid_background_fraction
            real_lesions = idrid or draw.random() < real_lesion_fraction
            specs.append(
                ImageSpec(
                    index=index,
                    image=f"{IMAGE_DIR}/syn-{index:06d}_{eye}.{image_format}",
                    seed=img_seed,
                    patient=patient,
                    patient_seed=patient_seed,
                    eye=eye,
                    dr=dr,
                    dme=dme,
                    background="idrid" if idrid else "real" if real else "synthetic",
                    camera_family=camera_family,
                    size=size,
                    lesion_source="real" if real_lesions else "painted",
                    real_assets=str(real_assets) if real_lesions else None,
                )
            )
        k += 1
    return specs


def render_spec(spec: ImageSpec):
    """Generate the image a spec describes, with the patient's shared camera session and pigmentation."""
    patient_rng = np.random.default_rng([spec.patient_seed, 1])
    camera = sample_camera(patient_rng, spec.camera_family, spec.size)
    shared = sample_appearance(np.random.default_rng([spec.patient_seed, 2]))
    own = sample_appearance(np.random.default_rng([spec.seed, 5]), pigment=shared.pigment)
    appearance = replace(own, tessellation=shared.tessellation)
    return generate_fundus(
        spec.seed,
        dr=spec.dr,
        dme=spec.dme,
        eye=spec.eye,
        size=spec.size,
        background=spec.background,
        camera=camera,
        appearance=appearance,
        lesion_source=spec.lesion_source,
        real_assets=spec.real_assets,
    )


def _encode(image: np.ndarray, suffix: str) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY] if suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(suffix, image[..., ::-1], params)
    if not ok:
        raise RuntimeError(f"could not encode {suffix} image")
    return buf.tobytes()


def mask_name(image: str) -> str:
    """Where an image's lesion mask (training/lesion_masks.py) is written, relative to the data set."""
    return f"{MASK_DIR}/{Path(image).stem}.png"


def _write_one(args: tuple[ImageSpec, str]) -> bool:
    """Generate and write one image and its lesion mask unless both exist; True when written."""
    spec, out_dir = args
    path = Path(out_dir) / spec.image
    mask = Path(out_dir) / mask_name(spec.image)
    if path.is_file() and path.stat().st_size > 0 and mask.is_file():
        return False
    sample = render_spec(spec)
    lesion_masks.write(mask, sample.lesion_bits)  # before the image: an image on disk always has its mask
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(_encode(sample.image, path.suffix))
    os.replace(tmp, path)  # atomic: a half-written image never carries the final name
    return True


def _init_worker() -> None:
    # One OpenCV thread per worker process: the pool already uses every core.
    cv2.setNumThreads(1)


def _manifest(specs_params: dict) -> dict:
    return {"generator": "training.synthetic", "version": 1, **specs_params}


def _check_manifest(out_dir: Path, manifest: dict) -> None:
    path = out_dir / MANIFEST_FILE
    if path.is_file():
        old = json.loads(path.read_text())
        # The count may grow (the plan is prefix-stable); anything else would mix two different data sets.
        differs = {k for k in set(old) | set(manifest) if k != "count" and old.get(k) != manifest.get(k)}
        if differs:
            raise ValueError(
                f"{out_dir} holds a synthetic data set made with other parameters ({', '.join(sorted(differs))}); "
                "use another folder or the same parameters to resume"
            )


def write_labels(path: Path, specs: list[ImageSpec]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LABEL_COLUMNS)
        for s in specs:
            writer.writerow([s.image, s.dr, s.dme, s.patient, s.eye, s.seed, s.camera_family, s.background,
                             s.lesion_source, mask_name(s.image)])
    os.replace(tmp, path)


def write_dataset(
    out_dir: Path | str,
    count: int,
    *,
    seed: int = 0,
    size: int | None = 512,
    workers: int = 1,
    grade_distribution: Sequence[float] | dict[int, float] | None = None,
    real_background_fraction: float = 0.0,
    camera_family: str = "train",
    image_format: str = "jpg",
    progress: Callable[[int, int], None] | None = None,
    real_lesion_fraction: float = 0.0,
    idrid_background_fraction: float = 0.0,
    real_assets: str | Path | None = None,
) -> DatasetSummary:
    """Write `count` images and labels.csv under `out_dir`; skips images already there (resumable).

    size: image width in px, or None for a random 384-1024 per patient's camera. workers: processes (1 = this one).
    grade_distribution: 5 weights for DR 0-4 (default DEFAULT_DR_WEIGHTS). real_background_fraction: share of
    images painted on the real sample photograph. progress(done, total) is called as images complete.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    out = Path(out_dir)
    specs = plan_dataset(
        count,
        seed=seed,
        size=size,
        grade_distribution=grade_distribution,
        real_background_fraction=real_background_fraction,
        camera_family=camera_family,
        image_format=image_format,
        real_lesion_fraction=real_lesion_fraction,
        idrid_background_fraction=idrid_background_fraction,
        real_assets=None if real_assets is None else str(Path(real_assets).absolute()),
    )
    manifest = _manifest(
        {
            "seed": seed,
            "count": count,
            "size": size,
            "grade_distribution": [round(float(w), 6) for w in _weights(grade_distribution)],
            "real_background_fraction": real_background_fraction,
            "camera_family": camera_family,
            "image_format": image_format,
            **({"real_lesion_fraction": real_lesion_fraction, "idrid_background_fraction": idrid_background_fraction}
               if real_lesion_fraction or idrid_background_fraction else {}),
        }
    )
    _check_manifest(out, manifest)
    (out / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    jobs = [(s, str(out)) for s in specs]
    written = done = 0
    if workers == 1:
        for ok in map(_write_one, jobs):
            written += ok
            done += 1
            if progress:
                progress(done, len(jobs))
    else:
        ctx = multiprocessing.get_context("spawn")  # fork after OpenCV has started threads can deadlock
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            for ok in pool.imap_unordered(_write_one, jobs, chunksize=4):
                written += ok
                done += 1
                if progress:
                    progress(done, len(jobs))
    labels = out / LABELS_FILE
    write_labels(labels, specs)
    return DatasetSummary(written=written, skipped=len(jobs) - written, labels=labels)
