"""Names of the pictures the detail view shows, and the heat map's opacity: light enough for the window to import at
start (the pictures themselves are made by `preview`, in a worker)."""

ORIGINAL, FIELD_OF_VIEW, CLAHE, NORMALISED = "original", "field_of_view", "clahe", "normalised"
MODEL_VIEW = "model_view"
RED_FREE, MACULA = "red_free", "macula"  # grading views: the green channel; the photograph with the macular grid
# How much of the heat map's colour covers the photograph wherever an overlay is drawn (window, CLI, reports): enough
# to read the map, little enough to see the retina under it. The window's slider starts here.
HEAT_OPACITY = 0.45
