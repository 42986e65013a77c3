"""Screening: the pipeline from paths to results (`Screener`), and one batch of the app into the session database.

Public names load on first use (lazy_loader), so importing one submodule never pulls in the others."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach_stub(__name__, __file__)
