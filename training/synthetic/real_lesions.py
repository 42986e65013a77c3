"""Real lesions in generated images: the plan's microaneurysms, haemorrhages, hard exudates and cotton-wool spots
pasted from a bank of lesions cut from real photographs (training/real/lesion_bank.py) instead of painted.

The planner still decides every lesion's kind, place and size, so the labels follow the same ICDR and DME rules;
each pasted lesion is scaled to the size the plan (and its annotation) gives it, from a bank lesion of about that
size, turned and mirrored at random. Venous beading, IRMA, new vessels and pre-retinal or vitreous blood have no
masks in the bank and stay painted.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from training.fundus import rules as R
from training.fundus.geometry import FieldGeometry
from training.real.assets import lesion_bank
from training.real.lesion_bank import paste
from training.synthetic.lesion_plan import MASK_BIT, LesionPlan

BANK_KIND = {
    R.MICROANEURYSM: "MA",
    R.DOT_HAEMORRHAGE: "HE",
    R.BLOT_HAEMORRHAGE: "HE",
    R.FLAME_HAEMORRHAGE: "HE",
    R.HARD_EXUDATE: "EX",
    R.COTTON_WOOL_SPOT: "SE",
}
# Under the retinal vessels (pasted before they are drawn on a synthetic background); the rest lie on top.
DEEP_KINDS = frozenset({R.MICROANEURYSM, R.DOT_HAEMORRHAGE, R.BLOT_HAEMORRHAGE, R.HARD_EXUDATE})
_BLOT_ANNOTATION = 1.3  # lesions.py annotates a blot 1.3 times its core radius: its lobes reach that far


def split_for_pasting(plan: LesionPlan) -> tuple[LesionPlan, list]:
    """(the plan with only what stays painted, the shapes to paste from the bank)."""
    pasted = [s for s in plan.shapes if s.kind in BANK_KIND]
    return replace(plan, shapes=[s for s in plan.shapes if s.kind not in BANK_KIND]), pasted


def annotated_radius(shape) -> float:
    """The radius the plan annotated this shape with (lesions.py), so a pasted lesion keeps the labels true."""
    radius = float(max(shape.size))
    return radius * _BLOT_ANNOTATION if shape.kind == R.BLOT_HAEMORRHAGE else radius


def paste_real(img: np.ndarray, shapes: list, geom: FieldGeometry, assets: str, rng: np.random.Generator,
               lesion_bits: np.ndarray | None = None) -> int:
    """Paste a bank lesion for each shape into float32 RGB `img`; returns how many were pasted. Each pasted
    lesion's own mask is added to `lesion_bits` (uint8 (H, W), training/lesion_masks.py), when given."""
    if not shapes:
        return 0
    bank = lesion_bank(assets)
    done = 0
    for shape in shapes:
        radius = annotated_radius(shape)
        lesion = bank.pick(BANK_KIND[shape.kind], radius / geom.dd_px, rng)
        if lesion is None:
            continue
        footprint = paste(img, lesion, shape.center, radius, float(rng.uniform(0, 360)), bool(rng.random() < 0.5))
        if lesion_bits is not None:
            lesion_bits[footprint] |= np.uint8(1 << MASK_BIT[shape.kind])
        done += 1
    return done
