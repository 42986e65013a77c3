"""The clinic's logo, read once per export and checked before any report is written."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from reportlab.platypus import Image

from ran_desktop.reports.errors import ReportError

# Enough for a sharp 45 mm logo at 300 dpi; a camera photo chosen as a logo must not bloat every report.
MAX_SIDE = 600


@dataclass(frozen=True)
class Logo:
    png: bytes
    size: tuple[int, int]  # (width, height) in pixels

    @classmethod
    def read(cls, path: str | Path) -> Logo:
        """Any image PIL reads (PNG, JPEG, BMP, GIF, TIFF...), transparency flattened onto white."""
        path = Path(path)
        try:
            with PILImage.open(path) as img:
                img.load()
                rgba = img.convert("RGBA")
        except FileNotFoundError as exc:
            raise ReportError(
                f"The clinic logo {path} does not exist; choose another in Settings or remove it."
            ) from exc
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise ReportError(
                f"The clinic logo {path} cannot be read as an image ({exc}); use a PNG or JPEG file."
            ) from exc
        flat = PILImage.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        flat.thumbnail((MAX_SIDE, MAX_SIDE), PILImage.Resampling.LANCZOS)
        buffer = io.BytesIO()
        flat.save(buffer, format="PNG", optimize=True)
        return cls(buffer.getvalue(), flat.size)

    def flowable(self, max_width: float, max_height: float) -> Image:
        width, height = self.size
        scale = min(max_width / width, max_height / height)
        return Image(io.BytesIO(self.png), width=width * scale, height=height * scale)
