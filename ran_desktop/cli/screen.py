"""`ran-screen`: screen photographs from the command line and write results as CSV or JSON.

Exit status: 0 when every image was screened (gradable or not), 1 when some files could not be read
(they are listed on stderr), 2 for usage errors (bad arguments, no usable model, an --out folder that cannot be
written), 3 when the results were written but the PDF reports (--report) could not be, 4 when the results file
could not be written after screening (disk full...; nothing half-written is left).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

# The reports (reportlab) load through their package's lazy names, only for --report.
from ran_desktop import reports
from ran_desktop.engine import screening
from ran_desktop.engine.atomic import check_writable_folder, ensure_writable_folder
from ran_desktop.engine.errors import BundleError, WriteError
from ran_desktop.engine.imaging.loading import iter_image_files
from ran_desktop.engine.model.bundle import LoadedModel, choose_bundle, find_bundles, load_bundle
from ran_desktop.engine.model.provenance import check_unambiguous
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.results import CSV_COLUMNS, ScreeningResult, Status, write_results, write_rows
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.engine.screening.overlays import write_overlay
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions
from ran_desktop.offline import forbid_network_libraries
from ran_desktop.paths import installed_models_dir, models_dir

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_REPORT_FAILED = 0, 1, 2, 3
EXIT_WRITE_FAILED = 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ran-screen",
        description="Screen colour fundus photographs for diabetic retinopathy and macular edema with the RAN model.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="image files or folders (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="results file: .csv or .json")
    parser.add_argument("--heatmaps", type=Path, metavar="DIR", help="also write Grad-CAM overlays (PNG) here")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="also write PDF reports here: one per patient and a batch summary (never overwrites)")
    parser.add_argument("--model", type=Path, metavar="DIR", help="model bundle folder (default: the bundled one)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: RAN_DEVICE or auto)")
    parser.add_argument("--runtime", choices=["torch", "onnx"],
                        help="what runs the network: torch (the default where PyTorch is installed; RAN_RUNTIME) or "
                             "onnx (ONNX Runtime on the CPU, with the bundle's inference graph; the only one in the "
                             "CPU build)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, help="decoding threads (default: from the cores and the device)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="screen on a Ray cluster: 'auto' starts one on this machine, an address (ray://host:10001 "
                             "or host:6379) joins one; needs the optional 'cluster' extra. Resumable: run the same "
                             "command again after a stop and finished files are kept")
    parser.add_argument("--cluster-workers", type=int, default=0, metavar="N",
                        help="model copies on the cluster (default: one per GPU on CUDA, else one per CPU)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out.suffix.lower() not in (".csv", ".json"):
        parser.error(f"--out must end in .csv or .json, got {args.out.name!r}")
    if args.batch_size < 1 or (args.workers is not None and args.workers < 1):
        parser.error("--batch-size and --workers must be at least 1")
    if not args.cluster:  # Ray needs requests; a run on this machine never does
        forbid_network_libraries()
    if args.cluster and args.report:
        parser.error("--report is made on one machine: screen on the cluster first, then make reports from a "
                     "smaller run without --cluster")
    if args.cluster_workers < 0:
        parser.error("--cluster-workers must be 0 (automatic) or more")

    try:
        if args.model is not None:
            check_unambiguous(args.model, find_bundles(installed_models_dir()))
            model_folder: Path | None = args.model
        else:
            model_folder = choose_bundle(models_dir(), also_known=[installed_models_dir()])
        if model_folder is None:
            print(f"ran-screen: no model bundle in {models_dir()}; give one with --model", file=sys.stderr)
            return EXIT_USAGE
        loaded = load_bundle(model_folder, device=args.device, runtime=args.runtime)
    except (BundleError, ValueError) as exc:
        print(f"ran-screen: cannot use the model: {exc}", file=sys.stderr)
        return EXIT_USAGE

    manifest = loaded.manifest
    print(f"Model: {manifest.title} on {loaded.device_text}; trained on: "
          f"{manifest.training_data['description']}", file=sys.stderr)
    if loaded.device.note:
        print(f"Note: {loaded.device.note}", file=sys.stderr)
    print(f"Bundle: {loaded.folder} (weights sha256 {manifest.weights['sha256'][:16]})", file=sys.stderr)
    if manifest.clinical_warning:
        print(f"WARNING: {manifest.clinical_warning}", file=sys.stderr)
    if loaded.trust_warning:
        print(f"WARNING: {loaded.trust_warning}", file=sys.stderr)

    try:
        check_writable_folder(args.out)  # a folder that cannot be written fails now, not after a long batch
        if args.heatmaps:
            ensure_writable_folder(args.heatmaps)
    except WriteError as exc:
        print(f"ran-screen: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.report:
        try:
            reports.prepare_folder(args.report)  # a folder that cannot be used fails now, not after a long batch
        except reports.ReportError as exc:
            print(f"ran-screen: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.cluster:
        return _on_cluster(args, loaded)
    screener = Screener(loaded, ScreeningOptions(batch_size=args.batch_size, workers=args.workers,
                                                 heatmaps=args.heatmaps is not None))
    files = list(iter_image_files(args.paths))  # folders walked once: the progress bar's total and the batch
    results: list[ScreeningResult] = []
    with tqdm(total=len(files), unit="file", disable=args.quiet, file=sys.stderr, desc="Screening") as bar:
        for result in screener.screen_files(files):
            if args.heatmaps and result.heatmap is not None and result.view is not None:
                try:
                    write_overlay(result, args.heatmaps)
                except WriteError as exc:  # a full disk stops the overlays, not the screening or its results
                    print(f"ran-screen: no more heat maps are written: {exc}", file=sys.stderr)
                    args.heatmaps = None
            result.heatmap = result.view = None  # written; keep memory flat on big batches
            results.append(result)
            if result.metadata is None or result.metadata.frame_index in (None, 0):
                bar.update(1)
    try:
        write_results(results, args.out)
    except WriteError as exc:
        print(f"ran-screen: the results could not be written: {exc}", file=sys.stderr)
        return EXIT_WRITE_FAILED

    failed = [r for r in results if r.status is Status.ERROR]
    screened = sum(r.status is Status.SCREENED for r in results)
    ungradable = sum(r.status is Status.UNGRADABLE for r in results)
    print(f"{len(results)} image(s): {screened} screened, {ungradable} ungradable, {len(failed)} failed. "
          f"Results: {args.out}", file=sys.stderr)
    for r in failed:
        print(f"  failed: {r.path}: {r.error}", file=sys.stderr)
    if args.report and not _write_reports(results, args.report, loaded, args.quiet):
        return EXIT_REPORT_FAILED
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _on_cluster(args: argparse.Namespace, loaded: LoadedModel) -> int:
    """Screen on a Ray cluster (engine.screening.cluster), journalled beside --out so a stopped run resumes."""
    try:
        cluster = screening.cluster  # loads Ray: only here, and only where the optional extra is installed
    except ImportError as exc:
        print(f"ran-screen: --cluster needs Ray ({exc}); install the optional extra: "
              f"pip install 'ran-screening[cluster]'", file=sys.stderr)
        return EXIT_USAGE
    files = list(iter_image_files(args.paths))
    plan = cluster.ClusterPlan(loaded.folder, workers=args.cluster_workers, cpus_per_worker=args.workers or 1,
                               device=args.device, batch_size=args.batch_size, heatmaps=args.heatmaps,
                               runtime=args.runtime)
    journal = cluster.journal_for(args.out)
    with tqdm(total=len(files), unit="file", disable=args.quiet, file=sys.stderr, desc="Screening") as bar:
        rows = cluster.screen_on_cluster(files, plan, journal, args.cluster, progress=bar.update)
    try:
        write_rows(rows, CSV_COLUMNS, args.out)
    except WriteError as exc:
        print(f"ran-screen: the results could not be written (the finished files stay in {journal}): {exc}",
              file=sys.stderr)
        return EXIT_WRITE_FAILED
    journal.unlink()
    failed = [r for r in rows if r["status"] == Status.ERROR.value]
    counts = {status: sum(r["status"] == status.value for r in rows) for status in Status}
    print(f"{len(rows)} image(s): {counts[Status.SCREENED]} screened, {counts[Status.UNGRADABLE]} ungradable, "
          f"{len(failed)} failed. Results: {args.out}", file=sys.stderr)
    for r in failed:
        print(f"  failed: {r['file']}: {r['error']}", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _write_reports(results: list[ScreeningResult], folder: Path, loaded: LoadedModel, quiet: bool) -> bool:
    """One PDF per patient, grouped as the desktop app groups them, and the batch summary; False on failure."""
    groups = group_by_patient(ImageRecord(image_id=i, result=r) for i, r in enumerate(results))
    context = reports.ReportContext.for_model(loaded)
    try:
        with tqdm(total=len(groups), unit="patient", disable=quiet, file=sys.stderr, desc="Reports") as bar:
            written = reports.export_patient_reports(groups, folder, context, progress=lambda done, _: bar.update(1))
        written.append(reports.export_batch_summary(groups, folder, context))
    except reports.ReportError as exc:
        print(f"ran-screen: {exc}", file=sys.stderr)
        return False
    print(f"Reports: {len(written) - 1} patient report(s) and the batch summary in {folder}", file=sys.stderr)
    for report in written:
        for note in report.notes:
            print(f"  {note}", file=sys.stderr)
    return True


if __name__ == "__main__":
    sys.exit(main())
