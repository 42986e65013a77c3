"""Blocks both reports share: the clinic header, the clinical-warning box, the model's provenance."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer, Table

from ran_desktop.engine.records.results import ModelInfo
from ran_desktop.reports.context import ReportContext
from ran_desktop.reports.facts import model_status
from ran_desktop.reports.layout import LABEL_BG, RULE, WARNING_BG, WARNING_INK, Styles, boxed, para, style, table_style
from ran_desktop.reports.logo import Logo


def short_warning(models: list[ModelInfo]) -> str:
    """One line for every page's footer; "" when no model that graded carries a warning."""
    flagged = [m for m in models if m.warning]
    if not flagged:
        return ""
    kinds = {"UNTRAINED" if not m.trained else "synthetic-trained" if m.synthetic else "unvalidated" for m in flagged}
    if len(kinds) == 1:
        (kind,) = kinds
        trained_on = "mostly on synthetic images" if any(m.real for m in flagged) else "on synthetic images only"
        source = {"UNTRAINED": "an UNTRAINED model", "synthetic-trained": f"a model trained {trained_on}",
                  "unvalidated": "an unvalidated model"}[kind]
    else:  # short enough to stay on the footer's one line
        ordered = [k for k in ("UNTRAINED", "synthetic-trained", "unvalidated") if k in kinds]
        source = f"{', '.join(ordered[:-1])} or {ordered[-1]} models"
    return f"NOT VALIDATED FOR CLINICAL USE: grades from {source}; a qualified grader must confirm."


def header(title: str, context: ReportContext, logo: Logo | None, st: Styles, width: float) -> Table:
    clinic = para(context.clinic_name, style("clinic", 12, bold=True)) if context.clinic_name else Spacer(1, 1)
    text = [clinic, para(title, st.title), para(f"Generated {context.timestamp}", st.muted)]
    if logo is None:
        table = Table([[text]], colWidths=[width])
    else:
        picture = logo.flowable(max_width=45 * mm, max_height=20 * mm)
        table = Table([[picture, text]], colWidths=[50 * mm, width - 50 * mm])
    table.setStyle(table_style([
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("LINEBELOW", (0, 0), (-1, -1), 0.8, RULE),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return table


def warning_box(info: ModelInfo, width: float) -> Table:
    """The manifest's clinical warning, word for word, where nobody can miss it."""
    heading = para("NOT VALIDATED FOR CLINICAL USE", style("warn_head", 11, bold=True, color=WARNING_INK))
    body = para(f"{info.name} {info.version}: {info.warning}", style("warn_body", 9, bold=True, color=WARNING_INK),
                bold=True)
    return boxed([[heading], [body]], [width], WARNING_BG, WARNING_INK)


def model_tables(models: list[ModelInfo], st: Styles, width: float) -> list[Flowable]:
    out: list[Flowable] = []
    label_w = 34 * mm
    for info in models:
        rows = [
            [para("Model", st.label), para(f"{info.name} {info.version} ({model_status(info)})", st.body, bold=True)],
            [para("Trained on", st.label), para(info.training_data, st.body)],
            [para("Ran on", st.label), para(info.device, st.body)],
        ]
        if info.folder:
            rows.append([para("Bundle", st.label),
                         para(f"{info.folder}; weights sha256 {info.weights_sha256[:16]}", st.body)])
        if info.referable_threshold is not None:
            rows.append([para("Referable when", st.label),
                         para(f"the model's probability of referable disease is at least "
                              f"{info.referable_threshold * 100:.0f} % ({_threshold_origin(info)})", st.body)])
        for credit in info.credits:
            rows.append([para("Data credit", st.label), para(credit, st.body)])
        if info.warning:
            rows.append([para("Clinical warning", st.label),
                         para(info.warning, style("model_warn", 9, bold=True, color=WARNING_INK), bold=True)])
        table = Table(rows, colWidths=[label_w, width - label_w])
        table.setStyle(table_style([
            ("GRID", (0, 0), (-1, -1), 0.4, RULE),
            ("BACKGROUND", (0, 0), (0, -1), LABEL_BG),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))
        out += [table, Spacer(1, 2 * mm)]
    if not models:
        out.append(para("No model graded any of these images.", st.body))
    return out


def _threshold_origin(info: ModelInfo) -> str:
    if info.threshold_source:
        return f"its operating point: {info.threshold_source}, not the bundle's own"
    return "its operating point, chosen for sensitivity on data it was not trained on"
