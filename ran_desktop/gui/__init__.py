"""The Qt desktop application on top of the screening engine.

Nothing here is imported by the engine. Modules imported when the window opens never import torch: the model and
everything that needs torch load in a worker thread while the window is already on screen.
"""
