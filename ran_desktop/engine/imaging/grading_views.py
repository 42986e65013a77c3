"""What a grader looks at besides the colour photograph: red-free (the green channel, where haemorrhages and
microaneurysms stand out darkest against the retina), and the photograph with brightness, contrast and gamma set.
Pure functions on uint8 RGB; they change what is shown, never what the model was given. Imports neither Qt nor
torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Display:
    """Brightness (-1 to 1, added after contrast), contrast (a factor around mid-grey) and gamma (> 1 lifts the
    shadows), as the grader sets them. The default changes nothing."""

    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if not -1.0 <= self.brightness <= 1.0 or not 0.0 < self.contrast <= 5.0 or not 0.1 <= self.gamma <= 5.0:
            raise ValueError(f"display setting out of range: {self}")

    @property
    def neutral(self) -> bool:
        return self == Display()

    def table(self) -> np.ndarray:
        """The 256-entry lookup table these settings make."""
        x = np.arange(256, dtype=np.float64) / 255.0
        y = (x ** (1.0 / self.gamma) - 0.5) * self.contrast + 0.5 + self.brightness
        return np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)


def red_free(rgb: np.ndarray) -> np.ndarray:
    """The green channel, as a grey RGB picture."""
    _check(rgb)
    return np.repeat(rgb[..., 1:2], 3, axis=2)


def adjusted(rgb: np.ndarray, display: Display) -> np.ndarray:
    """`rgb` through the display settings' lookup table (the same table on every channel)."""
    _check(rgb)
    return rgb.copy() if display.neutral else cv2.LUT(rgb, display.table())


def _check(rgb: np.ndarray) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 RGB pixels, got {rgb.dtype} {rgb.shape}")
