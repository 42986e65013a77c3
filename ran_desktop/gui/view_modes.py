"""The ways the selected image can be shown; the View menu exists before the detail panel is built."""

from __future__ import annotations

from ran_desktop.engine.imaging.views import CLAHE, FIELD_OF_VIEW, MACULA, NORMALISED, ORIGINAL, RED_FREE

GRADCAM = "gradcam"
VIEW_MODES: tuple[tuple[str, str, str], ...] = (
    (ORIGINAL, "Original", "The photograph as stored"),
    (FIELD_OF_VIEW, "Field of view", "The photograph with the fundus disc the engine found outlined"),
    (CLAHE, "CLAHE", "The model's input size after contrast enhancement (CLAHE)"),
    (NORMALISED, "Normalised", "What the model receives: per-channel standardised, shown as an image"),
    (GRADCAM, "Grad-CAM", "Where the network found evidence for a grade (heat map over the field of view)"),
    (RED_FREE, "Red-free", "The green channel: haemorrhages and microaneurysms stand out darkest"),
    (MACULA, "Macular grid", "Circles 1/3, 1 and 2 disc diameters from the fovea found on the photograph: exudate "
                             "inside the middle one is within 1 DD of the fovea (DME)"),
)

# The heat-map box's choice that shows the model's lesion layer (its lesion head) instead of a Grad-CAM map.
LESION_LAYER = "lesions"
LESION_LAYER_TIP = ("The model's own lesion outlines, from its lesion head: indicative only (the caption gives how "
                    "well they matched experts' outlines). Your marks are a separate layer.")
