"""The grader's lesion marks on a photograph: where they saw microaneurysms, haemorrhages, exudates, cotton-wool
spots, new vessels and laser scars, as points (a click) or outlines (a lasso), in the photograph's own pixels.

Marks belong to the grader's decision (saved with it, so every change is in the audit trail), are drawn in the
report's pictures, exported with coordinates (`mark_rows`), and can become training masks (`lesion_drawing`: one
mask per kind, points as small discs). Imports neither Qt nor numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MICROANEURYSM, HAEMORRHAGE, EXUDATE = "microaneurysm", "haemorrhage", "hard exudate"
COTTON_WOOL, NEW_VESSELS, LASER_SCAR = "cotton-wool spot", "new vessels", "laser scar"
KINDS = (MICROANEURYSM, HAEMORRHAGE, EXUDATE, COTTON_WOOL, NEW_VESSELS, LASER_SCAR)
# Colours the app and the reports draw each kind in (RGB), told apart on a red-orange fundus and in red-free.
COLOURS = {MICROANEURYSM: (255, 235, 59), HAEMORRHAGE: (0, 229, 255), EXUDATE: (124, 77, 255),
           COTTON_WOOL: (255, 255, 255), NEW_VESSELS: (118, 255, 3), LASER_SCAR: (255, 64, 129)}
COLOUR_NAMES = {MICROANEURYSM: "yellow", HAEMORRHAGE: "cyan", EXUDATE: "violet", COTTON_WOOL: "white",
                NEW_VESSELS: "green", LASER_SCAR: "pink"}
POINT_RADIUS_SHARE = 0.004  # a point mark's disc, as a share of the photograph's width (about 17 px at 4288)

Point = tuple[float, float]


@dataclass(frozen=True)
class LesionMark:
    kind: str
    points: tuple[Point, ...]  # one: a point; three or more: an outline, closed

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"lesion kind must be one of {KINDS}, got {self.kind!r}")
        if len(self.points) in (0, 2):
            raise ValueError("a mark is one point or an outline of at least three")
        if any(x < 0 or y < 0 for x, y in self.points):
            raise ValueError("mark coordinates are pixels of the photograph: never negative")

    @property
    def shape(self) -> str:
        return "point" if len(self.points) == 1 else "outline"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "points": [[round(x, 1), round(y, 1)] for x, y in self.points]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LesionMark:
        return cls(str(data["kind"]), tuple((float(x), float(y)) for x, y in data["points"]))


def marks_to_list(marks: tuple[LesionMark, ...]) -> list[dict[str, Any]]:
    return [m.to_dict() for m in marks]


def marks_from_list(data: list[dict[str, Any]] | None) -> tuple[LesionMark, ...]:
    return tuple(LesionMark.from_dict(m) for m in data or ())


def counts(marks: tuple[LesionMark, ...]) -> dict[str, int]:
    """How many marks of each kind, in KINDS order, kinds without marks left out (for reports)."""
    found = {kind: sum(m.kind == kind for m in marks) for kind in KINDS}
    return {kind: n for kind, n in found.items() if n}


def legend(marks: tuple[LesionMark, ...], colours: bool = True) -> str:
    """'2 microaneurysms (yellow), 1 haemorrhage (cyan)': what a report says beside the marked photograph."""
    return ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" + (f" ({COLOUR_NAMES[kind]})" if colours else "")
                     for kind, n in counts(marks).items())


def mark_rows(key: str, path: str, marks: tuple[LesionMark, ...]) -> list[dict[str, object]]:
    """One row per mark for a CSV or JSON export: its kind, shape and points ("x y; x y; ...") in image pixels."""
    return [{"image_key": key, "path": path, "mark": i + 1, "kind": m.kind, "shape": m.shape,
             "x": round(m.points[0][0], 1) if m.shape == "point" else "",
             "y": round(m.points[0][1], 1) if m.shape == "point" else "",
             "points": "; ".join(f"{x:.1f} {y:.1f}" for x, y in m.points)}
            for i, m in enumerate(marks)]


MARK_COLUMNS = ("image_key", "path", "mark", "kind", "shape", "x", "y", "points")
