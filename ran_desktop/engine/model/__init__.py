"""The RAN network (Residual Attention Network for DR and DME grading) and its building blocks, its weights bundle
and manifest, the device it runs on, and Grad-CAM.

Public names load on first use (lazy_loader), so importing one submodule never pulls in the others."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach_stub(__name__, __file__)
