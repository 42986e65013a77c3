"""Draw the RAN Screening icon: a fundus (retina with optic disc, macula and vessels) on a rounded navy square.

One geometry, two renderings: `ran-screening.svg` (vector, for the Linux icon theme and anyone editing it) and a
Pillow raster drawn at 1024 px, from which the PNG sizes, the Windows `.ico` and the macOS `.icns` are made.
Run with the project's Python:  python installer/make_icons.py [--out resources/icons]
Only Pillow is needed; the output is deterministic, so running it again changes nothing.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "resources" / "icons"
NAME = "ran-screening"

CANVAS = 1024
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)

BACKGROUND = "#12355b"
CORNER = 200
FUNDUS_CENTRE = (512, 512)
FUNDUS_RADIUS = 390
FUNDUS_EDGE = (120, 28, 16)  # radial gradient: dark rim ...
FUNDUS_MIDDLE = (206, 72, 38)
FUNDUS_CENTRE_COLOUR = (232, 112, 56)  # ... to a brighter centre
FRAME_RADIUS = 420  # the black surround of a fundus photograph
FRAME_COLOUR = "#0b0f14"
DISC_CENTRE = (655, 470)
DISC_RADIUS = 78
DISC_COLOUR = "#fbe2a0"
CUP_RADIUS = 38
CUP_COLOUR = "#fff7dc"
MACULA_CENTRE = (385, 535)
MACULA_RADIUS = 46
MACULA_COLOUR = "#b23d1d"
VESSEL_COLOUR = "#7a1a0c"
# Quadratic Bézier vessels: the arcades leave the optic disc and curve around the macula, with a few branches and
# short nasal vessels. Start, control, end, width.
VESSELS = (
    ((630, 430), (520, 250), (250, 300), 20),
    ((630, 510), (520, 700), (250, 660), 20),
    ((470, 315), (420, 380), (400, 440), 11),
    ((470, 640), (420, 600), (395, 590), 11),
    ((560, 330), (560, 230), (520, 160), 12),
    ((560, 620), (560, 720), (520, 850), 12),
    ((705, 440), (790, 380), (860, 330), 12),
    ((705, 505), (790, 570), (860, 650), 12),
)


def svg() -> str:
    """The icon as SVG 1.1, same geometry as the raster."""
    cx, cy = FUNDUS_CENTRE
    vessels = "\n".join(
        f'    <path d="M{a[0]:.0f} {a[1]:.0f} L{b[0]:.0f} {b[1]:.0f}" stroke-width="{w:.1f}"/>'
        for a, b, w in _vessel_segments(16)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{CANVAS}" height="{CANVAS}" viewBox="0 0 {CANVAS} {CANVAS}">
  <title>RAN Screening</title>
  <defs>
    <radialGradient id="fundus" cx="{cx}" cy="{cy}" r="{FUNDUS_RADIUS}" gradientUnits="userSpaceOnUse">
      <stop offset="0" stop-color="{_hex(FUNDUS_CENTRE_COLOUR)}"/>
      <stop offset="0.6" stop-color="{_hex(FUNDUS_MIDDLE)}"/>
      <stop offset="1" stop-color="{_hex(FUNDUS_EDGE)}"/>
    </radialGradient>
    <clipPath id="retina"><circle cx="{cx}" cy="{cy}" r="{FUNDUS_RADIUS}"/></clipPath>
  </defs>
  <rect width="{CANVAS}" height="{CANVAS}" rx="{CORNER}" fill="{BACKGROUND}"/>
  <circle cx="{cx}" cy="{cy}" r="{FRAME_RADIUS}" fill="{FRAME_COLOUR}"/>
  <circle cx="{cx}" cy="{cy}" r="{FUNDUS_RADIUS}" fill="url(#fundus)"/>
  <circle cx="{MACULA_CENTRE[0]}" cy="{MACULA_CENTRE[1]}" r="{MACULA_RADIUS}" fill="{MACULA_COLOUR}"/>
  <g clip-path="url(#retina)" fill="none" stroke="{VESSEL_COLOUR}" stroke-linecap="round">
{vessels}
  </g>
  <circle cx="{DISC_CENTRE[0]}" cy="{DISC_CENTRE[1]}" r="{DISC_RADIUS}" fill="{DISC_COLOUR}"/>
  <circle cx="{DISC_CENTRE[0]}" cy="{DISC_CENTRE[1]}" r="{CUP_RADIUS}" fill="{CUP_COLOUR}"/>
</svg>
"""


