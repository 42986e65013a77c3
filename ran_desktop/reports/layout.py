"""Shared look of every report: styles, colours, the page frame and "Page x of y" footers, PDF assembly."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, Paragraph, Table, TableStyle
from reportlab.platypus.doctemplate import LayoutError

from ran_desktop.reports.errors import ReportError
from ran_desktop.reports.fonts import (
    SANS,
    SANS_BOLD,
    clean,
    draw_text,
    fit_text,
    has_cjk,
    markup,
    register_fonts,
    text_width,
)

MARGIN = 15 * mm
FOOTER_SPACE = 16 * mm  # below the frame: the warning line and the page footer
HEADER_SPACE = 9 * mm  # above the frame on later pages: the running header

INK = colors.HexColor("#1A1A1A")
MUTED = colors.HexColor("#5F6368")
RULE = colors.HexColor("#B0B4B8")
LABEL_BG = colors.HexColor("#F1F3F4")
WARNING_INK = colors.HexColor("#9B1C1C")
WARNING_BG = colors.HexColor("#FDE8E8")
OVERRIDE_BG = colors.HexColor("#FFF0C2")
REFERABLE_BG = colors.HexColor("#FAD4D4")  # referable rows in the batch summary; tests look for this fill
SEVERITY_BG = {
    "draft": colors.HexColor("#E4E4E4"),  # not reviewed: no outcome colour, least of all routine's green
    "urgent": colors.HexColor("#F8C9C9"),
    "refer": colors.HexColor("#FBDDC7"),
    "ungradable": colors.HexColor("#FFF1B8"),
    "routine": colors.HexColor("#D8EEDA"),
}
SEVERITY_INK = {
    "draft": colors.HexColor("#202020"),
    "urgent": colors.HexColor("#8B0000"),
    "refer": colors.HexColor("#8A3B00"),
    "ungradable": colors.HexColor("#6B5200"),
    "routine": colors.HexColor("#1E5E24"),
}


def style(name: str, size: float = 9.0, *, bold: bool = False, color: Any = INK, leading: float | None = None,
          space_before: float = 0, space_after: float = 0, alignment: int = TA_LEFT,
          keep_with_next: bool = False) -> ParagraphStyle:
    register_fonts()
    return ParagraphStyle(
        name, fontName=SANS_BOLD if bold else SANS, fontSize=size, leading=leading or size * 1.3,
        textColor=color, spaceBefore=space_before, spaceAfter=space_after, alignment=alignment,
        keepWithNext=keep_with_next,  # a heading never ends a page without what it heads
    )


def _for_text(st: ParagraphStyle, text: str) -> ParagraphStyle:
    """CJK text has no spaces to break at: its paragraphs may break between any two characters. Only those:
    that rule would also split Latin words anywhere."""
    if not has_cjk(text):
        return st
    return ParagraphStyle(f"{st.name}-cjk", parent=st, wordWrap="CJK")


@dataclass(frozen=True)
class Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    muted: ParagraphStyle
    label: ParagraphStyle
    cell: ParagraphStyle
    cell_bold: ParagraphStyle
    title: ParagraphStyle
    heading: ParagraphStyle
    subheading: ParagraphStyle


def styles() -> Styles:
    return Styles(
        body=style("body", 9.0),
        small=style("small", 7.8),
        muted=style("muted", 7.8, color=MUTED),
        label=style("label", 7.8, color=MUTED),
        cell=style("cell", 8.4),
        cell_bold=style("cell_bold", 8.4, bold=True),
        title=style("title", 15, bold=True, leading=19),
        heading=style("heading", 11.5, bold=True, space_before=5, space_after=3, keep_with_next=True),
        subheading=style("subheading", 9.5, bold=True, space_before=2, space_after=2, keep_with_next=True),
    )


def para(text: object, st: ParagraphStyle, *, bold: bool = False) -> Paragraph:
    """A paragraph of untrusted text: escaped and split into font runs (never parsed as markup)."""
    return Paragraph(markup(text, bold=bold), _for_text(st, clean(text)))


def para_parts(parts: Sequence[tuple[object, bool]], st: ParagraphStyle) -> Paragraph:
    """One paragraph from (text, bold) pieces."""
    joined = "".join(clean(text) for text, _ in parts)
    return Paragraph("".join(markup(text, bold=bold) for text, bold in parts), _for_text(st, joined))


def table_style(commands: Sequence[tuple[Any, ...]]) -> TableStyle:
    """A table style whose plain-string cells (the empty ones) use the report font too: otherwise reportlab
    falls back to Helvetica, a font the PDF would then refer to without embedding it."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), SANS), *commands])


