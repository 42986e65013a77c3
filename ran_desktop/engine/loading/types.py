"""What a loader returns: the pixels of one photograph plus what the file says about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only named in annotations: importing numpy here would slow the window's start
    import numpy as np


class Eye(str, Enum):
    """Laterality, with the abbreviations clinicians write (oculus dexter / sinister)."""

    RIGHT = "OD"
    LEFT = "OS"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ImageMetadata:
    """Facts about the photograph. Patient fields are None when the file does not carry them."""

    source_format: str  # "JPEG", "PNG", "TIFF", "BMP", "DICOM"
    original_size: tuple[int, int]  # (width, height) of the stored image, before any reduced decoding
    bit_depth: int  # bits per sample as stored (8 or 16)
    color_model: str  # as stored: "RGB", "RGBA", "L", "YBR_FULL", "MONOCHROME2", ...
    eye: Eye = Eye.UNKNOWN
    eye_source: str = "unknown"  # "dicom", "filename" or "unknown": where `eye` came from
    patient_id: str | None = None
    patient_name: str | None = None
    birth_date: str | None = None  # ISO 8601, YYYY-MM-DD
    sex: str | None = None  # "M", "F", "O"
    study_date: str | None = None  # ISO 8601, YYYY-MM-DD
    frame_index: int | None = None  # 0-based frame of a multi-frame DICOM, else None
    frame_count: int = 1
    extra: dict[str, str] = field(default_factory=dict)  # modality, SOP class, manufacturer, ...


@dataclass(frozen=True)
class LoadedImage:
    """One photograph as 8-bit RGB, shape (H, W, 3), C-contiguous.

    `pixels` may be smaller than `metadata.original_size` when the loader decoded at reduced size.
    """

    path: Path
    pixels: np.ndarray
    metadata: ImageMetadata

    @property
    def key(self) -> str:
        """A unique name for this image: the path, plus the frame for multi-frame files."""
        frame = self.metadata.frame_index
        return str(self.path) if frame is None else f"{self.path}#frame{frame + 1}"
