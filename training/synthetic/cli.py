"""`ran-synth`: write a synthetic fundus data set (and optionally a contact sheet) from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from training.fundus.camera import FAMILIES
from training.synthetic.contact_sheet import write_contact_sheet
from training.synthetic.dataset import FORMATS, write_dataset


def _weights(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"grade weights must be 5 numbers separated by commas: {text!r}") from exc
    if len(values) != 5 or any(v < 0 for v in values) or sum(values) <= 0:
        raise argparse.ArgumentTypeError(f"grade weights must be 5 non-negative numbers, not all 0: {text!r}")
    return values


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ran-synth",
        description="Write synthetic colour fundus photographs with DR (ICDR 0-4) and DME (0-2) labels "
        "(labels.csv in the generic CSV layout). Re-running with the same options resumes.",
    )
    p.add_argument("--out", required=True, help="output folder (images/ and labels.csv are written there)")
    p.add_argument("--count", type=int, required=True, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    p.add_argument("--size", type=int, default=512, help="image width in px; 0 draws 384-1024 per camera (default 512)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--real-fraction", type=float, default=0.0,
                   help="share of images painted on the real sample photograph, 0..1 (default 0)")
    p.add_argument("--real-assets", default=None, metavar="DIR",
                   help="what ran-real made (lesion bank, lesion-free real photographs); needed by the next two")
    p.add_argument("--real-lesion-fraction", type=float, default=0.0,
                   help="share of images whose lesions are pasted from the real lesion bank, 0..1 (default 0)")
    p.add_argument("--idrid-fraction", type=float, default=0.0,
                   help="share of images on lesion-free real IDRiD photographs (always with real lesions), 0..1")
    p.add_argument("--camera-family", choices=FAMILIES, default="train",
                   help="camera parameter family; 'heldout' is kept apart for evaluation (default train)")
    p.add_argument("--grade-weights", type=_weights, default=None, metavar="W0,W1,W2,W3,W4",
                   help="relative frequency of DR grades 0-4 (default 0.28,0.18,0.18,0.18,0.18)")
    p.add_argument("--format", choices=FORMATS, default="jpg", help="image file format (default jpg, quality 95)")
    p.add_argument("--contact-sheet", default=None, metavar="PNG", help="also write a labelled contact sheet here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.count < 0 or args.workers < 1 or args.size < 0 or not 0.0 <= args.real_fraction <= 1.0:
        print("ran-synth: --count and --size must be >= 0, --workers >= 1, --real-fraction in 0..1", file=sys.stderr)
        return 2
    start = time.monotonic()
    step = max(args.count // 20, 1)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            rate = done / max(time.monotonic() - start, 1e-6)
            print(f"{done}/{total} images ({rate:.1f}/s)", file=sys.stderr, flush=True)

    try:
        summary = write_dataset(
            args.out,
            args.count,
            seed=args.seed,
            size=args.size or None,
            workers=args.workers,
            grade_distribution=args.grade_weights,
            real_background_fraction=args.real_fraction,
            camera_family=args.camera_family,
            image_format=args.format,
            progress=progress,
            real_lesion_fraction=args.real_lesion_fraction,
            idrid_background_fraction=args.idrid_fraction,
            real_assets=args.real_assets,
        )
    except ValueError as exc:
        print(f"ran-synth: {exc}", file=sys.stderr)
        return 2
    print(f"{summary.written} written, {summary.skipped} already there; labels: {summary.labels}")
    if args.contact_sheet:
        sheet = write_contact_sheet(args.contact_sheet, seed=args.seed, size=args.size or 512,
                                    camera_family=args.camera_family, real_assets=args.real_assets)
        print(f"contact sheet: {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