def boxed(rows: list[list[Any]], widths: Sequence[float], background: Any, border: Any,
          padding: float = 5) -> Table:
    table = Table(rows, colWidths=list(widths))
    table.setStyle(table_style([
        ("BACKGROUND", (0, 0), (-1, -1), background),
        ("BOX", (0, 0), (-1, -1), 1.2, border),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), padding),
        ("RIGHTPADDING", (0, 0), (-1, -1), padding),
        ("TOPPADDING", (0, 0), (-1, -1), padding * 0.6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), padding * 0.8),
    ]))
    return table


def warning_size(text: str, max_width: float, size: float = 7.8, smallest: float = 6.0) -> float:
    """Font size at which the footer's clinical warning fits on its line: shrunk rather than cut short."""
    width = text_width(text, size, True)
    return size if width <= max_width else max(smallest, 0.99 * size * max_width / width)  # 0.99: rounding


@dataclass(frozen=True)
class PageDecor:
    """What every page carries outside the frame. The first page has its own header inside the frame."""

    running_header: str  # later pages: who and what this page is about, in case pages are separated
    footer_left: str
    warning: str  # a short clinical warning repeated on every page; "" for validated weights
    draft: bool = False  # some image no grader has reviewed: a DRAFT watermark across every page

    def draw(self, canvas: Canvas, page: int, total: int) -> None:
        width, height = canvas._pagesize
        canvas.saveState()
        if self.draft:
            _watermark(canvas, width, height)
        if page > 1:
            canvas.setFillColor(MUTED)
            draw_text(canvas, MARGIN, height - MARGIN + 1 * mm,
                      fit_text(self.running_header, 8, width - 2 * MARGIN), 8)
            canvas.setStrokeColor(RULE)
            canvas.setLineWidth(0.5)
            canvas.line(MARGIN, height - MARGIN - 1.2 * mm, width - MARGIN, height - MARGIN - 1.2 * mm)
        base = MARGIN - 6 * mm
        if self.warning:
            canvas.setFillColor(WARNING_INK)
            size = warning_size(self.warning, width - 2 * MARGIN)
            draw_text(canvas, MARGIN, base + 4.6 * mm, fit_text(self.warning, size, width - 2 * MARGIN, True),
                      size, bold=True)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, base + 3.2 * mm, width - MARGIN, base + 3.2 * mm)
        canvas.setFillColor(MUTED)
        page_text = f"Page {page} of {total}"
        room = width - 2 * MARGIN - 25 * mm
        draw_text(canvas, MARGIN, base, fit_text(self.footer_left, 7.5, room), 7.5)
        draw_text(canvas, width - MARGIN, base, page_text, 7.5, align="right")
        canvas.restoreState()


DRAFT_MARK = "DRAFT"


def _watermark(canvas: Canvas, width: float, height: float) -> None:
    """DRAFT across the page, light enough to read through, drawn under nothing the page needs."""
    canvas.saveState()
    canvas.setFillColor(colors.Color(0.55, 0.55, 0.55, alpha=0.22))
    canvas.translate(width / 2, height / 2)
    canvas.rotate(52)
    canvas.setFont(SANS_BOLD, 130)
    canvas.drawCentredString(0, -45, DRAFT_MARK)
    canvas.restoreState()


def _canvas_maker(decor: PageDecor) -> type[Canvas]:
    class NumberedCanvas(Canvas):
        """Keeps every page until the end, so each footer can say how many pages there are."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._kept_pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._kept_pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._kept_pages)
            for state in self._kept_pages:
                self.__dict__.update(state)
                decor.draw(self, self._pageNumber, total)
                super().showPage()
            super().save()

    return NumberedCanvas


def build_pdf(
    story: list[Flowable],
    decor: PageDecor,
    *,
    pagesize: tuple[float, float],
    title: str,
    subject: str,
    author: str,
    creator: str,
    what: str,
) -> bytes:
    """Lay out `story` into PDF bytes in memory: nothing reaches the disk until the whole document is made."""
    register_fonts()
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + HEADER_SPACE - 6 * mm,
        bottomMargin=MARGIN + FOOTER_SPACE - 6 * mm,
        title=title,
        subject=subject,
        author=author,
        creator=creator,
        producer=creator,
        initialFontName=SANS,  # else every PDF refers to a Helvetica it never uses
    )
    # No frame padding: tables as wide as frame_width() then line up with the text and the margins.
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    maker: Callable[..., Canvas] = _canvas_maker(decor)
    try:
        doc.build(story, canvasmaker=maker)
    except LayoutError as exc:
        raise ReportError(f"The {what} could not be laid out on the page ({exc}).") from exc
    return buffer.getvalue()


def frame_width(pagesize: tuple[float, float]) -> float:
    return pagesize[0] - 2 * MARGIN
