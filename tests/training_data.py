"""A tiny labelled data set in the generic CSV layout, made from the real sample photograph: dark dots whose number
grows with the DR grade, so a model can learn something in a few seconds."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from locations import REPO_ROOT

SAMPLE = REPO_ROOT / "resources" / "samples" / "normal_fundus_OS.jpg"


def write_dotted_dataset(folder: Path, count: int = 40, size: int = 192, seed: int = 0, with_dme: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(exist_ok=True)
    base = cv2.resize(cv2.imread(str(SAMPLE)), (size, size), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        grade = i % 5
        image = base.copy()
        for _ in range(grade * 8):
            x, y = rng.integers(size // 4, 3 * size // 4, 2)
            cv2.circle(image, (int(x), int(y)), max(2, size // 60), (10, 10, 90), -1)
        name = f"images/p{i // 2:03d}_{'left' if i % 2 else 'right'}.png"
        cv2.imwrite(str(folder / name), image)
        rows.append({"image": name, "dr": grade, "dme": min(grade, 2) if with_dme else "",
                     "patient": f"p{i // 2:03d}", "eye": "OS" if i % 2 else "OD"})
    with open(folder / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder
