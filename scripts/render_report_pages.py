"""Render PDF report pages to PNG with pdftoppm (Debian: poppler-utils), so they can be looked at.

    .venv/bin/python scripts/render_report_pages.py REPORT.pdf... [--out DIR] [--dpi 100]
    .venv/bin/python scripts/render_report_pages.py --demo [--out DIR] [--docs]

--demo first writes demo reports (a patient with both eyes, one grade overridden by the grader; a patient with an
ungradable photograph; the batch summary) from the bundled sample photograph, with the model in models/ (or
RAN_MODELS_DIR) or, without one, a seeded untrained model made in a temporary folder. --docs also copies the demo
patient report's first page to docs/report-page-1.png for the README. Nothing is written to the user's data folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="*", type=Path, help="PDF files to render")
    parser.add_argument("--demo", action="store_true", help="write demo reports first and render those")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "report-pages", help="where the PNGs go")
    parser.add_argument("--dpi", type=int, default=100)
    parser.add_argument("--docs", action="store_true", help="with --demo: refresh docs/report-page-1.png")
    args = parser.parse_args()
    if not args.pdfs and not args.demo:
        parser.error("give PDF files or --demo")
    if args.docs and not args.demo:
        parser.error("--docs needs --demo")
    return args


def render(pdf: Path, out: Path, dpi: int) -> list[Path]:
    """Every page of `pdf` as out/<stem>-<n>.png."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise SystemExit("pdftoppm not found: install poppler-utils (apt-get install poppler-utils)")
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / pdf.stem
    subprocess.run([tool, "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True)
    return sorted(out.glob(f"{pdf.stem}-*.png"))


def demo_reports(folder: Path) -> tuple[Path, list[Path]]:
    """Write demo reports into `folder`; returns (the two-eye patient's report, every PDF written)."""
    import cv2
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    from dicom_factory import write_dicom

    from ran_desktop.engine.model.bundle import find_bundles, load_bundle
    from ran_desktop.engine.model.untrained import create_untrained_bundle
    from ran_desktop.engine.records.patient_groups import group_by_patient
    from ran_desktop.engine.records.review import GraderDecision, ImageRecord, decision_kind
    from ran_desktop.engine.screening.screener import Screener
    from ran_desktop.paths import models_dir, sample_images
    from ran_desktop.reports import ReportContext, export_batch_summary, export_patient_reports

    bundle = next(iter(find_bundles(models_dir())), None)
    if bundle is None:
        bundle = folder / "model"
        create_untrained_bundle(bundle, variant="ran18", seed=0)
    loaded = load_bundle(bundle, device="cpu")

    photos = folder / "photos"
    photos.mkdir(parents=True)
    bgr = cv2.imread(str(sample_images()[0]))
    if bgr is None:
        raise SystemExit(f"the sample photograph {sample_images()[0]} cannot be read")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    patient: dict[str, Any] = dict(patient_id="P-0042", patient_name="Ødegård^Åse", birth_date="19580314", sex="F",
                   study_date="20250611")
    write_dicom(photos / "P-0042_right.dcm", np.ascontiguousarray(rgb[:, ::-1]), image_laterality="R", **patient)
    write_dicom(photos / "P-0042_left.dcm", rgb, image_laterality="L", **patient)
    dark = (rgb.astype(np.float32) * 0.08).astype(np.uint8)
    write_dicom(photos / "P-0057_right.dcm", dark, image_laterality="R", patient_id="P-0057",
                patient_name="Иванова^Мария", birth_date="19661203", sex="F", study_date="20250611")
    write_dicom(photos / "P-0061_left.dcm", rgb, image_laterality="L", patient_id="P-0061",
                patient_name="山田^太郎", birth_date="19490921", sex="M", study_date="20250611")

    records = [ImageRecord(i, r) for i, r in enumerate(Screener(loaded).screen([photos]))]
    grader = "Dr A. Grader"
    # The grader's own grades, whatever the (possibly untrained) model proposed: decision_kind marks the changes.
    decided = {"P-0042_right.dcm": (2, 1, "Dot haemorrhages and hard exudates temporal to the macula."),
               "P-0042_left.dcm": (0, 0, "")}
    for i, record in enumerate(records):
        if record.result.path.name in decided:
            dr, dme, comment = decided[record.result.path.name]
            kind = decision_kind(record, (dr, dme))
            records[i] = record.with_decision(GraderDecision(dr, dme, kind=kind, grader=grader, comment=comment))
    groups = group_by_patient(records)
    logo = folder / "logo.png"
    canvas = np.full((120, 360, 3), 255, np.uint8)
    cv2.circle(canvas, (60, 60), 44, (160, 90, 20), -1)
    cv2.circle(canvas, (60, 60), 18, (255, 255, 255), -1)
    cv2.putText(canvas, "North Eye", (120, 76), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (160, 90, 20), 3, cv2.LINE_AA)
    cv2.imwrite(str(logo), canvas)
    context = ReportContext.for_model(loaded, clinic_name="North Eye Clinic, Diabetic Eye Screening",
                                      clinic_logo=logo, grader=grader, generated_at=datetime.now().astimezone())
    out = folder / "pdf"
    written = export_patient_reports(groups, out, context)
    summary = export_batch_summary(groups, out, context)
    main = next(w.path for w in written if w.patient_key == "id:P-0042")
    return main, [w.path for w in written] + [summary.path]


def main() -> int:
    args = parse_args()
    pdfs = list(args.pdfs)
    with tempfile.TemporaryDirectory(prefix="ran-report-demo-") as tmp:
        main_report = None
        if args.demo:
            main_report, made = demo_reports(Path(tmp))
            pdfs += made
        for pdf in pdfs:
            pages = render(pdf, args.out, args.dpi)
            print(f"{pdf.name}: {len(pages)} page(s) -> {', '.join(p.name for p in pages)}")
            if args.docs and pdf == main_report:
                target = ROOT / "docs" / "report-page-1.png"
                shutil.copyfile(pages[0], target)
                print(f"  first page copied to {target.relative_to(ROOT)}")
        if args.demo:
            kept = args.out / "pdf"
            kept.mkdir(parents=True, exist_ok=True)
            for pdf in pdfs:
                shutil.copyfile(pdf, kept / pdf.name)
            print(f"Demo PDFs kept in {kept}")
    print(f"PNGs in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
