"""The model's performance at this clinic as a PDF page: the agreement table (overall, per model, per month), the DR
confusion matrix, the reliability diagram and sensitivity and specificity month by month, and the operating point
the reviewed images would give. What the performance view shows, for a file or a meeting.
"""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer, Table

from ran_desktop.engine.validation.agreement import Agreement, LocalValidation, Proportion
from ran_desktop.engine.validation.calibration import Calibration
from ran_desktop.reports.blocks import header
from ran_desktop.reports.context import ReportContext
from ran_desktop.reports.fonts import SANS
from ran_desktop.reports.layout import (
    LABEL_BG,
    RULE,
    WARNING_INK,
    PageDecor,
    build_pdf,
    frame_width,
    para,
    style,
    styles,
)
from ran_desktop.reports.layout import table_style as make_table_style

TITLE = "Model performance at this clinic"
PAGE = A4
BEFORE, AFTER = colors.HexColor("#C0392B"), colors.HexColor("#1F6FB2")
SENSITIVITY, SPECIFICITY = colors.HexColor("#1F6FB2"), colors.HexColor("#7A7A7A")
_HEADINGS = ("", "Graded by both", "Sensitivity (95 % CI)", "Specificity (95 % CI)", "DR kappa", "DME agreement")


def build_validation_report(validation: LocalValidation, calibration: Calibration | None, proposal: str,
                            context: ReportContext, bundle: str = "") -> bytes:
    """The page as PDF bytes. `proposal` is the operating point in words; `bundle` the model in use now."""
    st = styles()
    width = frame_width(PAGE)
    overall = validation.overall
    story: list[Flowable] = [header(TITLE, context, None, st, width), Spacer(1, 3 * mm)]
    story.append(para("From every image a grader has reviewed, in every session: how often the model agreed. The "
                      "graders' decisions are the reference. Computed on this computer; nothing left it.", st.body))
    if overall.warning:
        story.append(para(overall.warning, style("few", 9, bold=True, color=WARNING_INK), bold=True))
    story += [Spacer(1, 2 * mm), _agreement_table(validation, width), Spacer(1, 3 * mm)]
    charts = Table([[_reliability_drawing(calibration, width / 2 - 3 * mm),
                     _monthly_drawing(validation, width / 2 - 3 * mm)]], colWidths=[width / 2, width / 2])
    charts.setStyle(make_table_style([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story += [charts, Spacer(1, 3 * mm)]
    story += [para("DR grades, all reviewed images (rows: the grader's, columns: the model's)", st.heading),
              _confusion_table(overall), Spacer(1, 3 * mm)]
    story += [para("Operating point", st.heading)]
    story += [para(line.strip(), st.body) for line in proposal.splitlines() if line.strip()]
    if bundle:
        story.append(para(f"Model in use when this page was made: {bundle}.", st.muted))
    story.append(para(f"Generated {context.timestamp} with RAN Screening {context.app_version}.", st.muted))
    decor = PageDecor(running_header=TITLE, footer_left=f"{TITLE} · generated {context.timestamp}", warning="")
    return build_pdf(story, decor, pagesize=PAGE, title=TITLE, subject=TITLE,
                     author=context.grader or context.clinic_name or "RAN Screening",
                     creator=f"RAN Screening {context.app_version}", what="performance page")


def _ci(p: Proportion) -> str:
    if not p.n or p.value is None:
        return "—"
    low, high = p.interval or (0.0, 0.0)
    return f"{p.value:.2f} ({low:.2f}-{high:.2f}), n = {p.n}"


def _agreement_table(validation: LocalValidation, width: float) -> Table:
    st = styles()
    groups: list[tuple[str, Agreement]] = [("All reviewed images", validation.overall)]
    groups += [(f"Model {name}", a) for name, a in validation.by_model.items()]
    groups += [(f"Month {month}", a) for month, a in validation.by_month.items()]
    rows = [[para(h, st.small, bold=True) for h in _HEADINGS]]
    for name, a in groups:
        rows.append([para(name, st.small), para(str(a.both_graded), st.small), para(_ci(a.sensitivity), st.small),
                     para(_ci(a.specificity), st.small),
                     para("—" if a.kappa is None else f"{a.kappa:.2f}", st.small),
                     para("—" if a.dme_agreement.value is None else f"{a.dme_agreement.value:.2f}", st.small)])
    shares = (0.22, 0.12, 0.22, 0.22, 0.1, 0.12)
    table = Table(rows, colWidths=[width * s for s in shares], repeatRows=1)
    table.setStyle(make_table_style([("BACKGROUND", (0, 0), (-1, 0), LABEL_BG), ("GRID", (0, 0), (-1, -1), 0.4, RULE),
                                     ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return table


def _confusion_table(a: Agreement) -> Table:
    st = styles()
    rows = [[para("", st.small)] + [para(f"model {g}", st.small, bold=True) for g in range(5)]]
    for g, line in enumerate(a.dr_confusion):
        rows.append([para(f"grader {g}", st.small, bold=True)] + [para(str(n), st.small) for n in line])
    table = Table(rows, colWidths=[22 * mm] + [18 * mm] * 5)
    table.setStyle(make_table_style([("BACKGROUND", (0, 0), (-1, 0), LABEL_BG),
                                     ("BACKGROUND", (0, 0), (0, -1), LABEL_BG), ("GRID", (0, 0), (-1, -1), 0.4, RULE),
                                     ("ALIGN", (1, 1), (-1, -1), "CENTER")]))
    return table


def _plot(width: float, title: str, x_label: str) -> tuple[Drawing, LinePlot]:
    height = width * 0.78
    drawing = Drawing(width, height)
    plot = LinePlot()
    plot.x, plot.y = 30, 42
    plot.width, plot.height = width - 42, height - 80
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName, axis.labels.fontSize = SANS, 7
        axis.strokeColor = RULE
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax, plot.yValueAxis.valueStep = 0, 1, 0.25
    drawing.add(String(width / 2, height - 12, title, fontName=SANS, fontSize=9, textAnchor="middle"))
    drawing.add(String(plot.x + plot.width / 2, 8, x_label, fontName=SANS, fontSize=7.5, textAnchor="middle"))
    return drawing, plot


def _style_lines(plot: LinePlot, inks: Sequence[colors.Color]) -> None:
    for i, ink in enumerate(inks):
        plot.lines[i].strokeColor = ink
        plot.lines[i].strokeWidth = 1.4
        plot.lines[i].symbol = makeMarker("FilledCircle", size=3.5, fillColor=ink, strokeColor=ink)


def _legend(drawing: Drawing, entries: Sequence[tuple[str, colors.Color]], y: float) -> None:
    x = 30.0
    for name, ink in entries:
        drawing.add(Line(x, y + 3, x + 12, y + 3, strokeColor=ink, strokeWidth=1.6))
        drawing.add(String(x + 15, y, name, fontName=SANS, fontSize=7))
        x += 22 + 3.6 * len(name)


def _empty(drawing: Drawing, plot: LinePlot, text: str) -> Drawing:
    drawing.add(String(plot.x + plot.width / 2, plot.y + plot.height / 2, text, fontName=SANS, fontSize=8,
                       textAnchor="middle", fillColor=colors.grey))
    return drawing


def _reliability_drawing(calibration: Calibration | None, width: float) -> Drawing:
    """The model's referable probability against how often the graders called those images referable."""
    drawing, plot = _plot(width, "Reliability of the referable probability", "the model's probability (bins of 0.1)")
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax, plot.xValueAxis.valueStep = 0, 1, 0.25
    if calibration is None:
        return _empty(drawing, plot, "No reviewed images yet.")
    series = [[(0.0, 0.0), (1.0, 1.0)], [(b.mean_probability, b.observed) for b in calibration.before]]
    inks: list[colors.Color] = [colors.HexColor("#BBBBBB"), BEFORE]
    legend = [("perfectly honest", inks[0]), ("as the model says", BEFORE)]
    if calibration.helps:
        series.append([(b.mean_probability, b.observed) for b in calibration.after])
        inks.append(AFTER)
        legend.append((f"temperature {calibration.temperature:.2f}", AFTER))
    plot.data = series
    _style_lines(plot, inks)
    plot.lines[0].symbol = None
    plot.lines[0].strokeDashArray = (2, 2)
    drawing.add(plot)
    _legend(drawing, legend, drawing.height - 28)
    return drawing


def _monthly_drawing(validation: LocalValidation, width: float) -> Drawing:
    """Referable sensitivity and specificity per month: drift shows as a slope."""
    drawing, plot = _plot(width, "Sensitivity and specificity by month", "month the grader decided")
    months = list(validation.by_month)
    series = []
    for name in ("sensitivity", "specificity"):
        points = [(float(i), p.value) for i, month in enumerate(months)
                  if (p := getattr(validation.by_month[month], name)).value is not None]
        series.append(points)
    if not any(series):
        return _empty(drawing, plot, "No reviewed images yet.")
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = -0.5, len(months) - 0.5
    plot.xValueAxis.valueStep = 1
    plot.xValueAxis.labelTextFormat = lambda v: months[int(round(v))] if 0 <= round(v) < len(months) else ""
    plot.data = [s or [(0.0, 0.0)] for s in series]
    _style_lines(plot, [SENSITIVITY, SPECIFICITY])
    for i, s in enumerate(series):
        if not s:
            plot.lines[i].strokeColor = colors.transparent
            plot.lines[i].symbol = None
    drawing.add(plot)
    span = plot.xValueAxis.valueMax - plot.xValueAxis.valueMin
    for name, ink, shift in (("sensitivity", SENSITIVITY, -2.0), ("specificity", SPECIFICITY, 2.0)):
        for i, month in enumerate(months):  # the 95 % interval as a whisker beside each point
            interval = getattr(validation.by_month[month], name).interval
            if interval is None:
                continue
            x = plot.x + (i - plot.xValueAxis.valueMin) / span * plot.width + shift
            low, high = (plot.y + v * plot.height for v in interval)
            drawing.add(Line(x, low, x, high, strokeColor=ink, strokeWidth=0.8))
    _legend(drawing, [("sensitivity", SENSITIVITY), ("specificity", SPECIFICITY)], drawing.height - 28)
    return drawing
