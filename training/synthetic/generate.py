"""One synthetic colour fundus photograph with its labels and lesion annotations, deterministic by seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.fundus import rules as R
from training.fundus.anatomy import Appearance, render_background, render_disc, sample_appearance
from training.fundus.camera import CameraParams, apply_camera, frame_size, sample_camera
from training.fundus.geometry import EYES, FieldGeometry
from training.fundus.real_background import real_background
from training.fundus.vessels import composite_vessels, grow_vessel_tree, render_vessel_maps
from training.real.assets import idrid_background
from training.synthetic.lesion_paint import paint_deep, paint_superficial, painted_lesion_bits
from training.synthetic.lesion_plan import plan_lesions
from training.synthetic.real_lesions import DEEP_KINDS, paste_real, split_for_pasting

BACKGROUNDS = ("synthetic", "real", "idrid")
LESION_SOURCES = ("painted", "real")
FIELDS = ("macula", "disc")
# DR grade weights when none is asked for: balanced-ish, a little more grade 0.
DEFAULT_DR_WEIGHTS = (0.28, 0.18, 0.18, 0.18, 0.18)
# DME given DR >= 2: the same for DR 2, 3 and 4, so a model cannot read one grade from the other.
DME_WEIGHTS = (0.4, 0.3, 0.3)
_MACULA_FIELD_P = 0.7


@dataclass
class FundusSample:
    """A generated photograph and everything known about it by construction."""

    image: np.ndarray  # uint8 RGB (H, W, 3)
    dr: int
    dme: int
    eye: str
    field: str
    background: str
    seed: int
    lesions: list[R.Lesion]  # a pasted real lesion is annotated where and as large as the plan placed it
    geometry: FieldGeometry
    camera: CameraParams
    severe_criteria: tuple[str, ...]  # the 4-2-1 criteria the lesions meet (grade 3, and NPDR part of grade 4)
    lesion_source: str = "painted"  # "real": the bank's lesions were pasted where the plan put them
    lesion_bits: np.ndarray | None = None  # uint8 (H, W) lesion mask (training/lesion_masks.py), where painted/pasted

    def annotations(self) -> dict:
        """JSON-ready labels, geometry, camera and lesion list."""
        return {
            "seed": self.seed,
            "dr": self.dr,
            "dme": self.dme,
            "eye": self.eye,
            "field": self.field,
            "background": self.background,
            "severe_criteria": list(self.severe_criteria),
            "geometry": self.geometry.to_dict(),
            "camera": self.camera.to_dict(),
            "lesions": [les.to_dict() for les in self.lesions],
        }


def sample_dme(rng: np.random.Generator, dr: int) -> int:
    """DME grade for an eye of DR grade `dr`: hard exudates only come with DR >= 2 (see `plan_lesions`)."""
    return 0 if dr < 2 else int(rng.choice(3, p=DME_WEIGHTS))


def make_geometry(
    rng: np.random.Generator, cam: CameraParams, eye: str, field: str, disc_offset: tuple[float, float]
) -> FieldGeometry:
    """Place the retina in the camera's frame: fovea (macula field) or disc (disc field) near the centre."""
    width, height, radius = frame_size(cam)
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    dd = cam.dd_ratio * radius
    probe = FieldGeometry(width, height, eye, centre, radius, None, centre, dd, cam.rotation_deg, disc_offset)
    jitter = rng.normal(0, 0.05 * radius, 2)
    target = np.array(centre) + jitter
    if field == "disc":
        # The disc sits at the target, so the fovea is one disc-to-fovea vector away from it.
        target = target - (np.array(probe.disc) - np.array(centre))
    return FieldGeometry(
        width=width,
        height=height,
        eye=eye,
        fov_center=centre,
        fov_radius=radius,
        notch_angle_deg=cam.notch_angle,
        fovea=(float(target[0]), float(target[1])),
        dd_px=dd,
        rotation_deg=cam.rotation_deg,
        disc_offset=disc_offset,
    )


