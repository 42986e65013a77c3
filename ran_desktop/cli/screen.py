"""`ran-screen`: screen photographs from the command line and write results as CSV or JSON.

Exit status: 0 when every image was screened (gradable or not), 1 when some files could not be read
(they are listed on stderr), 2 for usage errors (bad arguments, no usable model).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import cv2
from tqdm import tqdm

from ..engine.bundle import find_bundles, load_bundle
from ..engine.errors import BundleError
from ..engine.gradcam import overlay_heatmap, upsample_heatmap
from ..engine.loading import iter_image_files
from ..engine.results import ScreeningResult, Status, write_results
from ..engine.screener import ScreeningOptions, Screener
from ..paths import models_dir

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ran-screen",
        description="Screen colour fundus photographs for diabetic retinopathy and macular edema with the RAN model.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="image files or folders (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="results file: .csv or .json")
    parser.add_argument("--heatmaps", type=Path, metavar="DIR", help="also write Grad-CAM overlays (PNG) here")
    parser.add_argument("--model", type=Path, metavar="DIR", help="model bundle folder (default: the bundled one)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: RAN_DEVICE or auto)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="decoding threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out.suffix.lower() not in (".csv", ".json"):
        parser.error(f"--out must end in .csv or .json, got {args.out.name!r}")
    if args.batch_size < 1 or args.workers < 1:
        parser.error("--batch-size and --workers must be at least 1")

    model_folder = args.model or next(iter(find_bundles(models_dir())), None)
    if model_folder is None:
        print(f"ran-screen: no model bundle in {models_dir()}; give one with --model", file=sys.stderr)
        return EXIT_USAGE
    try:
        loaded = load_bundle(model_folder, device=args.device)
    except (BundleError, ValueError) as exc:
        print(f"ran-screen: cannot use the model: {exc}", file=sys.stderr)
        return EXIT_USAGE

    manifest = loaded.manifest
    print(f"Model: {manifest.title} on {loaded.device.description}; trained on: "
          f"{manifest.training_data['description']}", file=sys.stderr)
    if loaded.device.note:
        print(f"Note: {loaded.device.note}", file=sys.stderr)
    if manifest.clinical_warning:
        print(f"WARNING: {manifest.clinical_warning}", file=sys.stderr)

    if args.heatmaps:
        args.heatmaps.mkdir(parents=True, exist_ok=True)
    screener = Screener(loaded, ScreeningOptions(batch_size=args.batch_size, workers=args.workers,
                                                 heatmaps=args.heatmaps is not None))
    total = sum(1 for _ in iter_image_files(args.paths))
    results: list[ScreeningResult] = []
    with tqdm(total=total, unit="file", disable=args.quiet, file=sys.stderr, desc="Screening") as bar:
        for result in screener.screen(args.paths):
            if args.heatmaps and result.heatmap is not None and result.view is not None:
                _write_overlay(result, args.heatmaps)
            result.heatmap = result.view = None  # written; keep memory flat on big batches
            results.append(result)
            if result.metadata is None or result.metadata.frame_index in (None, 0):
                bar.update(1)
    write_results(results, args.out)

    failed = [r for r in results if r.status is Status.ERROR]
    screened = sum(r.status is Status.SCREENED for r in results)
    ungradable = sum(r.status is Status.UNGRADABLE for r in results)
    print(f"{len(results)} image(s): {screened} screened, {ungradable} ungradable, {len(failed)} failed. "
          f"Results: {args.out}", file=sys.stderr)
    for r in failed:
        print(f"  failed: {r.path}: {r.error}", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _write_overlay(result: ScreeningResult, folder: Path) -> None:
    view = result.view
    heat = upsample_heatmap(result.heatmap, (view.shape[1], view.shape[0]))
    overlay = overlay_heatmap(view, heat, opacity=0.45)
    # Same-named files from different folders must not overwrite each other's overlays.
    tag = hashlib.sha1(result.key.encode("utf-8")).hexdigest()[:8]
    frame = "" if result.metadata is None or result.metadata.frame_index is None else f"_frame{result.metadata.frame_index + 1}"
    target = folder / f"{result.path.stem}{frame}_{tag}_gradcam.png"
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    if ok:
        target.write_bytes(encoded.tobytes())  # imencode + write: cv2.imwrite cannot write non-ASCII paths on Windows


if __name__ == "__main__":
    sys.exit(main())
