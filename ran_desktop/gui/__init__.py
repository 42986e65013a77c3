"""The Qt desktop application on top of the screening engine.

Nothing here is imported by the engine. Modules imported when the window opens never import torch: the model and
everything that needs torch load in a worker thread while the window is already on screen.

Modules that are not needed to open the window (dialogs, the workspace, report export) are reached through this
package's lazy names (`gui.about_dialog`), so they load on first use.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach_stub(__name__, __file__)
