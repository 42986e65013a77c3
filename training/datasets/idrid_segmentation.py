"""IDRiD part A, "Segmentation", as distributed: real photographs with expert lesion masks, no grades.

    A. Segmentation/
        1. Original Images/
            a. Training Set/IDRiD_01.jpg ... IDRiD_54.jpg
            b. Testing Set/IDRiD_55.jpg ... IDRiD_81.jpg
        2. All Segmentation Groundtruths/
            a. Training Set/
                1. Microaneurysms/IDRiD_01_MA.tif
                2. Haemorrhages/IDRiD_01_HE.tif
                3. Hard Exudates/IDRiD_01_EX.tif
                4. Soft Exudates/IDRiD_01_SE.tif     (only where the photograph has any: a missing file means none)
                5. Optic Disc/IDRiD_01_OD.tif
            b. Testing Set/ ...

`root` may be "A. Segmentation" itself or the IDRiD folder holding it. Masks are 0/255 (or 1-bit) TIFFs at the
photograph's size. As a training data set (`--data idrid-seg:PATH`) each photograph gets the DR and DME grades its
masks imply (`training/datasets/idrid_grading.py`); the authors' train/test split is kept as `split_hint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SOURCE = "idrid-seg"
SEGMENTATION = "A. Segmentation"
LESIONS = ("MA", "HE", "EX", "SE")  # microaneurysms, haemorrhages, hard exudates, soft exudates
DISC = "OD"
_FOLDERS = {"MA": "1. Microaneurysms", "HE": "2. Haemorrhages", "EX": "3. Hard Exudates", "SE": "4. Soft Exudates",
            "OD": "5. Optic Disc"}
_SPLITS = (("train", "a. Training Set"), ("test", "b. Testing Set"))


@dataclass(frozen=True)
class SegmentationCase:
    """One photograph and its mask files (None: no lesion of that kind, as IDRiD ships no empty masks)."""

    name: str  # "IDRiD_01"
    split: str  # "train" / "test"
    image: Path
    masks: dict[str, Path | None]  # LESIONS and DISC -> file

    @property
    def id(self) -> str:
        return f"{self.split}/{self.name}"


@dataclass
class CaseImages:
    """A photograph decoded at some width, with its masks resized to match (nearest neighbour, so still binary)."""

    case: SegmentationCase
    rgb: np.ndarray  # uint8 (H, W, 3)
    masks: dict[str, np.ndarray]  # LESIONS and DISC -> bool (H, W); all False where the kind is absent
    scale: float  # this width / the original width


def segmentation_folder(root: Path) -> Path | None:
    for folder in (root, root / SEGMENTATION, root / SEGMENTATION / SEGMENTATION):
        if (folder / "1. Original Images").is_dir() and (folder / "2. All Segmentation Groundtruths").is_dir():
            return folder
    return None


def detect(root: Path) -> bool:
    return segmentation_folder(Path(root)) is not None


def load_cases(root: Path | str, split: str | None = None) -> list[SegmentationCase]:
    """Every photograph with its masks, in name order; `split` "train" or "test" keeps one of the authors' sets."""
    folder = segmentation_folder(Path(root).absolute())
    if folder is None:
        raise FileNotFoundError(f"{root}: no '{SEGMENTATION}' folder with '1. Original Images' and "
                                "'2. All Segmentation Groundtruths'")
    cases = []
    for hint, part in _SPLITS:
        if split not in (None, hint):
            continue
        images = folder / "1. Original Images" / part
        truths = folder / "2. All Segmentation Groundtruths" / part
        if not images.is_dir():
            continue
        for image in sorted(images.glob("IDRiD_*.jpg")):
            masks: dict[str, Path | None] = {}
            for kind, sub in _FOLDERS.items():
                path = truths / sub / f"{image.stem}_{kind}.tif"
                masks[kind] = path if path.is_file() else None
            if masks[DISC] is None:
                raise FileNotFoundError(f"{image.name}: no optic disc mask in {truths / _FOLDERS[DISC]}")
            cases.append(SegmentationCase(image.stem, hint, image, masks))
    if not cases:
        raise FileNotFoundError(f"{folder}: no photographs IDRiD_*.jpg under '1. Original Images'")
    return cases


def read_mask(path: Path | None, shape: tuple[int, int]) -> np.ndarray:
    """A mask file as bool (H, W) at `shape`; all False for None (the lesion kind is absent)."""
    if path is None:
        return np.zeros(shape, bool)
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"{path}: not a readable mask image")
    if mask.shape != shape:
        mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        return mask >= 64  # a lesion pixel still covers a quarter of the smaller pixel
    return mask > 0


def read_case(case: SegmentationCase, width: int | None = None) -> CaseImages:
    """Decode the photograph (at `width` px wide, None: full size) and its masks at the same size."""
    bgr = cv2.imread(str(case.image), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{case.image}: not a readable photograph")
    full_w = bgr.shape[1]
    if width is not None and width != full_w:
        height = round(bgr.shape[0] * width / full_w)
        bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    shape = rgb.shape[:2]
    masks = {kind: read_mask(case.masks[kind], shape) for kind in (*LESIONS, DISC)}
    return CaseImages(case, rgb, masks, rgb.shape[1] / full_w)
