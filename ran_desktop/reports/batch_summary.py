"""The batch summary PDF: every patient and image of a batch in one table, with the counts a clinic reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, LongTable, Spacer, Table, TableStyle

from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES
from ran_desktop.engine.records.patient_groups import PatientGroup
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import ImageRecord, caveat_for
from ran_desktop.reports.blocks import header, model_tables, short_warning, warning_box
from ran_desktop.reports.context import ReportContext
from ran_desktop.reports.counts import BatchCounts, batch_counts
from ran_desktop.reports.facts import (
    EYE_SHORT,
    file_label,
    final_referable_text,
    grade_label,
    grader_grade,
    models_used,
    ordered_records,
    outcome_heading,
    patient_label,
    quality_text,
)
from ran_desktop.reports.layout import (
    LABEL_BG,
    OVERRIDE_BG,
    REFERABLE_BG,
    RULE,
    WARNING_INK,
    PageDecor,
    Styles,
    build_pdf,
    frame_width,
    para,
    para_parts,
    style,
    styles,
    table_style,
)
from ran_desktop.reports.logo import Logo

TITLE = "Diabetic retinopathy screening: batch summary"
PAGE = landscape(A4)
CAVEAT_MARK = "†"
# Eye, file, quality, DR model, DR grader, DME model, DME grader, referable, review: sums to the 267 mm frame.
COLUMNS_MM = (11, 41, 38, 31, 33, 31, 33, 23, 26)
KEEP_TOGETHER_MAX = 12  # images; a longer patient block may have to split across pages
HEADINGS = ("Eye", "File", "Image quality", "DR: model", "DR: grader", "DME: model", "DME: grader", "Referable",
            "Review")


def build_batch_summary(groups: Sequence[PatientGroup], context: ReportContext, *, logo: Logo | None = None) -> bytes:
    """The summary of `groups` (see patient_groups.group_by_patient) as PDF bytes."""
    if logo is None and context.clinic_logo is not None:
        logo = Logo.read(context.clinic_logo)
    st = styles()
    width = frame_width(PAGE)
    models = models_used(groups, context.model)
    counts = batch_counts(groups)

    story: list[Flowable] = [header(TITLE, context, logo, st, width), Spacer(1, 3 * mm)]
    for info in models:
        if info.warning:
            story += [warning_box(info, width), Spacer(1, 3 * mm)]
    story += [*_counts_tables(counts, st, width), Spacer(1, 4 * mm)]
    story += [para("Patients and images", st.heading), _main_table(groups, st), Spacer(1, 3 * mm)]
    if any(_caveat(r) for g in groups for r in g.records):
        story.append(para(f"{CAVEAT_MARK} A grade from a model not validated for clinical use, not confirmed by a "
                          "grader (see the warning above).", style("footnote", 7.8, color=WARNING_INK)))
    story += [para("Models", st.heading), *model_tables(models, st, width)]
    signed = f" by {context.grader}" if context.grader else ""
    story.append(para(f"Generated {context.timestamp}{signed} with RAN Screening {context.app_version}. Referable "
                      "patients and images are shaded red; grades a grader changed are shaded yellow.", st.muted))

    draft = counts.reviewed < counts.readable
    if draft:
        story.insert(2, para(f"DRAFT: {counts.readable - counts.reviewed} of {counts.readable} readable image(s) "
                             "have not been reviewed by a grader; their grades and outcomes are the model's proposals.",
                             style("draft", 10, bold=True), bold=True))
    decor = PageDecor(
        running_header=f"{'DRAFT · ' if draft else ''}{context.clinic_name + ' · ' if context.clinic_name else ''}"
                       f"{TITLE} · {counts.patients} patient(s), {counts.images} image(s)",
        footer_left=f"Batch summary · generated {context.timestamp} · RAN Screening {context.app_version}",
        warning=short_warning(models),
        draft=draft,
    )
    return build_pdf(
        story, decor, pagesize=PAGE, title=TITLE, subject=TITLE,
        author=context.grader or context.clinic_name or "RAN Screening",
        creator=f"RAN Screening {context.app_version}", what="batch summary",
    )


def _counts_tables(counts: BatchCounts, st: Styles, width: float) -> list[Flowable]:
    overview = [
        ("Patients", str(counts.patients)),
        ("Referable patients", str(counts.referable_patients)),
        ("Images", str(counts.images)),
        ("Ungradable images", str(counts.ungradable)),
        ("Unreadable files", str(counts.unreadable)),
        ("Reviewed by a grader", f"{counts.reviewed} of {counts.readable}"),
        ("Changed by the grader", str(counts.overridden)),
    ]
    cell = st.cell
    small_bold = style("count_head", 7.6, bold=True)
    first = Table([[para(label, small_bold) for label, _ in overview],
                   [para(value, style("count", 12, bold=True)) for _, value in overview]],
                  colWidths=[width / len(overview)] * len(overview))
    first.setStyle(_grid())

    dr_row = [para("DR grade (images)", st.cell_bold)] + [para(grade_label("dr", g), small_bold)
                                                         for g in range(len(DR_GRADE_NAMES))]
    dme_row = [para("DME grade (images)", st.cell_bold)] + [para(grade_label("dme", g), small_bold)
                                                           for g in range(len(DME_GRADE_NAMES))]
    grades = Table(
        [dr_row, [para("count", cell)] + [para(str(n), cell) for n in counts.dr],
         dme_row + [""] * (len(dr_row) - len(dme_row)),
         [para("count", cell)] + [para(str(n), cell) for n in counts.dme] + [""] * (len(dr_row) - len(dme_row))],
        colWidths=[38 * mm] + [(width - 38 * mm) / len(DR_GRADE_NAMES)] * len(DR_GRADE_NAMES),
    )
    grades.setStyle(_grid())

    outcome_cells = [(outcome.value.capitalize(), n) for outcome, n in counts.outcomes]
    if counts.no_outcome_patients:
        outcome_cells.append(("No image readable", counts.no_outcome_patients))
    outcomes = Table([[para("Patients by outcome", st.cell_bold)] + [para(t, small_bold) for t, _ in outcome_cells],
                      [para("count", cell)] + [para(str(n), cell) for _, n in outcome_cells]],
                     colWidths=[38 * mm] + [(width - 38 * mm) / len(outcome_cells)] * len(outcome_cells))
    outcomes.setStyle(_grid())
    return [first, Spacer(1, 2.5 * mm), grades, Spacer(1, 2.5 * mm), outcomes]


def _grid() -> TableStyle:
    return table_style([
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), LABEL_BG),
        ("BACKGROUND", (0, 2), (-1, 2), LABEL_BG),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ])


def _caveat(record: ImageRecord) -> bool:
    return record.decision is None and record.result.dr_probs is not None and bool(caveat_for(record.result))


def _model_cell(record: ImageRecord, head: str) -> str:
    if record.status is Status.ERROR:
        return "—"
    grade = record.result.dr_grade if head == "dr" else record.result.dme_grade
    if grade is None:
        return "Not graded"
    return grade_label(head, grade) + (f" {CAVEAT_MARK}" if _caveat(record) else "")


def _main_table(groups: Sequence[PatientGroup], st: Styles) -> LongTable:
    cell, bold = st.cell, st.cell_bold
    rows: list[list[Any]] = [[para(h, bold) for h in HEADINGS]]
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), LABEL_BG),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for group in groups:
        rec = group.decision.recommendation if group.decision is not None else None
        referable = group.decision is not None and group.decision.referable
        follow = f": {rec.follow_up}" if rec is not None else ""
        readable = [r for r in group.records if r.status is not Status.ERROR]
        reviewed = sum(1 for r in readable if r.reviewed)
        parts: list[tuple[object, bool]] = [(patient_label(group), True)]
        if referable:
            parts.append(("   REFERABLE", True))
        parts.append((f"   Outcome: {outcome_heading(rec).lower()}{follow}", False))
        if readable:
            parts.append((f"   Reviewed {reviewed} of {len(readable)}", False))
        rows.append([para_parts(parts, cell)] + [""] * (len(HEADINGS) - 1))
        row = len(rows) - 1
        commands += [("SPAN", (0, row), (-1, row)),
                     ("BACKGROUND", (0, row), (-1, row), REFERABLE_BG if referable else LABEL_BG)]
        if len(group.records) <= KEEP_TOGETHER_MAX:
            # A patient's row stays on the page with its images, so no image row is read without its patient.
            commands.append(("NOSPLIT", (0, row), (-1, row + len(group.records))))
        for record in ordered_records(group):
            rows.append(_image_row(record, st))
            row = len(rows) - 1
            if record.status is not Status.ERROR and record.referable:
                commands.append(("BACKGROUND", (7, row), (7, row), REFERABLE_BG))
            for col, head in ((4, "dr"), (6, "dme")):
                if grader_grade(record, head).overridden:
                    commands.append(("BACKGROUND", (col, row), (col, row), OVERRIDE_BG))
    table = LongTable(rows, colWidths=[w * mm for w in COLUMNS_MM], repeatRows=1)
    table.setStyle(table_style(commands))
    return table


def _image_row(record: ImageRecord, st: Styles) -> list[Any]:
    cell = st.cell
    if record.decision is None:
        review = "Not reviewed"
    else:
        review = f"{record.decision.kind.capitalize()}" + (f" by {record.decision.grader}" if record.decision.grader
                                                           else "")
    referable = final_referable_text(record)
    return [
        para(EYE_SHORT[record.eye], cell),
        para(file_label(record), cell),
        para(quality_text(record), cell),
        para(_model_cell(record, "dr"), cell),
        para(grader_grade(record, "dr").text if record.decision else "—", cell,
             bold=grader_grade(record, "dr").overridden),
        para(_model_cell(record, "dme"), cell),
        para(grader_grade(record, "dme").text if record.decision else "—", cell,
             bold=grader_grade(record, "dme").overridden),
        para(referable, cell, bold=referable.startswith("Yes")),
        para(review, cell),
    ]
