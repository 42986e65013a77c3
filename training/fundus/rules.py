"""Lesion annotations and the grading rules that turn them into ICDR DR and DME grades.

The generator places lesions so that these rules give the grade it was asked for; tests re-derive the grades
from the annotations with the functions here, so the rule is written down once, as code.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import hypot

from training.fundus.geometry import QUADRANTS

MICROANEURYSM = "microaneurysm"
DOT_HAEMORRHAGE = "dot_haemorrhage"
BLOT_HAEMORRHAGE = "blot_haemorrhage"
FLAME_HAEMORRHAGE = "flame_haemorrhage"
HARD_EXUDATE = "hard_exudate"
COTTON_WOOL_SPOT = "cotton_wool_spot"
VENOUS_BEADING = "venous_beading"
IRMA = "irma"
NVD = "nvd"
NVE = "nve"
PRERETINAL_HAEMORRHAGE = "preretinal_haemorrhage"
VITREOUS_HAEMORRHAGE = "vitreous_haemorrhage"

LESION_KINDS = (
    MICROANEURYSM,
    DOT_HAEMORRHAGE,
    BLOT_HAEMORRHAGE,
    FLAME_HAEMORRHAGE,
    HARD_EXUDATE,
    COTTON_WOOL_SPOT,
    VENOUS_BEADING,
    IRMA,
    NVD,
    NVE,
    PRERETINAL_HAEMORRHAGE,
    VITREOUS_HAEMORRHAGE,
)
INTRARETINAL_HAEMORRHAGES = frozenset({DOT_HAEMORRHAGE, BLOT_HAEMORRHAGE, FLAME_HAEMORRHAGE})
PROLIFERATIVE = frozenset({NVD, NVE, PRERETINAL_HAEMORRHAGE, VITREOUS_HAEMORRHAGE})
NEOVASCULARISATION = frozenset({NVD, NVE})

# ICDR severe NPDR, the 4-2-1 rule: MORE than 20 intraretinal haemorrhages in each of 4 quadrants, venous
# beading in 2 or more quadrants, or IRMA in 1 or more quadrant.
SEVERE_HAEMORRHAGES_PER_QUADRANT = 20
SEVERE_BEADING_QUADRANTS = 2
SEVERE_IRMA_QUADRANTS = 1
CRITERION_HAEMORRHAGES = "haemorrhages_4_quadrants"
CRITERION_BEADING = "venous_beading_2_quadrants"
CRITERION_IRMA = "irma_1_quadrant"
SEVERE_CRITERIA = (CRITERION_HAEMORRHAGES, CRITERION_BEADING, CRITERION_IRMA)

# DME (IDRiD / Messidor "risk of macular edema", ICDR DME scale): hard exudates within one disc diameter of the
# foveal centre -> 2; elsewhere in the posterior pole -> 1; none in the posterior pole -> 0. The posterior pole is
# taken as 3 DD around the fovea: the region the temporal arcades and the disc enclose.
FOVEA_ZONE_DD = 1.0
POSTERIOR_POLE_DD = 3.0


@dataclass(frozen=True)
class Lesion:
    """One lesion as annotated on the output image: pixel centre, radius (half its largest extent) and quadrant."""

    kind: str
    center: tuple[float, float]
    radius: float
    quadrant: str

    def __post_init__(self) -> None:
        if self.kind not in LESION_KINDS:
            raise ValueError(f"unknown lesion kind {self.kind!r}")
        if self.quadrant not in QUADRANTS:
            raise ValueError(f"unknown quadrant {self.quadrant!r}")

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "center": [round(self.center[0], 2), round(self.center[1], 2)],
            "radius": round(self.radius, 2),
            "quadrant": self.quadrant,
        }


def haemorrhage_counts(lesions: list[Lesion]) -> dict[str, int]:
    """Intraretinal haemorrhages (dot, blot, flame; not microaneurysms) per quadrant."""
    counts = dict.fromkeys(QUADRANTS, 0)
    for les in lesions:
        if les.kind in INTRARETINAL_HAEMORRHAGES:
            counts[les.quadrant] += 1
    return counts


def severe_criteria(lesions: list[Lesion]) -> tuple[str, ...]:
    """The 4-2-1 criteria these lesions meet, in SEVERE_CRITERIA order."""
    met = []
    if all(n > SEVERE_HAEMORRHAGES_PER_QUADRANT for n in haemorrhage_counts(lesions).values()):
        met.append(CRITERION_HAEMORRHAGES)
    if len({les.quadrant for les in lesions if les.kind == VENOUS_BEADING}) >= SEVERE_BEADING_QUADRANTS:
        met.append(CRITERION_BEADING)
    if len({les.quadrant for les in lesions if les.kind == IRMA}) >= SEVERE_IRMA_QUADRANTS:
        met.append(CRITERION_IRMA)
    return tuple(met)


def derive_icdr_grade(lesions: list[Lesion]) -> int:
    """ICDR DR grade 0-4 from lesion annotations.

    4 proliferative: any neovascularisation (disc or elsewhere), pre-retinal or vitreous haemorrhage.
    3 severe NPDR: any 4-2-1 criterion, and nothing proliferative.
    2 moderate NPDR: more than microaneurysms only, but less than severe.
    1 mild NPDR: microaneurysms only.
    0 no apparent retinopathy.
    """
    kinds = {les.kind for les in lesions}
    if kinds & PROLIFERATIVE:
        return 4
    if severe_criteria(lesions):
        return 3
    if kinds - {MICROANEURYSM}:
        return 2
    if MICROANEURYSM in kinds:
        return 1
    return 0


def exudate_distance_dd(lesion: Lesion, fovea: tuple[float, float], dd_px: float) -> float:
    """Distance (DD) from the foveal centre to the nearest edge of a lesion."""
    d = hypot(lesion.center[0] - fovea[0], lesion.center[1] - fovea[1]) - lesion.radius
    return max(d, 0.0) / dd_px


def dme_grade_from_distances(distances_dd: list[float]) -> int:
    """DME grade 0-2 from each hard exudate's nearest distance (DD) to the foveal centre."""
    if any(d <= FOVEA_ZONE_DD for d in distances_dd):
        return 2
    if any(d <= POSTERIOR_POLE_DD for d in distances_dd):
        return 1
    return 0


def derive_dme_grade(lesions: list[Lesion], fovea: tuple[float, float], dd_px: float) -> int:
    """DME grade 0-2 from the hard exudates' distances to the fovea (see FOVEA_ZONE_DD, POSTERIOR_POLE_DD)."""
    return dme_grade_from_distances(
        [exudate_distance_dd(les, fovea, dd_px) for les in lesions if les.kind == HARD_EXUDATE]
    )
