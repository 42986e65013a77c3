"""The per-patient PDF: what leaves the clinic with the patient or goes into the record."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from PIL import Image as PILImage
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Image, KeepTogether, Paragraph, Spacer, Table

from ran_desktop.engine.records.lesion_marks import legend
from ran_desktop.engine.records.patient_groups import PatientGroup
from ran_desktop.engine.records.results import ModelInfo, Status
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.reports.blocks import header, model_tables, short_warning, warning_box
from ran_desktop.reports.context import ReportContext
from ran_desktop.reports.facts import (
    EYE_NAMES,
    eye_outcome_text,
    file_label,
    final_referable_text,
    grader_grade,
    model_grade_text,
    model_referable_text,
    models_used,
    ordered_records,
    outcome_heading,
    outcome_severity,
    patient_facts,
    patient_label,
    quality_text,
    worst_eye_text,
)
from ran_desktop.reports.layout import (
    LABEL_BG,
    MUTED,
    OVERRIDE_BG,
    RULE,
    SEVERITY_BG,
    SEVERITY_INK,
    WARNING_INK,
    PageDecor,
    Styles,
    boxed,
    build_pdf,
    frame_width,
    para,
    para_parts,
    style,
    styles,
    table_style,
)
from ran_desktop.reports.logo import Logo
from ran_desktop.reports.pictures import Pictures, record_pictures

TITLE = "Diabetic retinopathy screening report"
PICTURE_HEIGHT = 62 * mm
HEATMAP_EXPLANATION = (
    "The heat map (Grad-CAM) colours the parts of the photograph that weighed most in the model's DR grade: red and "
    "yellow most, blue least. It shows where the model looked, not what it found: it is not a map of lesions, it "
    "cannot show what is absent, and it is scaled within each image, so a red area in a healthy eye is not a finding. "
    "It explains the model's proposal, not the grader's decision, and from untrained or synthetic-trained weights "
    "it has no clinical meaning."
)


def build_patient_report(
    group: PatientGroup,
    context: ReportContext,
    *,
    logo: Logo | None = None,
    pictures: Mapping[str, Pictures] | None = None,
) -> bytes:
    """The report for one patient as PDF bytes. `pictures` by record key (those not given are made here);
    `logo` is the clinic logo already read (read from `context.clinic_logo` when not given)."""
    if logo is None and context.clinic_logo is not None:
        logo = Logo.read(context.clinic_logo)
    pictures = dict(pictures or {})
    for record in group.records:
        if record.key not in pictures:
            pictures[record.key] = record_pictures(record, context.heatmap_model, context.heat_opacity)
    st = styles()
    width = frame_width(A4)
    models = models_used([group], context.model)
    warning_models = [m for m in models if m.warning]

    story: list[Flowable] = [header(TITLE, context, logo, st, width), Spacer(1, 3 * mm)]
    for info in warning_models:
        story += [warning_box(info, width), Spacer(1, 3 * mm)]
    story += [_patient_table(group, st, width), Spacer(1, 3 * mm), _outcome_box(group, st, width)]
    for index, record in enumerate(ordered_records(group)):
        # The heading goes inside the first eye's block: platypus will not keep a heading with a KeepTogether.
        heading = para("Eyes", st.heading) if index == 0 else None
        story += [_eye_block(record, pictures[record.key], st, width, heading), Spacer(1, 4 * mm)]
    story += [CondPageBreak(70 * mm), *_model_section(models, context, st, width), Spacer(1, 4 * mm)]
    story += [_signature(context, st, width)]

    label = patient_label(group)
    draft = is_draft(group)
    decor = PageDecor(
        running_header=f"{'DRAFT · ' if draft else ''}"
                       f"{context.clinic_name + ' · ' if context.clinic_name else ''}{TITLE} · {label}",
        footer_left=f"{label} · generated {context.timestamp} · RAN Screening {context.app_version}",
        warning=short_warning(models),
        draft=draft,
    )
    return build_pdf(
        story, decor, pagesize=A4, title=f"{TITLE}: {label}", subject=TITLE,
        author=context.grader or context.clinic_name or "RAN Screening",
        creator=f"RAN Screening {context.app_version}", what=f"report for {label}",
    )


def _patient_table(group: PatientGroup, st: Styles, width: float) -> Table:
    facts = patient_facts(group)
    rows = []
    for i in range(0, len(facts), 2):
        row: list[Any] = []
        for label, value in facts[i:i + 2]:
            row += [para(label, st.label), para(value, st.body, bold=label in ("Patient ID", "Name"))]
        rows.append(row)
    label_w = 24 * mm
    table = Table(rows, colWidths=[label_w, width / 2 - label_w] * 2)
    table.setStyle(table_style([
        ("BACKGROUND", (0, 0), (0, -1), LABEL_BG),
        ("BACKGROUND", (2, 0), (2, -1), LABEL_BG),
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def is_draft(group: PatientGroup) -> bool:
    """A report is a draft while any readable image of the patient has no grader's decision."""
    return not group.reviewed


