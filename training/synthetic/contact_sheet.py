"""A contact sheet: one PNG grid of generated photographs, a row per DR grade and a row of DME examples, labelled,
for people to check what the generator makes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.fundus.rules import (
    CRITERION_BEADING,
    CRITERION_HAEMORRHAGES,
    CRITERION_IRMA,
    FOVEA_ZONE_DD,
    POSTERIOR_POLE_DD,
    SEVERE_CRITERIA,
)
from training.synthetic.generate import FundusSample, generate_fundus

_DR_NAMES = ("DR 0 none", "DR 1 mild", "DR 2 moderate", "DR 3 severe", "DR 4 proliferative")
_CRITERION_SHORT = {CRITERION_HAEMORRHAGES: "H>20x4", CRITERION_BEADING: "VB", CRITERION_IRMA: "IRMA"}
_HEADER = 26
_ROW_LABEL = 150


def _tile(sample: FundusSample, tile: int, zones: bool) -> np.ndarray:
    """The photograph letterboxed into a square tile with a caption strip; `zones` outlines the DME rings."""
    img = sample.image.copy()
    if zones:
        g = sample.geometry
        centre = (round(g.fovea[0]), round(g.fovea[1]))
        thick = max(img.shape[1] // 400, 1)
        cv2.circle(img, centre, round(FOVEA_ZONE_DD * g.dd_px), (255, 255, 255), thick, cv2.LINE_AA)
        cv2.circle(img, centre, round(POSTERIOR_POLE_DD * g.dd_px), (160, 200, 255), thick, cv2.LINE_AA)
    h, w = img.shape[:2]
    s = tile / max(h, w)
    small = cv2.resize(img, (max(round(w * s), 1), max(round(h * s), 1)), interpolation=cv2.INTER_AREA)
    out = np.zeros((tile + _HEADER, tile, 3), np.uint8)
    y0, x0 = _HEADER + (tile - small.shape[0]) // 2, (tile - small.shape[1]) // 2
    out[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    crit = " " + _CRITERION_SHORT[sample.severe_criteria[0]] if sample.dr == 3 else ""
    real = " real lesions" if sample.lesion_source == "real" else ""
    caption = f"DR{sample.dr} DME{sample.dme} {sample.eye} {sample.field[:3]} {sample.background[:4]}{crit}{real}"
    cv2.putText(out, caption, (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def write_contact_sheet(
    path: Path | str,
    *,
    seed: int = 0,
    columns: int = 5,
    tile: int = 320,
    size: int = 512,
    camera_family: str = "train",
    real_columns: int = 1,
    real_assets: str | Path | None = None,
) -> Path:
    """Write the sheet as PNG and return its path. The last `real_columns` columns use the real background; the
    DME row shows DME 0, 1, 2 (DR 2-4) with the 1-DD foveal zone (white) and the posterior pole (blue) outlined.
    With `real_assets` (what ran-real made), two more columns beside them show the same grades with real lesions
    pasted from the lesion bank: on a synthetic background, and on a lesion-free real photograph."""
    if columns < 3:
        raise ValueError(f"a contact sheet needs at least 3 columns, not {columns}")
    rows = []
    for dr in range(5):
        tiles = []
        for c in range(columns):
            real = c >= columns - real_columns
            sample = generate_fundus(
                seed * 1000 + dr * 100 + c,
                dr=dr,
                size=size,
                background="real" if real else "synthetic",
                camera_family=camera_family,
                severe_criterion=SEVERE_CRITERIA[c % 3] if dr == 3 else None,  # show every 4-2-1 criterion
            )
            tiles.append(_tile(sample, tile, zones=False))
        for background in ("synthetic", "idrid") if real_assets else ():
            sample = generate_fundus(seed * 1000 + dr * 100 + 50, dr=dr, size=size, background=background,
                                     camera_family=camera_family, lesion_source="real", real_assets=str(real_assets),
                                     severe_criterion=SEVERE_CRITERIA[0] if dr == 3 else None)
            tiles.append(_tile(sample, tile, zones=False))
        rows.append((_DR_NAMES[dr], tiles))
    dme_tiles = []
    for c in range(columns):
        dme = c % 3
        sample = generate_fundus(seed * 1000 + 700 + c, dr=2 + c % 3, dme=dme, size=size, field="macula",
                                 background="real" if c >= columns - real_columns else "synthetic",
                                 camera_family=camera_family)
        dme_tiles.append(_tile(sample, tile, zones=True))
    for c, background in enumerate(("synthetic", "idrid") if real_assets else ()):
        sample = generate_fundus(seed * 1000 + 750 + c, dr=2, dme=2 - c, size=size, field="macula",
                                 background=background, camera_family=camera_family, lesion_source="real",
                                 real_assets=str(real_assets))
        dme_tiles.append(_tile(sample, tile, zones=True))
    rows.append(("DME 0 / 1 / 2", dme_tiles))
    row_h = tile + _HEADER
    width = max(len(tiles) for _, tiles in rows)
    sheet = np.full((row_h * len(rows), _ROW_LABEL + tile * width, 3), 24, np.uint8)
    for r, (label, tiles) in enumerate(rows):
        y = r * row_h
        cv2.putText(sheet, label, (8, y + row_h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        for c, t in enumerate(tiles):
            sheet[y : y + row_h, _ROW_LABEL + c * tile : _ROW_LABEL + (c + 1) * tile] = t
    out = Path(path)
    if out.suffix.lower() != ".png":
        out = out.with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet[..., ::-1]):
        raise OSError(f"could not write contact sheet {out}")
    return out
