"""load_images: one entry point for every supported file, dispatched on what the file contains."""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ran_desktop.engine.errors import ImageChangedError, ImageLoadError, UnsupportedFormatError
from ran_desktop.engine.imaging import loading
from ran_desktop.engine.imaging.loading.formats import DICOM_SUFFIXES, SUPPORTED_SUFFIXES, has_dicom_preamble  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from ran_desktop.engine.imaging.loading.types import LoadedImage

_HEAD_BYTES = 2048  # enough for the DICOM marker at 128 and to tell text from binary
_SUPPORTED_NAMES = "JPEG, PNG, TIFF, BMP, DICOM"


def load_images(path: str | Path, *, min_side: int | None = None, jpeg_device: str | None = None) -> list[LoadedImage]:
    """Every photograph in one file as 8-bit RGB: one per frame of a multi-frame DICOM, else exactly one.

    The file's content decides how it is read, not its name: a PNG called ".jpg" loads as PNG.
    `min_side` allows decoding at reduced size, keeping the shorter side >= min_side.
    `jpeg_device` ("cuda", "cuda:1"; needs torch): JPEG files are decoded there (`jpeg_on_device`), the rest as usual.
    Any problem with the file raises ImageLoadError (or its subclass UnsupportedFormatError) naming it.
    """
    if min_side is not None and (isinstance(min_side, bool) or not isinstance(min_side, int) or min_side < 1):
        raise ValueError(f"min_side must be a positive int or None, not {min_side!r}")
    path = Path(path)
    try:
        if jpeg_device is not None and sniff_format(_read_head(path)) == "JPEG":
            return [loading.jpeg_on_device.load_jpeg(path, min_side=min_side, device=jpeg_device)]  # hashed there
        return _with_content_hash(path, _load(path, min_side))
    except ImageLoadError:
        raise
    except MemoryError as exc:
        raise ImageLoadError(path, "not enough memory to load this image") from exc
    except Exception as exc:  # a bad file must never surface as anything but ImageLoadError
        raise ImageLoadError(path, f"could not read the image ({type(exc).__name__}: {exc})") from exc


def load_screened_frame(path: str | Path, frame_index: int | None, content_sha256: str | None, *,
                        min_side: int | None = None) -> LoadedImage:
    """The photograph a stored result was made from, decoded again: its frame of the file, refused with
    ImageChangedError when the file no longer holds what was screened (results stored before files were hashed
    carry no hash and are not checked)."""
    images = load_images(path, min_side=min_side)
    now = images[0].metadata.content_sha256
    if content_sha256 is not None and now != content_sha256:
        raise ImageChangedError(path, "the file has changed since it was screened: it now holds another photograph. "
                                      "The result and any decision stay with the photograph screened then; screen "
                                      "the file again to grade the new one")
    index = frame_index or 0
    if index >= len(images):
        raise ImageLoadError(path, f"frame {index + 1} is no longer in the file (it has {len(images)})")
    return images[index]


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _with_content_hash(path: Path, images: list[LoadedImage]) -> list[LoadedImage]:
    """The images with the file's hash in their metadata (hashed after decoding: what was decoded is in the OS's
    cache, so this costs about a millisecond per megabyte)."""
    digest = file_sha256(path)
    return [replace(image, metadata=replace(image.metadata, content_sha256=digest)) for image in images]


def _load(path: Path, min_side: int | None) -> list[LoadedImage]:
    head = _read_head(path)
    kind = sniff_format(head)
    if kind == "DICOM":
        return _load_dicom(path, min_side)
    if kind is not None:
        return [_load_raster(path, kind, min_side)]
    described = describe_content(head)
    if described is None and path.suffix.lower() in DICOM_SUFFIXES:
        return _load_dicom(path, min_side)  # binary, named DICOM: let pydicom say what is wrong
    if described is None:
        raise UnsupportedFormatError(
            path, f"not a supported image: unrecognised file content (supported: {_SUPPORTED_NAMES})"
        )
    raise UnsupportedFormatError(path, f"not a supported image: looks like {described}")


# The decoders load on first use, through the loading package's lazy names: Pillow and OpenCV, and above all
# pydicom, take a quarter of a second to import, which the window would otherwise spend before it appears (and a
# folder of JPEGs never needs pydicom). Their first use is in a worker thread.


def _load_dicom(path: Path, min_side: int | None) -> list[LoadedImage]:
    return loading.dicom.load_dicom(path, min_side=min_side)


def _load_raster(path: Path, kind: str, min_side: int | None) -> LoadedImage:
    return loading.raster.load_raster(path, kind, min_side=min_side)


def _read_head(path: Path) -> bytes:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            try:
                os.scandir(path).close()
            except OSError as exc:
                raise ImageLoadError(path, f"this folder cannot be read ({exc.strerror or exc}): nothing in it "
                                           "was screened") from exc
            raise ImageLoadError(path, "this is a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):
            # a pipe or device would block or never end
            raise ImageLoadError(path, "not a regular file (a pipe, socket or device): it holds no photograph")
        if info.st_size == 0:
            raise ImageLoadError(path, "the file is empty (0 bytes)")
        with path.open("rb") as f:
            return f.read(_HEAD_BYTES)
    except FileNotFoundError as exc:
        raise ImageLoadError(path, "file not found") from exc
    except PermissionError as exc:
        raise ImageLoadError(path, "permission denied: the file cannot be read") from exc
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise ImageLoadError(path, "the path is longer than this system allows: move or rename the folder "
                                       "to screen what is in it") from exc
        raise ImageLoadError(path, f"the file cannot be read ({exc.strerror or exc})") from exc


def sniff_format(head: bytes) -> str | None:
    """"DICOM", "JPEG", "PNG", "TIFF" or "BMP" from the file's first bytes; None for anything else."""
    # DICOM first: its free-form preamble may itself hold a TIFF header (dual-personality files)
    if has_dicom_preamble(head):
        return "DICOM"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    # "BM" alone is too weak (a text file may start with it); the DIB header size must be a known one
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in {12, 16, 40, 52, 56, 64, 108, 124}:
        return "BMP"
    return None


_KNOWN_OTHERS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF", "a PDF document"),
    (0, b"PK\x03\x04", "a ZIP archive (extract the photographs first)"),
    (0, b"GIF8", "a GIF image"),
    (8, b"WEBP", "a WebP image"),
    (4, b"ftypheic", "a HEIC photo (export it as JPEG)"),
    (4, b"ftypheix", "a HEIC photo (export it as JPEG)"),
    (4, b"ftypmif1", "a HEIF photo (export it as JPEG)"),
    (4, b"ftypavif", "an AVIF image"),
    (4, b"jP  ", "a JPEG 2000 image"),
    (0, b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
)


def describe_content(head: bytes) -> str | None:
    """A few words on what an unsupported file seems to be, or None when it is unrecognisable binary."""
    for offset, magic, words in _KNOWN_OTHERS:
        if head[offset : offset + len(magic)] == magic:
            return words
    text = _as_text(head)
    if text is None:
        return None
    lowered = text.lstrip().lower()
    if lowered.startswith("<!doctype html") or "<html" in lowered[:512]:
        return "HTML (a web page saved under an image name?)"
    if lowered.startswith("<?xml") or lowered.startswith("<svg"):
        return "XML or SVG text"
    return "text"


def _as_text(head: bytes) -> str | None:
    """The head as text if it is printable UTF-8 (or UTF-16 with a byte-order mark), else None."""
    encoding = "utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        # incremental, so a multi-byte character cut in half at the end of the head is not an error
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    if text and all(ch.isprintable() or ch in "\t\r\n\f" for ch in text):
        return text
    return None
