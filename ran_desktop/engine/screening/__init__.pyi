"""Public entry points, read by lazy_loader at run time and by type checkers."""

from . import batch as batch
from . import cluster as cluster
from . import overlays as overlays
from . import preparation as preparation
from . import screener as screener
from . import shared_arrays as shared_arrays
from .batch import BatchRun as BatchRun
from .screener import Screener as Screener
from .screener import ScreeningOptions as ScreeningOptions
from .screener import default_workers as default_workers

__all__ = [
    "BatchRun",
    "Screener",
    "ScreeningOptions",
    "batch",
    "cluster",
    "default_workers",
    "overlays",
    "preparation",
    "screener",
    "shared_arrays",
]
