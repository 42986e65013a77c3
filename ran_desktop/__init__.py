"""RAN Screening: diabetic retinopathy screening with the Residual Attention Network."""

__all__ = ["__version__"]
__version__: str  # declared for type checkers; the value comes from __getattr__ below, on first use


def __getattr__(name: str) -> str:
    # `__version__` is read from the installed package's metadata on first use, not on import: importlib.metadata
    # (and the email package it parses with) is a noticeable part of the window's start, which does not need it.
    if name == "__version__":
        global __version__
        from importlib.metadata import PackageNotFoundError, version

        try:
            __version__ = version("ran-screening")
        except PackageNotFoundError:  # running from a source tree that was not installed
            __version__ = "0.0.0+source"
        return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
