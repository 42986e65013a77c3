"""Which files are photographs, by name and by their first bytes: no decoder imported.

Kept apart from the decoders (raster: Pillow and OpenCV; dicom: pydicom) so that the window, folder discovery and
format sniffing can start without loading them; they load on the first decode, in the worker that decodes.
"""

from __future__ import annotations

from pathlib import Path

RASTER_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
SUPPORTED_SUFFIXES: frozenset[str] = RASTER_SUFFIXES | DICOM_SUFFIXES

_PREAMBLE_END = 132  # 128-byte preamble, then the "DICM" marker


def has_dicom_preamble(head: bytes) -> bool:
    """True when `head` (the file's first bytes) carries the "DICM" marker of a DICOM Part 10 file."""
    return head[128:_PREAMBLE_END] == b"DICM"


def file_has_dicom_preamble(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return has_dicom_preamble(f.read(_PREAMBLE_END))
    except OSError:
        return False
