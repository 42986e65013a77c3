"""RAN Screening: diabetic retinopathy screening with the Residual Attention Network."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ran-screening")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