def _outcome_box(group: PatientGroup, st: Styles, width: float) -> Table:
    recommendation = group.decision.recommendation if group.decision is not None else None
    draft = is_draft(group)
    severity = "draft" if draft else outcome_severity(recommendation)
    ink = SEVERITY_INK[severity]
    if draft:
        unreviewed = sum(1 for r in group.records if not r.reviewed and r.status is not Status.ERROR)
        rows: list[list[Any]] = [
            [para_parts([("Outcome: ", True), ("NOT REVIEWED (DRAFT)", True)],
                        style("outcome", 13, bold=True, color=ink, leading=17))],
            [para(f"{unreviewed} image(s) of this patient have not been reviewed by a grader. What follows is the "
                  f"model's proposal, not an outcome: do not act on it, and do not file this report, before a "
                  f"qualified grader has reviewed every image.", st.body, bold=True)],
        ]
        if recommendation is not None:
            rows.append([para_parts([("Model's proposal: ", True), (recommendation.outcome.value, False)], st.body)])
        rows.append([para(worst_eye_text(group), st.small)])
        return boxed(rows, [width], SEVERITY_BG[severity], ink, padding=6)
    rows = [
        [para_parts([("Outcome: ", True), (outcome_heading(recommendation), True)],
                    style("outcome", 13, bold=True, color=ink, leading=17))],
    ]
    if recommendation is None:
        rows.append([para("No photograph of this patient could be read. Re-image, or refer for examination by an "
                          "eye-care professional.", st.body)])
    else:
        rows.append([para_parts([("Recommendation: ", True), (recommendation.follow_up, False)], st.body)])
        rows.append([para_parts([("Guideline: ", True), (recommendation.guideline, False)], st.body)])
    rows.append([para(worst_eye_text(group), st.small)])
    if group.caveat:
        rows.append([para(f"This outcome rests on grades no grader has confirmed, from a model with this caveat: "
                          f"{group.caveat}. Do not act on it before a qualified grader has reviewed the images.",
                          style("caveat", 8.6, bold=True, color=WARNING_INK), bold=True)])
    elif not group.reviewed:
        rows.append([para("Not all images have been reviewed by a grader.", st.small, bold=True)])
    return boxed(rows, [width], SEVERITY_BG[severity], ink, padding=6)


def _eye_block(record: ImageRecord, pictures: Pictures, st: Styles, width: float,
               section: Paragraph | None = None) -> KeepTogether:
    heading = para_parts(
        [(EYE_NAMES[record.eye], True), (f"   {file_label(record)}", False)],
        style("eye_head", 10.5, leading=14),
    )
    parts: list[Flowable] = ([section] if section is not None else []) + [heading, Spacer(1, 1.5 * mm)]
    if record.status is not Status.ERROR:
        parts += [_pictures_row(pictures, st, width), Spacer(1, 2 * mm)]
    parts += [para_parts([("Image quality: ", True), (quality_text(record), False)], st.body), Spacer(1, 1.5 * mm)]
    if record.status is not Status.ERROR:
        parts.append(_grades_table(record, st, width))
    if record.decision is not None and record.decision.marks:
        parts.append(para_parts([("Grader's lesion marks on the photograph: ", True),
                                 (legend(record.decision.marks) + ".", False)], style("marks", 8.2, space_before=3)))
    if record.gradings:  # who decided what at each stage of second grading; the last one settled the grades
        parts.append(para_parts([("Second grading: ", True),
                                 ("; ".join(g.words() for g in record.gradings) + ".", False)],
                                style("qa_chain", 8.2, space_before=3)))
    outcome = eye_outcome_text(record)
    parts.append(para_parts([("This eye: ", True), (outcome, False)],
                            style("eye_outcome", 9, space_before=3)))
    if record.decision is not None and record.decision.comment:
        parts.append(para_parts([("Grader's comment: ", True), (record.decision.comment, False)], st.body))
    return KeepTogether(parts)


def _fitted_size(jpeg: bytes, box_w: float, box_h: float) -> tuple[float, float]:
    with PILImage.open(io.BytesIO(jpeg)) as img:
        w, h = img.size
    scale = min(box_w / w, box_h / h)
    return w * scale, h * scale


