"""Tiny trees in IDRiD's distributed layout and lesioned fundi, for the real-data tests of training and the model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.datasets.idrid_segmentation import LESIONS
from training.synthetic.generate import generate_fundus

FOLDERS = {"MA": "1. Microaneurysms", "HE": "2. Haemorrhages", "EX": "3. Hard Exudates", "SE": "4. Soft Exudates",
           "OD": "5. Optic Disc"}
W, H = 960, 640


def disc(xy=(250, 300), r=45) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    cv2.circle(m, xy, r, 255, -1)
    return m


def photo(seed: int) -> np.ndarray:
    """A real-looking fundus (the generator's) with a darker macula, as a camera would frame it."""
    sample = generate_fundus(seed, dr=0, dme=0, eye="OS", field="macula", size=W)
    img = cv2.resize(sample.image, (W, H), interpolation=cv2.INTER_AREA)
    return img


def write_tree(root: Path, *, with_se: bool) -> Path:
    """A tiny tree in IDRiD's distributed layout: one training and one testing photograph with masks."""
    seg = root / "A. Segmentation"
    for split, part, name in (("train", "a. Training Set", "IDRiD_01"), ("test", "b. Testing Set", "IDRiD_55")):
        images = seg / "1. Original Images" / part
        images.mkdir(parents=True)
        cv2.imwrite(str(images / f"{name}.jpg"), photo(3 if split == "train" else 4)[..., ::-1])
        truths = seg / "2. All Segmentation Groundtruths" / part
        masks = {"OD": disc(), "MA": np.zeros((H, W), np.uint8), "HE": np.zeros((H, W), np.uint8),
                 "EX": np.zeros((H, W), np.uint8), "SE": np.zeros((H, W), np.uint8)}
        cv2.circle(masks["MA"], (600, 200), 3, 255, -1)
        cv2.circle(masks["HE"], (700, 420), 9, 255, -1)
        cv2.circle(masks["EX"], (520, 330), 6, 255, -1)
        cv2.circle(masks["SE"], (480, 150), 14, 255, -1)
        for kind, folder in FOLDERS.items():
            if kind == "SE" and not (with_se and split == "train"):
                continue  # IDRiD ships no mask where a photograph has no soft exudate
            (truths / folder).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(truths / folder / f"{name}_{kind}.tif"), masks[kind])
    return root


def lesioned(seed: int = 5):
    """A fundus with bright and dark blobs painted on, and the blobs' masks."""
    rng = np.random.default_rng(seed)
    base = photo(seed)
    img = base.copy()
    masks = {k: np.zeros((H, W), bool) for k in (*LESIONS, "OD")}
    for kind, colour, n in (("EX", (250, 230, 90), 6), ("HE", (90, 10, 10), 5), ("MA", (110, 20, 20), 8)):
        for _ in range(n):
            x, y = int(rng.integers(380, 760)), int(rng.integers(180, 480))
            r = int(rng.integers(2, 8)) if kind != "MA" else 2
            m = np.zeros((H, W), np.uint8)
            cv2.circle(m, (x, y), r, 1, -1)
            img[m.astype(bool)] = colour
            masks[kind] |= m.astype(bool)
    masks["OD"] = disc().astype(bool)
    return base, img, masks
