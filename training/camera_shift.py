"""`ran-camera-shift`: how the app's referable flag holds when photographs look as another camera or a harder
exposure makes them: darker or brighter, a colour cast, lower resolution with JPEG compression, defocus, sensor noise,
a field of view cut at the top and bottom.

Each change is made to every photograph of a labelled set, and the changed copies go through the app's own path
(`Screener`: decode, quality gate, field of view, preprocessing, the model, its operating point), so what is
measured is what a clinic would see: the referable flag's sensitivity and specificity on the gradable photographs,
the referable probability's AUC, and how many the quality gate turned away. The changes stand in for cameras the
model never saw; they do not replace measuring on that camera's photographs.

    ran-camera-shift --model models/ran18-real --data csv:data/real2/validation --out runs/camera-shift --card
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

from ran_desktop.engine.model.bundle import LoadedModel, load_bundle
from ran_desktop.engine.records.results import ScreeningResult, Status
from ran_desktop.engine.records.review import is_referable
from ran_desktop.engine.screening.screener import Screener
from training.datasets import Record
from training.sources import describe, load_sources

Change = Callable[[np.ndarray], np.ndarray]  # BGR uint8 photograph -> changed copy


def _gamma(value: float) -> Change:
    table = (255 * (np.arange(256) / 255.0) ** value).round().astype(np.uint8)
    return lambda image: cv2.LUT(image, table)


def _gain(blue: float, green: float, red: float) -> Change:
    gains = np.array([blue, green, red], np.float32)
    return lambda image: np.clip(image.astype(np.float32) * gains, 0, 255).astype(np.uint8)


def _smaller_jpeg(width: int, quality: int) -> Change:
    def change(image: np.ndarray) -> np.ndarray:
        height = round(image.shape[0] * width / image.shape[1])
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        _ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return np.asarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR))
    return change


def _noise(sigma: float) -> Change:
    def change(image: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(0)  # the same noise every run: results repeat
        return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)
    return change


def _cut(fraction: float) -> Change:
    def change(image: np.ndarray) -> np.ndarray:
        cut = int(image.shape[0] * fraction)
        return image[cut:image.shape[0] - cut]
    return change


@dataclass(frozen=True)
class Shift:
    name: str
    description: str
    change: Change


SHIFTS = (
    Shift("as_taken", "the photographs as they are", lambda image: image),
    Shift("darker", "darker exposure (gamma 1.6: a small pupil, a dark iris)", _gamma(1.6)),
    Shift("dim", "half the light (every channel x 0.55)", _gain(0.55, 0.55, 0.55)),
    Shift("brighter", "brighter exposure (gamma 0.6)", _gamma(0.6)),
    Shift("yellow_cast", "a yellow cast (blue x 0.7)", _gain(0.7, 1.05, 1.0)),
    Shift("red_cast", "a red cast (red x 1.15, green x 0.8)", _gain(0.9, 0.8, 1.15)),
    Shift("small_jpeg", "1,000 px wide, JPEG quality 60 (a smaller camera, a compressed archive)",
          _smaller_jpeg(1000, 60)),
    Shift("low_resolution", "640 px wide, JPEG quality 90", _smaller_jpeg(640, 90)),
    Shift("defocus", "defocus (Gaussian blur, sigma 3 px at 1,424 px wide)", lambda image: cv2.GaussianBlur(
        image, (0, 0), 3 * image.shape[1] / 1424)),
    Shift("noise", "sensor noise (sigma 8 grey levels)", _noise(8.0)),
    Shift("cut_field", "the field of view cut at top and bottom (12 % each)", _cut(0.12)),
)
SHIFT_NAMES = tuple(s.name for s in SHIFTS)


def write_shifted(records: Sequence[Record], shift: Shift, folder: Path) -> list[Path]:
    """Each photograph changed by `shift`, as a JPEG of quality 95 in `folder` (as taken: the files themselves)."""
    if shift.name == "as_taken":
        return [r.image for r in records]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, record in enumerate(records):
        image = cv2.imread(str(record.image), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{record.image}: cannot be read as a photograph")
        path = folder / f"{n:05d}_{record.image.stem}.jpg"
        cv2.imwrite(str(path), shift.change(image), [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths


def referable_truth(record: Record) -> bool | None:
    """Referable by the labels (DR >= 2 or DME >= 1); None where the set grades neither question."""
    if record.dr is None and record.dme is None:
        return None
    return (record.dr or 0) >= 2 or (record.dme or 0) >= 1


def shift_metrics(truth: Sequence[bool], results: Sequence[ScreeningResult]) -> dict[str, Any]:
    """The referable flag on the gradable photographs (the app's own grades), the AUC of its probability, and how
    many the quality gate turned away or could not read."""
    gradable = [(t, r) for t, r in zip(truth, results, strict=True) if r.status is Status.SCREENED]
    positives = [is_referable((r.dr_grade, r.dme_grade)) for t, r in gradable if t]
    negatives = [is_referable((r.dr_grade, r.dme_grade)) for t, r in gradable if not t]
    labels = [t for t, _ in gradable]
    scores = [r.referable_probability or 0.0 for _, r in gradable]
    return {
        "images": len(results),
        "ungradable": sum(r.status is Status.UNGRADABLE for r in results),
        "unreadable": sum(r.status is Status.ERROR for r in results),
        "referable": len(positives), "not_referable": len(negatives),
        "sensitivity": float(np.mean(positives)) if positives else None,
        "specificity": 1 - float(np.mean(negatives)) if negatives else None,
        "auc": float(roc_auc_score(labels, scores)) if positives and negatives else None,
    }


def measure(loaded: LoadedModel, records: Sequence[Record], shifts: Sequence[Shift], scratch: Path,
            progress: Callable[[str], None] = lambda _line: None) -> dict[str, dict[str, Any]]:
    """Every shift's metrics, the labelled photographs changed and screened through the app's own path."""
    labelled = [(r, t) for r in records if (t := referable_truth(r)) is not None]
    if not labelled:
        raise ValueError("no photograph in the data says whether it is referable (DR or DME grade)")
    screener = Screener(loaded)
    out: dict[str, dict[str, Any]] = {}
    for shift in shifts:
        paths = write_shifted([r for r, _ in labelled], shift, scratch / shift.name)
        by_path = {r.path: r for r in screener.screen(paths)}
        results = [by_path[path] for path in paths]
        out[shift.name] = {"description": shift.description, **shift_metrics([t for _, t in labelled], results)}
        progress(f"{shift.name}: {format_row(out[shift.name])}")
    return out


def format_row(m: dict[str, Any]) -> str:
    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"
    return (f"sensitivity {fmt(m['sensitivity'])}, specificity {fmt(m['specificity'])}, AUC {fmt(m['auc'])}, "
            f"ungradable {m['ungradable']} of {m['images']}")


CARD_START = "<!-- camera-shift: written by ran-camera-shift -->"
CARD_END = "<!-- /camera-shift -->"


def card_section(title: str, data: str, measured: dict[str, dict[str, Any]]) -> str:
    """The model card's section: one row per change, the photographs as taken first."""
    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"
    first = next(iter(measured.values()))
    rows = "\n".join(
        f"| {m['description']} | {fmt(m['sensitivity'])} | {fmt(m['specificity'])} | {fmt(m['auc'])} | "
        f"{m['ungradable']} of {m['images']} |" for m in measured.values())
    text = (f"{data}: {first['referable']} referable and {first['not_referable']} not, each changed as another camera "
            "or a harder exposure would show it, then screened through the app's own path (" + title + ": quality "
            "gate, preprocessing, model and its operating point). Sensitivity and specificity of the referable flag "
            "on the photographs the gate let through (a photograph it turns away is re-imaged or referred, never "
            "passed), AUC of the referable probability. With this few photographs one image moves specificity by "
            f"about {1 / max(first['not_referable'], 1):.3f}. These changes stand in for cameras this model never "
            "saw; they do not replace measuring on that camera's photographs. Reproduce with `ran-camera-shift`.")
    return f"""{CARD_START}
## Camera differences: the referable flag on changed copies of real photographs
{textwrap.fill(text, 118)}

| change | sensitivity | specificity | AUC | ungradable |
| --- | --- | --- | --- | --- |
{rows}

{CARD_END}
"""


def put_section(card: str, section: str) -> str:
    """`card` with the camera section replaced, or added before "## Limits" (else at the end)."""
    pattern = re.compile(re.escape(CARD_START) + ".*?" + re.escape(CARD_END) + "\n?", re.S)
    if pattern.search(card):
        return pattern.sub(lambda _m: section, card, count=1)
    at = card.find("\n## Limits")
    return card + "\n" + section if at < 0 else card[:at + 1] + section + "\n" + card[at + 1:]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ran-camera-shift", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="the model bundle")
    p.add_argument("--data", action="append", required=True, help="labelled photographs, KIND:PATH (csv:, idrid:...)")
    p.add_argument("--out", type=Path, required=True, help="folder for camera-shift.json")
    p.add_argument("--shift", action="append", choices=SHIFT_NAMES, help="only these changes (default: all)")
    p.add_argument("--card", action="store_true", help="write the results into the bundle's MODEL_CARD.md")
    p.add_argument("--data-name", help="what the card calls the data (default: from the data's own description)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    try:
        loaded = load_bundle(args.model, device=args.device)
        records, described = load_sources(args.data)
        shifts = [s for s in SHIFTS if not args.shift or s.name in args.shift]
        with tempfile.TemporaryDirectory(prefix="ran-camera-shift-") as scratch:
            measured = measure(loaded, records, shifts, Path(scratch), progress=print)
    except (ValueError, OSError) as exc:
        print(f"ran-camera-shift: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "camera-shift.json").write_text(json.dumps(
        {"model": loaded.manifest.title, "data": described, "shifts": measured}, indent=2) + "\n")
    if args.card:
        card = args.model / "MODEL_CARD.md"
        data = args.data_name or describe(described)
        card.write_text(put_section(card.read_text(encoding="utf-8") if card.exists() else "",
                                    card_section(loaded.manifest.title, data, measured)), encoding="utf-8")
        print(f"written into {card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
