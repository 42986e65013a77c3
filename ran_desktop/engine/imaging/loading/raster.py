"""JPEG, PNG, TIFF and BMP photographs, decoded with Pillow into 8-bit RGB."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ran_desktop.engine.errors import ImageLoadError, UnsupportedFormatError
from ran_desktop.engine.imaging.loading.formats import RASTER_SUFFIXES  # noqa: F401 (re-exported)
from ran_desktop.engine.imaging.loading.laterality import laterality_from_filename
from ran_desktop.engine.imaging.loading.types import Eye, ImageMetadata, LoadedImage

# Pillow plugins each sniffed format may be opened with; nothing else is ever tried, which keeps
# Pillow's rarer (and less hardened) decoders away from untrusted files.
_PIL_FORMATS: dict[str, tuple[str, ...]] = {
    "JPEG": ("JPEG", "MPO"),  # cameras write MPO (JPEG plus extra pictures); the first picture is the photo
    "PNG": ("PNG",),
    "TIFF": ("TIFF",),
    "BMP": ("BMP",),
}

_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that turn the picture by 90 degrees
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_GREY_MODES = {"1", "L"}


def load_raster(path: Path, fmt: str, *, min_side: int | None = None) -> LoadedImage:
    """Decode the first picture of a JPEG/PNG/TIFF/BMP file; `fmt` is what content sniffing found."""
    try:
        with Image.open(path, formats=_PIL_FORMATS[fmt]) as img:
            return _decode(path, img, fmt, min_side)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(path, f"image too large to open safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(path, f"corrupt {fmt} file: its header could not be read") from exc
    except MemoryError as exc:
        raise ImageLoadError(path, "not enough memory to decode this image") from exc
    except Exception as exc:  # Pillow signals bad data with many types (OSError, SyntaxError, ValueError...)
        raise ImageLoadError(path, _corrupt_reason(fmt, exc)) from exc


def _corrupt_reason(fmt: str, exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower():
        return f"truncated {fmt} file: the image data ends early ({text})"
    return f"corrupt {fmt} data ({type(exc).__name__}: {text})"


@dataclass(frozen=True)
class Header:
    """What a photograph's file says before its pixels are decoded, and the size they are decoded at."""

    metadata: ImageMetadata
    orientation: int | None  # EXIF orientation, turned upright after decoding
    drafted: bool  # a JPEG decoded at 1/2, 1/4 or 1/8 size by DCT scaling (`size` is that size)
    size: tuple[int, int]  # (width, height) as stored, at the decoding's scale


def read_header(path: Path, img: Image.Image, fmt: str, min_side: int | None) -> Header:
    """The file's facts, and (with `min_side`) the JPEG's DCT scale chosen, from an opened but undecoded image."""
    stored_w, stored_h = img.size
    check_pixel_count(path, stored_w, stored_h)
    stored_mode = img.mode
    bit_depth = _stored_bit_depth(img)
    extra: dict[str, str] = {}

    frames = _frame_count(img)
    if frames > 1:
        extra["frames_in_file"] = str(frames)
        extra["note"] = f"multi-page {fmt} file: only the first of {frames} pages was loaded"

    orientation = _exif_orientation(img, extra)

    drafted = False
    if fmt == "JPEG" and min_side is not None:
        # DCT scaling decodes at 1/2, 1/4 or 1/8 size directly; asking for min_side on both axes keeps
        # the shorter side >= min_side whatever the aspect ratio.
        drafted = img.draft(img.mode, (min_side, min_side)) is not None
    if orientation in range(2, 9):
        extra["exif_orientation"] = str(orientation)

    original_size = (stored_h, stored_w) if orientation in _SWAPS_AXES else (stored_w, stored_h)
    eye = laterality_from_filename(path.name)
    metadata = ImageMetadata(
        source_format=fmt,
        original_size=original_size,
        bit_depth=bit_depth,
        color_model=stored_mode,
        eye=eye,
        eye_source="unknown" if eye is Eye.UNKNOWN else "filename",
        extra=extra,
    )
    return Header(metadata, orientation, drafted, img.size)


