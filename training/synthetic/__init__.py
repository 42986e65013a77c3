"""Synthetic colour fundus photographs with diabetic retinopathy labels by construction.

Public API:
    generate_fundus(seed, *, dr, dme, eye, field, size, background, camera_family, ...) -> FundusSample
    derive_icdr_grade(lesions), derive_dme_grade(lesions, fovea, dd_px), severe_criteria(lesions)
    sample_camera(rng, family, size) -> CameraParams
    write_dataset(out_dir, count, *, seed, size, workers, grade_distribution, real_background_fraction,
                  camera_family) -> DatasetSummary
    write_contact_sheet(path, ...) -> Path
Console entry: training.synthetic.cli:main (ran-synth).
"""

from training.fundus.camera import FAMILIES, CameraParams, sample_camera
from training.fundus.geometry import QUADRANTS, FieldGeometry
from training.fundus.rules import (
    LESION_KINDS,
    SEVERE_CRITERIA,
    Lesion,
    derive_dme_grade,
    derive_icdr_grade,
    haemorrhage_counts,
    severe_criteria,
)
from training.synthetic.contact_sheet import write_contact_sheet
from training.synthetic.dataset import LABEL_COLUMNS, DatasetSummary, plan_dataset, write_dataset
from training.synthetic.generate import BACKGROUNDS, FIELDS, FundusSample, generate_fundus

__all__ = [
    "BACKGROUNDS",
    "FAMILIES",
    "FIELDS",
    "LABEL_COLUMNS",
    "LESION_KINDS",
    "QUADRANTS",
    "SEVERE_CRITERIA",
    "CameraParams",
    "DatasetSummary",
    "FieldGeometry",
    "FundusSample",
    "Lesion",
    "derive_dme_grade",
    "derive_icdr_grade",
    "generate_fundus",
    "haemorrhage_counts",
    "plan_dataset",
    "sample_camera",
    "severe_criteria",
    "write_contact_sheet",
    "write_dataset",
]