def _picture(jpeg: bytes | None, size: tuple[float, float], missing: str) -> Flowable:
    if jpeg is None:
        # An empty frame the size of the photograph beside it, saying why it is empty.
        empty = Table([[para(missing, style("missing", 7.8, color=MUTED, alignment=TA_CENTER))]],
                      colWidths=[size[0]], rowHeights=[size[1]])
        empty.setStyle(table_style([("BOX", (0, 0), (-1, -1), 0.5, RULE), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
        return empty
    return Image(io.BytesIO(jpeg), width=size[0], height=size[1])


def _pictures_row(pictures: Pictures, st: Styles, width: float) -> Table:
    col = (width - 6 * mm) / 2
    photo_size = _fitted_size(pictures.photo, col, PICTURE_HEIGHT) if pictures.photo else (PICTURE_HEIGHT,) * 2
    overlay_size = _fitted_size(pictures.overlay, col, PICTURE_HEIGHT) if pictures.overlay else photo_size
    photo = _picture(pictures.photo, photo_size, pictures.photo_note or "No photograph.")
    overlay = _picture(pictures.overlay, overlay_size, pictures.overlay_note or "No heat map.")
    photo_caption = "Photograph" + (f". {pictures.photo_note}" if pictures.photo and pictures.photo_note else "")
    overlay_caption = "Heat map" + (f": {pictures.overlay_note}" if pictures.overlay else "")
    caption = style("caption", 7.8, color=MUTED, alignment=TA_CENTER)
    table = Table(
        [[photo, "", overlay], [para(photo_caption, caption), "", para(overlay_caption, caption)]],
        colWidths=[col, 6 * mm, col],
    )
    table.setStyle(table_style([
        ("ALIGN", (0, 0), (-1, 0), "CENTER"),
        ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 1), (-1, 1), 2),
    ]))
    return table


def _grades_table(record: ImageRecord, st: Styles, width: float) -> Table:
    reviewed = record.decision is not None
    header = [para("", st.cell_bold), para("Model proposed", st.cell_bold), para("Grader decided", st.cell_bold)]
    rows: list[list[Paragraph]] = [header]
    overridden_cells: list[int] = []
    for head, label in (("dr", "DR grade"), ("dme", "DME grade")):
        grade = grader_grade(record, head)
        rows.append([para(label, st.cell_bold), para(model_grade_text(record, head), st.cell),
                     para(grade.text, st.cell_bold if grade.overridden else st.cell, bold=grade.overridden)])
        if grade.overridden:
            overridden_cells.append(len(rows) - 1)
    rows.append([para("Referable", st.cell_bold), para(model_referable_text(record), st.cell),
                 para(final_referable_text(record) if reviewed else "Not reviewed", st.cell)])
    label_w = 26 * mm
    table = Table(rows, colWidths=[label_w, (width - label_w) / 2, (width - label_w) / 2])
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), LABEL_BG),
        ("BACKGROUND", (0, 1), (0, -1), LABEL_BG),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    for row in overridden_cells:
        commands.append(("BACKGROUND", (2, row), (2, row), OVERRIDE_BG))
    table.setStyle(table_style(commands))
    return table


def _model_section(models: list[ModelInfo], context: ReportContext, st: Styles, width: float) -> list[Flowable]:
    out: list[Flowable] = [para("Model and heat map", st.heading), *model_tables(models, st, width)]
    loaded = context.heatmap_model
    if loaded is not None and loaded.manifest.intended_use:
        out.append(para_parts([("Intended use of the loaded model: ", True), (loaded.manifest.intended_use, False)],
                              st.small))
    out += [Spacer(1, 2 * mm), para_parts([("What the heat map shows: ", True), (HEATMAP_EXPLANATION, False)], st.body)]
    return out


def _signature(context: ReportContext, st: Styles, width: float) -> KeepTogether:
    line = "_" * 34
    grader = context.grader or line
    rows = [
        [para("Grader", st.label), para(grader, st.body, bold=bool(context.grader)),
         para("Signature", st.label), para(line, st.body)],
        [para("Date", st.label), para(line, st.body), para("", st.label), para("", st.body)],
    ]
    table = Table(rows, colWidths=[20 * mm, width / 2 - 20 * mm, 20 * mm, width / 2 - 20 * mm])
    # Room above each line to sign on; rows grow downwards with a long name instead of overlapping.
    table.setStyle(table_style([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (0, -1), 0),
                                ("TOPPADDING", (0, 0), (-1, -1), 8 * mm)]))
    stamp = para(
        f"Report generated {context.timestamp} by RAN Screening {context.app_version}. "
        "A screening result, not a diagnosis: it does not replace an examination by an eye-care professional.",
        st.muted,
    )
    return KeepTogether([para("Sign-off", st.heading), table, Spacer(1, 3 * mm), stamp])

