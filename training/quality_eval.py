"""`ran-quality-eval`: the quality gate on real photographs and on what cameras and bad captures do to them.

Every IDRiD photograph is gradable; so are its variants that a camera or a clinic makes of a good photograph (a
field cut flat at the top and bottom or at the sides, a shadow, a small pupil's dark rim, camera text, a pale
fundus, a dim exposure, severe disease's membranes). Defocus, underexposure, a hazy lens, a screenshot and a
photograph of a screen must still be rejected. Prints the gate's confusion per variant as a Markdown
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

from ran_desktop.engine.imaging.preprocess import detect_fov
from ran_desktop.engine.imaging.quality import QualityReport, assess_quality

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


def pale(rgb: np.ndarray, mean: float = 205.0) -> np.ndarray:
    """A lightly pigmented fundus, well exposed: the retina reflects more light (mean luminance `mean`, above the old
    gate's 200, where the photograph allows it); the camera's tone curve is linear to 85 % of full scale and rolls the
    highlights off above it."""
    fov = detect_fov(rgb)
    x = rgb.astype(np.float32) / 255.0

    def tone(v: np.ndarray) -> np.ndarray:
        knee = 0.85
        return np.where(v < knee, v, knee + (1 - knee) * (1 - np.exp(-(v - knee) / (1 - knee))))

    def exposed(gain: float) -> tuple[np.ndarray, float, float]:
        out = np.clip(255 * tone(x * gain), 0, 255).astype(np.uint8)
        lum = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[fov.mask]
        return out, float(lum.mean()), float(np.mean(lum >= 250))

    # The gain that lifts the field's mean luminance to `mean`, or as far as a well-exposed photograph goes (at most
    # 2 % of the field saturated: a photograph with a large bright disc or exudates washes out before that).
    gain = 1.0
    for _ in range(40):
        out, lum, saturated = exposed(gain)
        step = 1 + 0.5 * (mean - lum) / mean
        if saturated > 0.02 and step > 1:
            step = 0.97
        gain *= step
    return exposed(gain)[0]


def fibrovascular(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """Severe disease that is not defocus: pale, smooth fibrovascular membranes over part of the retina."""
    fov = detect_fov(rgb)
    (cx, cy), r = fov.center, fov.radius
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    veil = np.zeros((h, w), np.float32)
    for _ in range(6):
        angle, dist, size = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.7) * r, rng.uniform(0.05, 0.15) * r
        bx, by = cx + dist * np.cos(angle), cy + dist * np.sin(angle)
        veil += np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * size * size))
    out = rgb.astype(np.float32) + 70 * np.clip(veil, 0, 1.5)[..., None] * np.array([1.0, 0.9, 0.8], np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def hazy_lens(rgb: np.ndarray, keep: float = 0.2) -> np.ndarray:
    """A cataract's or flare's haze: the field's contrast cut to `keep` of itself around its mean colour."""
    disc = detect_fov(rgb).mask[..., None]
    mean = rgb[disc[..., 0]].mean(axis=0)
    return np.where(disc, keep * rgb + (1 - keep) * mean, rgb).astype(np.uint8)


def screenshot(rgb: np.ndarray) -> np.ndarray:
    """The photograph as a screenshot of a viewer: small, on a light window with a toolbar and text."""
    canvas = np.full((1080, 1920, 3), 236, np.uint8)
    canvas[:60] = (60, 63, 70)
    small = cv2.resize(rgb, (900, round(rgb.shape[0] * 900 / rgb.shape[1])), interpolation=cv2.INTER_AREA)
    canvas[120:120 + small.shape[0], 60:960] = small
    for i, line in enumerate(["Patient: 0042", "Right eye", "2024-01-15", "Notes: follow-up"]):
        cv2.putText(canvas, line, (1020, 180 + 60 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (30, 30, 30), 2)
    return canvas


def photo_of_screen(rgb: np.ndarray) -> np.ndarray:
    """The photograph shown on a monitor and photographed with a phone: a lit room, a bezel, a tilt, moire."""
    h, w = 1500, 2000
    room = np.linspace(120, 170, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    screen = cv2.resize(rgb, (1000, round(rgb.shape[0] * 1000 / rgb.shape[1])), interpolation=cv2.INTER_AREA)
    sh, sw = screen.shape[:2]
    monitor = np.full((sh + 80, sw + 80, 3), 25, np.float32)
    yy, xx = np.mgrid[:sh, :sw]
    moire = 1 + 0.08 * np.sin(xx * 0.9 + yy * 0.35)
    monitor[40:40 + sh, 40:40 + sw] = np.clip(screen * moire[..., None] + 18, 0, 255)
    mh, mw = monitor.shape[:2]
    src = np.array([[0, 0], [mw, 0], [mw, mh], [0, mh]], np.float32)
    dst = np.array([[520, 300], [1480, 360], [1460, 1180], [540, 1230]], np.float32)
    warped = cv2.warpPerspective(monitor, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=(-1, -1, -1))
    out = np.where(warped >= 0, warped, room)
    noise = np.random.default_rng(0).normal(0, 4, out.shape)
    return np.clip(cv2.GaussianBlur(out, (0, 0), 1.2) + noise, 0, 255).astype(np.uint8)


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
    "pale fundus (mean 205)": pale,
    "fibrovascular membranes": fibrovascular,
    "dim (half exposure)": lambda rgb: (rgb * 0.5).astype(np.uint8),
}
UNGRADABLE: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "defocused (sigma 4 px of 1411)": (defocus, "out of focus"),
    "15 % exposure": (lambda rgb: (rgb * 0.15).astype(np.uint8), "too dark"),
    "hazy lens (contrast cut to 20 %)": (hazy_lens, "low contrast"),
    "screenshot of a viewer": (screenshot, "no fundus field of view found"),
    "photograph of a screen": (photo_of_screen, "no fundus field of view found"),
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
        right, reasons = 0, Counter[str]()
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
