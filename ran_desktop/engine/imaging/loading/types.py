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
    content_sha256: str | None = None  # of the whole file as read: which photograph this is, whatever its path


# Joins the parts of an image's key: "//" never occurs in a normalised path and "/" in no file name, so no file
# name can imitate a frame or a content hash (a file called "IMG0001#frame1" once shared frame 1's key).
KEY_SEPARATOR = "//"


def image_location(path: str | Path, frame_index: int | None) -> str:
    """Where an image is: the path, plus the frame for multi-frame files."""
    return str(path) if frame_index is None else f"{path}{KEY_SEPARATOR}frame{frame_index + 1}"


def image_key(path: str | Path, frame_index: int | None, content_sha256: str | None) -> str:
    """Which image this is: where it is and what the file held. A file replaced at the same path is another image,
    so a decision made on the first photograph can never attach itself to the second."""
    location = image_location(path, frame_index)
    return location if content_sha256 is None else f"{location}{KEY_SEPARATOR}sha256:{content_sha256[:32]}"


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
        """A unique name for this image: its location (path and frame) and its file's content (`image_key`)."""
        return image_key(self.path, self.metadata.frame_index, self.metadata.content_sha256)

    @property
    def location(self) -> str:
        return image_location(self.path, self.metadata.frame_index)