def _decode(path: Path, img: Image.Image, fmt: str, min_side: int | None) -> LoadedImage:
    header = read_header(path, img, fmt, min_side)
    img.load()
    if header.orientation in range(2, 9):
        img = ImageOps.exif_transpose(img)
    pixels = _to_rgb8(path, img, header.metadata.bit_depth)
    if min_side is not None and not header.drafted:
        pixels = shrink_to_min_side(pixels, min_side)
    return LoadedImage(path=path, pixels=pixels, metadata=header.metadata)


def _frame_count(img: Image.Image) -> int:
    try:
        return int(getattr(img, "n_frames", 1))
    except Exception:  # a broken chain of TIFF pages must not stop the first page from loading
        return 1


def _exif_orientation(img: Image.Image, extra: dict[str, str]) -> int | None:
    try:
        value = img.getexif().get(ExifTags.Base.Orientation)
    except Exception:  # malformed EXIF is common in edited photos; the pixels are still good
        extra["exif"] = "unreadable EXIF block ignored"
        return None
    return value if isinstance(value, int) else None


def _stored_bit_depth(img: Image.Image) -> int:
    """Bits per sample in the file, read before decoding (Pillow may hand 16-bit colour out as 8-bit)."""
    if img.mode == "1":
        return 1
    if img.format == "TIFF":
        bits = getattr(img, "tag_v2", {}).get(258)  # BitsPerSample (a TiffImageFile's tags)
        if isinstance(bits, tuple) and bits:
            return int(bits[0])
        if isinstance(bits, int):
            return bits
    if img.mode.startswith("I;16"):
        return 16
    tile = getattr(img, "tile", None)  # an ImageFile's decoder plan, before decoding
    if tile:
        args = tile[0].args
        rawmode = args if isinstance(args, str) else (args[0] if isinstance(args, tuple) and args else "")
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    return 8


def _to_rgb8(path: Path, img: Image.Image, bit_depth: int) -> np.ndarray:
    mode = img.mode
    if mode == "F":
        raise UnsupportedFormatError(path, "floating-point images are not supported (not a photograph)")
    if mode.startswith("I"):
        # 16-bit (or 32-bit) grayscale: scale the full stored range, so relative brightness is kept
        top = float(2 ** max(bit_depth, 16) - 1)
        grey = np.asarray(img).astype(np.float32)
        grey = np.clip(grey * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return _grey_to_rgb(grey)
    if mode in _GREY_MODES:
        return _grey_to_rgb(np.asarray(img.convert("L")))
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in _ALPHA_MODES:
        return _composite_on_black(np.asarray(img.convert("RGBA")))
    if mode != "RGB":
        img = img.convert("RGB")  # CMYK, YCbCr, RGBX, LAB...
    return np.ascontiguousarray(np.asarray(img), dtype=np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def _composite_on_black(rgba: np.ndarray) -> np.ndarray:
    """Transparent parts become black, which is what surrounds the retina in a fundus photograph."""
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    rgb = (rgba[:, :, :3].astype(np.uint16) * alpha + 127) // 255
    return np.ascontiguousarray(rgb, dtype=np.uint8)


# Shared with the DICOM loader: both must refuse the same sizes and shrink the same way.


def check_pixel_count(path: Path, width: int, height: int) -> None:
    """Refuse images above Pillow's decompression-bomb limit before any pixel memory is allocated."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        pixels = f"{width} x {height} = {width * height:,} pixels"
        raise ImageLoadError(path, f"image too large: {pixels}, above the limit of {limit:,} pixels")


def shrink_to_min_side(pixels: np.ndarray, min_side: int) -> np.ndarray:
    """Area-average down so the shorter side equals `min_side`; never enlarges."""
    height, width = pixels.shape[:2]
    new_w, new_h = shrunk_size(width, height, min_side)
    if (new_w, new_h) == (width, height):
        return pixels
    return np.ascontiguousarray(cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_AREA))


def shrunk_size(width: int, height: int, min_side: int) -> tuple[int, int]:
    """(width, height) with the shorter side brought down to `min_side`; unchanged when it is already no longer."""
    short = min(height, width)
    if short <= min_side:
        return width, height
    scale = min_side / short
    # round the longer side but pin the shorter one, so rounding can never take it below min_side
    new_w = min_side if width == short else max(min_side, round(width * scale))
    new_h = min_side if height == short else max(min_side, round(height * scale))
    return new_w, new_h
