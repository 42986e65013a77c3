"""ICDR DR and DME grades of a real photograph from its expert lesion masks, by the generator's own rules.

Each connected region of a mask is one lesion: microaneurysms (MA) -> microaneurysm; haemorrhages (HE) -> dot
haemorrhage when smaller than 0.12 DD across, else blot; soft exudates (SE) -> cotton-wool spot; hard exudates (EX)
-> hard exudate. The lesions then go through `training.fundus.rules`, written once for both:
- DR: microaneurysms only -> 1; anything more -> 2; more than 20 haemorrhages in each of the four quadrants (about
  the field's centre, split along the retina's horizontal meridian; the 4-2-1 rule's first criterion) -> 3. IDRiD
  has no masks for venous beading, IRMA or new vessels, so the other two 4-2-1 criteria and grade 4 cannot be seen:
  a derived grade is at most 3, and a 3 only by haemorrhage counts.
- DME: the nearest hard-exudate pixel within 1 DD of the fovea -> 2; within the posterior pole (3 DD) -> 1; else 0.
The fovea is located from the disc mask and the dark macula (`anatomy.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ran_desktop.engine.imaging.loading.types import Eye
from training.datasets.idrid_anatomy import real_geometry
from training.datasets.idrid_segmentation import DISC, SOURCE, CaseImages, load_cases, read_case
from training.datasets.records import LoadedRecords, Record
from training.fundus import rules as R
from training.fundus.geometry import FieldGeometry

DOT_MAX_DIAMETER_DD = 0.12
KIND_OF_MASK = {"MA": R.MICROANEURYSM, "EX": R.HARD_EXUDATE, "SE": R.COTTON_WOOL_SPOT}


@dataclass(frozen=True)
class GradedCase:
    dr: int
    dme: int
    eye: str
    geometry: FieldGeometry
    lesions: list[R.Lesion]
    exudate_distance_dd: float | None  # nearest hard-exudate pixel to the fovea; None without exudates
    haemorrhages_per_quadrant: dict[str, int]


def components(mask: np.ndarray) -> list[tuple[tuple[float, float], float]]:
    """(centroid (x, y), radius = half the larger bounding-box side) of each connected region."""
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, count):
        radius = max(stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]) / 2.0
        out.append(((float(centroids[i, 0]), float(centroids[i, 1])), float(radius)))
    return out


def lesions_from_masks(masks: dict[str, np.ndarray], geometry: FieldGeometry) -> list[R.Lesion]:
    lesions = []
    for key, mask in masks.items():
        if key == DISC:
            continue
        for centre, radius in components(mask):
            if key == "HE":
                kind = R.DOT_HAEMORRHAGE if 2 * radius < DOT_MAX_DIAMETER_DD * geometry.dd_px else R.BLOT_HAEMORRHAGE
            else:
                kind = KIND_OF_MASK[key]
            lesions.append(R.Lesion(kind, centre, radius, geometry.quadrants_of(np.array([centre]))[0]))
    return lesions


def nearest_distance_dd(mask: np.ndarray, point: tuple[float, float], dd_px: float) -> float | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return float(np.min(np.hypot(xs - point[0], ys - point[1]))) / dd_px


def grade_masks(masks: dict[str, np.ndarray], geometry: FieldGeometry) -> GradedCase:
    lesions = lesions_from_masks(masks, geometry)
    exudate = nearest_distance_dd(masks["EX"], geometry.fovea, geometry.dd_px)
    dme = R.dme_grade_from_distances([] if exudate is None else [exudate])
    return GradedCase(R.derive_icdr_grade(lesions), dme, geometry.eye, geometry, lesions, exudate,
                      R.haemorrhage_counts(lesions))


def grade_case(images: CaseImages) -> GradedCase:
    """Grades of one photograph (decoded with its masks by `read_case`)."""
    red = images.masks["MA"] | images.masks["HE"]
    geometry = real_geometry(images.rgb, images.masks[DISC], red)
    return grade_masks(images.masks, geometry)


def load(root: Path) -> LoadedRecords:
    """As a training set: each photograph with the grades its masks imply (decoded at 1/3 size to measure)."""
    records = LoadedRecords(SOURCE)
    for case in load_cases(root):
        graded = grade_case(read_case(case, width=1424))
        records.add(Record(case.image, graded.dr, graded.dme, case.id, Eye(graded.eye), SOURCE, case.split),
                    case.id)
    return records
