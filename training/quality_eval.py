"""`ran-quality-eval`: the quality gate on real photographs and on what cameras and bad captures do to them.

Every IDRiD photograph is gradable; so are its variants that a camera or a clinic makes of a good photograph (a
field cut flat at the top and bottom or at the sides, a shadow, a small pupil's dark rim, camera text, a pale
fundus). Defocus and underexposure must still be rejected. Prints the gate's confusion per variant as a Markdown
table (README's quality section shows it).

    ran-quality-eval --idrid ../shared/data/idrid-segmentation [--every 1]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from ran_desktop.engine.preprocess import detect_fov
from ran_desktop.engine.quality import QualityReport, assess_quality

WIDTH = 1424  # a third of IDRiD's originals: the gate measures at 512 px across the field anyway


def load(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise ValueError(f"{path}: not a readable photograph")
    h, w = bgr.shape[:2]
    return cv2.resize(bgr, (WIDTH, round(h * WIDTH / w)), interpolation=cv2.INTER_AREA)[..., ::-1].copy()


def cut(rgb: np.ndarray, half_height: float | None, half_width: float | None) -> np.ndarray:
    """The field cut flat at `half_height` / `half_width` radii from its centre, as many cameras frame it."""
    fov = detect_fov(rgb)
    (cx, cy), r = fov.center, fov.radius
    rows = slice(max(0, int(cy - half_height * r)), int(cy + half_height * r)) if half_height else slice(None)
    cols = slice(max(0, int(cx - half_width * r)), int(cx + half_width * r)) if half_width else slice(None)
    return rgb[rows, cols].copy()


def shade(rgb: np.ndarray, start: float, floor: float) -> np.ndarray:
    """Darker towards the bottom from `start` (fraction of the height) down to `floor` times the light."""
    h = rgb.shape[0]
    gain = np.ones(h, np.float32)
    gain[int(h * start):] = np.linspace(1.0, floor, h - int(h * start))
    return np.clip(rgb * gain[:, None, None], 0, 255).astype(np.uint8)


def small_pupil(rgb: np.ndarray) -> np.ndarray:
    fov = detect_fov(rgb)
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(xx - fov.center[0], yy - fov.center[1]) / fov.radius
    gain = np.clip(1.15 - 0.9 * np.clip(d - 0.3, 0, 1) ** 1.5, 0.2, 1.0)
    return np.clip(rgb * gain[..., None], 0, 255).astype(np.uint8)


def crescent(rgb: np.ndarray) -> np.ndarray:
    """A dark crescent on one side, as a small pupil or a misaligned camera casts."""
    fov = detect_fov(rgb)
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(xx - (fov.center[0] + 0.5 * fov.radius), yy - fov.center[1]) / fov.radius
    gain = cv2.GaussianBlur(np.where(d > 1.1, 0.25, 1.0).astype(np.float32), (0, 0), 15)
    return np.clip(rgb * gain[..., None], 0, 255).astype(np.uint8)


def camera_text(rgb: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    cv2.putText(out, "OD 2024-01-15 45deg", (10, out.shape[0] - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255,) * 3, 3)
    return out


def pale(rgb: np.ndarray) -> np.ndarray:
    return np.clip(255 * (rgb / 255.0) ** 0.55, 0, 255).astype(np.uint8)


def defocus(rgb: np.ndarray, sigma_of_1411: float = 4.0) -> np.ndarray:
    """Gaussian blur of `sigma_of_1411` px for a field 1411 px across (the gate's documented scale)."""
    return cv2.GaussianBlur(rgb, (0, 0), sigma_of_1411 * 2 * detect_fov(rgb).radius / 1411)


GRADABLE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as taken": lambda rgb: rgb,
    "cut top and bottom": lambda rgb: cut(rgb, 0.72, None),
    "cut at the sides": lambda rgb: cut(rgb, None, 0.8),
    "cut on all four sides": lambda rgb: cut(rgb, 0.62, 0.85),
    "shadow across the lower field": lambda rgb: shade(rgb, 0.6, 0.3),
    "deep shadow": lambda rgb: shade(rgb, 0.5, 0.15),
    "small pupil": small_pupil,
    "crescent": crescent,
    "camera text": camera_text,
    "pale fundus": pale,
}
UNGRADABLE: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "defocused (sigma 4 px of 1411)": (defocus, "out of focus"),
    "15 % exposure": (lambda rgb: (rgb * 0.15).astype(np.uint8), "too dark"),
}


def judge(rgb: np.ndarray) -> QualityReport:
    return assess_quality(rgb, detect_fov(rgb), (rgb.shape[1], rgb.shape[0]))


def photographs(idrid: Path, every: int = 1) -> list[Path]:
    found = sorted(Path(idrid).rglob("*.jpg"))
    if not found:
        raise FileNotFoundError(f"{idrid}: no IDRiD photographs (*.jpg) found")
    return found[::every]


def confusion(paths: Sequence[Path], log=lambda *_: None) -> list[tuple[str, bool, int, int, Counter]]:
    """Per variant: (name, should be gradable, judged as expected, photographs, reasons of the unexpected)."""
    rows = []
    variants = [(n, f, True) for n, f in GRADABLE.items()] + [(n, f, False) for n, (f, _) in UNGRADABLE.items()]
    for name, make, gradable in variants:
        right, reasons = 0, Counter()
        for path in paths:
            report = judge(make(load(path)))
            if report.gradable == gradable:
                right += 1
            else:
                reasons.update([r.split(" (")[0] for r in report.reasons] or ["judged gradable"])
        rows.append((name, gradable, right, len(paths), reasons))
        log(f"  {name}: {right}/{len(paths)}")
    return rows


def format_confusion(rows) -> str:
    out = ["| variant | should be | judged so | wrongly: why |", "| --- | --- | --- | --- |"]
    for name, gradable, right, total, reasons in rows:
        why = ", ".join(f"{r} {n}" for r, n in reasons.most_common()) or "-"
        out.append(f"| {name} | {'gradable' if gradable else 'ungradable'} | {right} of {total} | {why} |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ran-quality-eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--idrid", required=True, type=Path, help="IDRiD's segmentation part (or any folder of JPEGs)")
    p.add_argument("--every", type=int, default=1, help="use every N-th photograph (default: all)")
    args = p.parse_args(argv)
    try:
        rows = confusion(photographs(args.idrid, args.every), log=lambda line: print(line, file=sys.stderr))
    except (FileNotFoundError, ValueError) as exc:
        print(f"ran-quality-eval: {exc}", file=sys.stderr)
        return 2
    print(format_confusion(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
