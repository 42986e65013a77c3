"""Photographs in, model input out: reading files, the quality gate, preprocessing, previews and heat-map overlays.

Public names load on first use (lazy_loader), so importing one submodule never pulls in the others."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach_stub(__name__, __file__)