def render(size: int = CANVAS) -> Image.Image:
    """The icon as RGBA at `size` px: drawn at 1024 px with 2x supersampling, then scaled down."""
    scale = 2
    big = CANVAS * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=CORNER * scale, fill=BACKGROUND)
    _disc(draw, FUNDUS_CENTRE, FRAME_RADIUS, FRAME_COLOUR, scale)

    retina = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    rdraw = ImageDraw.Draw(retina)
    cx, cy = (v * scale for v in FUNDUS_CENTRE)
    radius = FUNDUS_RADIUS * scale
    steps = 160
    for i in range(steps, 0, -1):  # concentric discs from the rim inwards make the radial gradient
        t = i / steps
        r = radius * t
        rdraw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_gradient(t))
    _disc(rdraw, MACULA_CENTRE, MACULA_RADIUS, MACULA_COLOUR, scale)
    for a, b, width in _vessel_segments(48):
        ends = [(a[0] * scale, a[1] * scale), (b[0] * scale, b[1] * scale)]
        rdraw.line(ends, fill=VESSEL_COLOUR, width=round(width * scale))
        for x, y in ends:  # round caps and joints, as in the SVG
            half = width * scale / 2
            rdraw.ellipse((x - half, y - half, x + half, y + half), fill=VESSEL_COLOUR)
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
    image.paste(retina, (0, 0), _multiply(mask, retina.getchannel("A")))

    draw = ImageDraw.Draw(image)
    _disc(draw, DISC_CENTRE, DISC_RADIUS, DISC_COLOUR, scale)
    _disc(draw, DISC_CENTRE, CUP_RADIUS, CUP_COLOUR, scale)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def write_icons(out: Path) -> list[Path]:
    """Write the SVG, PNGs, .ico and .icns into `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    master = render(CANVAS)
    written = []
    svg_path = out / f"{NAME}.svg"
    svg_path.write_text(svg(), encoding="utf-8")
    written.append(svg_path)
    for size in PNG_SIZES:
        path = out / f"{NAME}-{size}.png"
        _resized(master, size).save(path, optimize=True)
        written.append(path)
    ico = out / f"{NAME}.ico"
    # Each size drawn from the master on its own (Pillow would otherwise shrink the largest one for every entry).
    ico_images = [_resized(master, s) for s in ICO_SIZES]
    ico_images[-1].save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=ico_images[:-1])
    written.append(ico)
    icns = out / f"{NAME}.icns"
    master.save(icns, format="ICNS", append_images=[_resized(master, s) for s in ICNS_SIZES[:-1]])
    written.append(icns)
    return written


def _resized(master: Image.Image, size: int) -> Image.Image:
    return master if size == master.width else master.resize((size, size), Image.Resampling.LANCZOS)


def _gradient(t: float) -> tuple[int, int, int, int]:
    """Colour at relative radius t (0 centre, 1 rim), matching the SVG gradient's stops at 0, 0.6 and 1."""
    if t <= 0.6:
        a, b, u = FUNDUS_CENTRE_COLOUR, FUNDUS_MIDDLE, t / 0.6
    else:
        a, b, u = FUNDUS_MIDDLE, FUNDUS_EDGE, (t - 0.6) / 0.4
    return (*(round(x + (y - x) * u) for x, y in zip(a, b, strict=True)), 255)  # type: ignore[return-value]


def _vessel_segments(pieces: int) -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    """Each vessel as `pieces` straight segments whose width tapers to 40 % towards its end."""
    segments = []
    for start, control, end, width in VESSELS:
        points = [_bezier(start, control, end, k / pieces) for k in range(pieces + 1)]
        for k in range(pieces):
            segments.append((points[k], points[k + 1], width * (1 - 0.6 * (k + 0.5) / pieces)))
    return segments


def _bezier(p0: tuple[int, int], p1: tuple[int, int], p2: tuple[int, int], t: float) -> tuple[float, float]:
    u = 1 - t
    return (u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0], u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1])


def _disc(draw: ImageDraw.ImageDraw, centre: tuple[int, int], radius: int, colour: str, scale: int) -> None:
    x, y, r = centre[0] * scale, centre[1] * scale, radius * scale
    draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)


def _multiply(a: Image.Image, b: Image.Image) -> Image.Image:
    from PIL import ImageChops

    return ImageChops.multiply(a, b)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{v:02x}" for v in rgb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = parser.parse_args()
    for path in write_icons(args.out):
        print(f"wrote {path} ({math.ceil(path.stat().st_size / 1024)} KB)")


if __name__ == "__main__":
    main()
