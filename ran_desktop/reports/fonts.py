"""The report fonts, and text split into runs that each font can draw.

reportlab draws a string in one font and does no per-glyph fallback: a Cyrillic or CJK name in a Latin-only font
prints as empty boxes. Every piece of text therefore goes through `runs`, which gives each stretch of characters
the first font that has their glyphs (DejaVu Sans for Latin, Greek and Cyrillic; Droid Sans Fallback for CJK).
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ran_desktop.paths import resources_dir
from ran_desktop.reports.errors import ReportError

SANS = "RanSans"
SANS_BOLD = "RanSans-Bold"
CJK = "RanCJK"

_FILES = {
    SANS: "DejaVuSans.ttf",
    SANS_BOLD: "DejaVuSans-Bold.ttf",
    CJK: "DroidSansFallback.ttf",
}

_lock = threading.Lock()
_cmaps: dict[str, frozenset[int]] = {}


def fonts_dir() -> Path:
    return resources_dir() / "fonts"


def register_fonts() -> None:
    """Register the shipped fonts with reportlab once per process; safe from any thread."""
    with _lock:
        if _cmaps:
            return
        loaded: dict[str, frozenset[int]] = {}
        for name, file_name in _FILES.items():
            path = fonts_dir() / file_name
            try:
                font = TTFont(name, str(path))
            except Exception as exc:  # reportlab raises its own TTFError, IOError or struct errors
                raise ReportError(f"The report font {path} cannot be loaded ({exc}); reinstall the app.") from exc
            pdfmetrics.registerFont(font)
            loaded[name] = frozenset(font.face.charToGlyph)
        _cmaps.update(loaded)


@dataclass(frozen=True)
class Run:
    font: str
    text: str


def clean(text: object) -> str:
    """Text safe to draw: NFC (so accents are one glyph), no control or format characters.

    Format characters (bidi overrides, zero-width joiners) are dropped because reportlab cannot honour them and a
    right-to-left override could make an ID print reversed.
    """
    value = unicodedata.normalize("NFC", "" if text is None else str(text))
    out = []
    for ch in value:
        category = unicodedata.category(ch)
        if ch in "\t\n\r":
            out.append(" ")
        elif category not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(ch)
    return "".join(out)


def runs(text: object, bold: bool = False) -> list[Run]:
    """`text` cut where the font must change. Characters no font has stay in the main font (drawn as boxes)."""
    register_fonts()
    main = SANS_BOLD if bold else SANS
    result: list[Run] = []
    for ch in clean(text):
        code = ord(ch)
        if code in _cmaps[main]:
            font = main
        elif code in _cmaps[CJK]:
            font = CJK
        else:
            font = main
        # Spaces and punctuation both fonts have stay in the current run instead of splitting it.
        if result and result[-1].font != font and code in _cmaps[result[-1].font] and not ch.isalnum():
            font = result[-1].font
        if result and result[-1].font == font:
            result[-1] = Run(font, result[-1].text + ch)
        else:
            result.append(Run(font, ch))
    return result


def has_cjk(text: object) -> bool:
    return any(run.font == CJK for run in runs(text))


def markup(text: object, bold: bool = False) -> str:
    """Paragraph markup for `text`: XML-escaped, each run in its font."""
    main = SANS_BOLD if bold else SANS
    parts = []
    for run in runs(text, bold):
        escaped = escape(run.text)
        parts.append(escaped if run.font == main and not bold else f'<font face="{run.font}">{escaped}</font>')
    return "".join(parts)


def text_width(text: object, size: float, bold: bool = False) -> float:
    return sum(pdfmetrics.stringWidth(run.text, run.font, size) for run in runs(text, bold))


def draw_text(canvas: Canvas, x: float, y: float, text: object, size: float, *, bold: bool = False,
              align: str = "left") -> float:
    """Draw `text` on one line at baseline `y`; `align` is "left", "right" or "centre" about `x`. Returns its width."""
    pieces = runs(text, bold)
    width = sum(pdfmetrics.stringWidth(run.text, run.font, size) for run in pieces)
    if align == "right":
        x -= width
    elif align == "centre":
        x -= width / 2
    for run in pieces:
        canvas.setFont(run.font, size)
        canvas.drawString(x, y, run.text)
        x += pdfmetrics.stringWidth(run.text, run.font, size)
    return width


def fit_text(text: object, size: float, max_width: float, bold: bool = False) -> str:
    """`text` shortened with an ellipsis until it fits `max_width` (for one-line headers and footers)."""
    value = clean(text)
    if text_width(value, size, bold) <= max_width:
        return value
    while value and text_width(value + "…", size, bold) > max_width:
        value = value[:-1]
    return value + "…"
