"""Public entry points, read by lazy_loader at run time and by type checkers."""

from . import agreement as agreement
from . import calibration as calibration
from . import finetune_policy as finetune_policy
from . import grader_agreement as grader_agreement
from . import operating_point as operating_point
from .agreement import CSV_COLUMNS as CSV_COLUMNS
from .agreement import MIN_REFERABLE as MIN_REFERABLE
from .agreement import Agreement as Agreement
from .agreement import LocalValidation as LocalValidation
from .agreement import local_validation as local_validation
from .agreement import quadratic_kappa as quadratic_kappa
from .agreement import rows as rows
from .agreement import wilson_interval as wilson_interval
from .calibration import DEFAULT_TARGET as DEFAULT_TARGET
from .calibration import ThresholdProposal as ThresholdProposal
from .calibration import expected_calibration_error as expected_calibration_error
from .calibration import fit_temperature as fit_temperature
from .calibration import labelled_scores as labelled_scores
from .calibration import proposal_text as proposal_text
from .calibration import propose_threshold as propose_threshold
from .operating_point import current as current

__all__ = [
    "finetune_policy",
    "grader_agreement",
    "Agreement",
    "CSV_COLUMNS",
    "DEFAULT_TARGET",
    "LocalValidation",
    "MIN_REFERABLE",
    "ThresholdProposal",
    "agreement",
    "calibration",
    "current",
    "expected_calibration_error",
    "fit_temperature",
    "labelled_scores",
    "local_validation",
    "operating_point",
    "proposal_text",
    "propose_threshold",
    "quadratic_kappa",
    "rows",
    "wilson_interval",
]