def generate_fundus(
    seed: int,
    *,
    dr: int | None = None,
    dme: int | None = None,
    eye: str | None = None,
    field: str | None = None,
    size: int | None = 512,
    background: str = "synthetic",
    camera_family: str = "train",
    camera: CameraParams | None = None,
    appearance: Appearance | None = None,
    severe_criterion: str | None = None,
    lesion_source: str = "painted",
    real_assets: str | None = None,
) -> FundusSample:
    """Generate one photograph. Unset choices are drawn from `seed`; the same arguments give the same bytes.

    dr / dme: ICDR grade 0-4 / DME grade 0-2 (DME >= 1 needs DR >= 2: hard exudates are not "microaneurysms only").
    eye: "OD" or "OS". field: "macula" or "disc" centred (real backgrounds are macula-centred only).
    size: output width in px (height = width x the camera's aspect); None lets the camera draw 384-1024.
    background: "synthetic", "real" (lesions on resources/samples/normal_fundus_OS.jpg) or "idrid" (on a lesion-free
        real photograph from `real_assets`, see training/real/).
    lesion_source: "painted" (drawn by lesions.py) or "real" (microaneurysms, haemorrhages, hard exudates and
        cotton-wool spots pasted from the lesion bank in `real_assets`, at the places and sizes the plan gives).
    camera / appearance: pass to share them between a patient's two eyes; otherwise drawn from the seed (a given
        camera fixes the size and family, so `size` and `camera_family` are then not used).
    severe_criterion: which 4-2-1 criterion makes a grade 3 (one of rules.SEVERE_CRITERIA); None draws one.
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, not {background!r}")
    if eye is not None and eye not in EYES:
        raise ValueError(f"eye must be one of {EYES}, not {eye!r}")
    if field is not None and field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, not {field!r}")
    if lesion_source not in LESION_SOURCES:
        raise ValueError(f"lesion_source must be one of {LESION_SOURCES}, not {lesion_source!r}")
    if background != "synthetic" and field == "disc":
        raise ValueError("the real background photographs are macula-centred; they cannot give a disc-centred field")
    if (background == "idrid" or lesion_source == "real") and real_assets is None:
        raise ValueError("real lesions and IDRiD backgrounds need real_assets (a folder made by ran-real)")
    # Separate streams per stage, so e.g. a shared camera does not shift the anatomy drawn from the same seed.
    meta = np.random.default_rng([seed, 0])
    if dr is None:
        dr = int(meta.choice(5, p=DEFAULT_DR_WEIGHTS))
    if dme is None:
        dme = sample_dme(meta, dr)
    eye = eye or str(meta.choice(EYES))
    if field is None:
        field = "macula" if background != "synthetic" or meta.random() < _MACULA_FIELD_P else "disc"
    cam = camera or sample_camera(np.random.default_rng([seed, 1]), camera_family, size)
    rng_anat = np.random.default_rng([seed, 2])
    rng_les = np.random.default_rng([seed, 3])
    rng_cam = np.random.default_rng([seed, 4])
    maps = None
    if background == "synthetic":
        app = appearance or sample_appearance(rng_anat)
        disc_offset = (-float(rng_anat.uniform(2.3, 2.7)), float(rng_anat.uniform(0.15, 0.45)))
        geom = make_geometry(rng_anat, cam, eye, field, disc_offset)
        img = render_background(geom, app, rng_anat)
        render_disc(img, geom, app, rng_anat)
        vessels = grow_vessel_tree(rng_anat, geom, app)
        maps = render_vessel_maps(vessels, geom)
        occupancy = maps.occupancy()
    elif background == "real":
        img, geom, occupancy, vessels = real_background(rng_anat, cam, eye)
    else:
        img, geom, occupancy, vessels, _ = idrid_background(rng_anat, cam, eye, str(real_assets))
    plan = plan_lesions(rng_les, dr, dme, geom, occupancy, vessels, severe_criterion)
    pasted: list = []
    if lesion_source == "real":
        plan, pasted = split_for_pasting(plan)
    lesion_bits = painted_lesion_bits(plan, img.shape[:2])
    paint_deep(img, plan, geom, rng_les)
    paste_real(img, [s for s in pasted if s.kind in DEEP_KINDS], geom, str(real_assets), rng_les, lesion_bits)
    if maps is not None:
        composite_vessels(img, maps, reflex_strength=0.4 + 0.6 * app.youth)
    paint_superficial(img, plan, geom, rng_les)
    paste_real(img, [s for s in pasted if s.kind not in DEEP_KINDS], geom, str(real_assets), rng_les, lesion_bits)
    image = apply_camera(img, geom, cam, rng_cam)
    return FundusSample(
        image=image,
        dr=dr,
        dme=dme,
        eye=eye,
        field=field,
        background=background,
        seed=seed,
        lesions=plan.lesions,
        geometry=geom,
        camera=cam,
        severe_criteria=R.severe_criteria(plan.lesions),
        lesion_source=lesion_source,
        lesion_bits=lesion_bits,
    )
