"""What is kept: each image's screening result, the grader's decisions and review session, the session database with
its audit trail, and session exports.

Public names load on first use (lazy_loader), so importing one submodule never pulls in the others."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach_stub(__name__, __file__)
