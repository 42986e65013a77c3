"""`ran-validate`: how well the model agrees with this clinic's graders, from the images they reviewed.

    ran-validate [--data-dir DIR] [--session N ...] [--csv FILE] [--pdf FILE]

Reads the session database the app writes (nothing is changed, nothing leaves the machine) and prints referable
sensitivity and specificity with Wilson 95 % intervals, the DR confusion matrix and quadratic kappa, DME agreement
and the ungradable rate, overall, per model version and per month; then the overrides where a confident model was
wrong, for a second look. `--csv` writes the same figures, a row per group; `--pdf` the page the app's performance
view saves (the tables, the reliability diagram, sensitivity and specificity by month, the operating point).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ran_desktop import reports as pdf_reports
from ran_desktop.engine.atomic import write_bytes_atomically
from ran_desktop.engine.errors import WriteError
from ran_desktop.engine.grading import DR_GRADE_NAMES
from ran_desktop.engine.records.results import write_rows
from ran_desktop.engine.records.storage import DATABASE_NAME, Storage, StorageError, default_data_dir
from ran_desktop.engine.validation.agreement import CSV_COLUMNS, Agreement, LocalValidation, local_validation, rows
from ran_desktop.engine.validation.calibration import DEFAULT_TARGET, calibrate, labelled_scores, proposal_text

EXIT_USAGE = 2
def format_agreement(title: str, a: Agreement) -> str:
    kappa = "-" if a.kappa is None else f"{a.kappa:.2f}"
    lines = [
        title,
        f"  reviewed images: {a.reviewed}, graded by both the model and the grader: {a.both_graded}",
        f"  referable sensitivity: {a.sensitivity.words()}",
        f"  referable specificity: {a.specificity.words()}",
        f"  DR quadratic kappa: {kappa}; DME agreement: {a.dme_agreement.words()}",
        f"  ungradable: by the grader {a.ungradable_by_grader.words()}; by the quality gate "
        f"{a.ungradable_by_gate.words()}",
    ]
    if a.warning:
        lines.append(f"  ! {a.warning}")
    return "\n".join(lines)


def format_confusion(a: Agreement) -> str:
    header = "grader \\ model " + " ".join(f"{g:>5}" for g in range(len(DR_GRADE_NAMES)))
    body = [f"{g:>14} " + " ".join(f"{n:>5}" for n in row) for g, row in enumerate(a.dr_confusion)]
    return "\n".join(["DR grades (rows: the grader's, columns: the model's)", header, *body])


def report(validation: LocalValidation) -> str:
    parts = [format_agreement("All reviewed images", validation.overall), format_confusion(validation.overall)]
    parts += [format_agreement(f"Model {name}", a) for name, a in validation.by_model.items()]
    parts += [format_agreement(f"Month {month}", a) for month, a in validation.by_month.items()]
    overrides = validation.overall.overrides
    if overrides:
        lines = ["Overruled confident calls (a second look):"]
        for o in overrides:
            said = "referable" if o.model_referable else "not referable"
            lines.append(f"  image {o.image_id} {o.file}: the model said {said} (p = {o.model_probability:.2f}); "
                         f"{o.grader or 'the grader'} graded DR {o.grader_dr}, DME {o.grader_dme}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ran-validate", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=None, help="the app's data folder (default: the user's)")
    p.add_argument("--session", type=int, action="append", help="only this session (repeatable; default: all)")
    p.add_argument("--csv", type=Path, help="also write the figures here (.csv or .json)")
    p.add_argument("--pdf", type=Path, help="also write the page with the charts here")
    p.add_argument("--target-sensitivity", type=float, default=DEFAULT_TARGET,
                   help="propose the referable threshold that reaches this sensitivity here "
                        f"(default {DEFAULT_TARGET})")
    args = p.parse_args(argv)
    folder = args.data_dir if args.data_dir is not None else default_data_dir()
    database = folder / DATABASE_NAME
    if not database.is_file():
        print(f"ran-validate: {database}: no session database (screen and review some images first)", file=sys.stderr)
        return EXIT_USAGE
    try:
        with Storage(database) as storage:
            sessions = args.session or [s.id for s in storage.sessions()]
            records = [r for session in sessions for r in storage.load_session(session)]
    except StorageError as exc:
        print(f"ran-validate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    validation = local_validation(records)
    print(report(validation))
    print()
    print(proposal_text(records, args.target_sensitivity))
    if args.csv is not None:
        try:
            write_rows(rows(validation), CSV_COLUMNS, args.csv)
        except (WriteError, ValueError) as exc:
            print(f"ran-validate: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.pdf is not None:
        page = pdf_reports.build_validation_report(validation, calibrate(labelled_scores(records)),
                                                   proposal_text(records, args.target_sensitivity),
                                                   pdf_reports.ReportContext())
        try:
            write_bytes_atomically(args.pdf, page)
        except WriteError as exc:
            print(f"ran-validate: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
