"""DICOM photographs (ophthalmic photography, secondary capture...), decoded with pydicom into 8-bit RGB."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, get_decoder, iter_pixels
from pydicom.uid import UID

from ran_desktop.engine.errors import ImageLoadError, UnsupportedFormatError
from ran_desktop.engine.imaging.loading.formats import DICOM_SUFFIXES, file_has_dicom_preamble, has_dicom_preamble  # noqa: F401 (re-exported)
from ran_desktop.engine.imaging.loading.laterality import laterality_from_filename
from ran_desktop.engine.imaging.loading.raster import check_pixel_count, shrink_to_min_side
from ran_desktop.engine.imaging.loading.types import Eye, ImageMetadata, LoadedImage

T = TypeVar("T")

_COLOUR_MODELS = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR"}
_GREY_MODELS = {"MONOCHROME1", "MONOCHROME2"}
_SIDES = {"L": Eye.LEFT, "R": Eye.RIGHT}  # "B" (both) and "U" (unpaired) name no single eye
_TEXT_TAGS = ("PatientName", "PatientID", "Manufacturer", "ManufacturerModelName")


def load_dicom(path: Path, *, min_side: int | None = None) -> list[LoadedImage]:
    """One LoadedImage per frame; frames are decoded one at a time."""
    ds = _read_dataset(path)
    _guess_utf8_if_undeclared(ds)
    try:
        photometric = _check_decodable(path, ds)
        rows, cols = int(ds.Rows), int(ds.Columns)
        bits_stored = int(ds.get("BitsStored") or ds.BitsAllocated)
    except ImageLoadError:
        raise
    except Exception as exc:  # pydicom converts elements lazily: a malformed one fails only when it is read
        reason = f"malformed DICOM header: an element cannot be read ({type(exc).__name__}: {exc})"
        raise ImageLoadError(path, reason) from exc
    if rows < 1 or cols < 1:
        raise ImageLoadError(path, f"DICOM image has an empty size ({cols} x {rows})")
    check_pixel_count(path, cols, rows)
    frame_count = _frame_count(ds)
    if frame_count > MAX_FRAMES:
        raise ImageLoadError(
            path,
            f"DICOM file holds {frame_count} frames; at most {MAX_FRAMES} are screened from one file "
            "(a video or an angiography series is not a set of fundus photographs)",
        )
    _check_declared_size(path, ds, rows, cols, frame_count)

    # what every frame shares, read once; a garbled text field loses that field, never the image
    shared = ImageMetadata(
        source_format="DICOM",
        original_size=(cols, rows),
        bit_depth=bits_stored,
        color_model=photometric,
        patient_id=_lenient(_text, ds, "PatientID"),
        patient_name=_lenient(_person_name, ds),
        birth_date=_lenient(_iso_date, ds, "PatientBirthDate"),
        sex=_lenient(_sex, ds),
        study_date=_lenient(_iso_date, ds, "StudyDate"),
        frame_count=frame_count,
        extra=_lenient(_extra, ds) or {},
    )
    images = []
    for index, frame in enumerate(_frames(path, ds)):
        pixels = _to_rgb8(frame, ds, photometric, bits_stored)
        if min_side is not None:
            pixels = shrink_to_min_side(pixels, min_side)
        eye, source = _laterality(ds, index, path)
        metadata = replace(
            shared,
            eye=eye,
            eye_source=source,
            frame_index=index if frame_count > 1 else None,
            extra=dict(shared.extra),
        )
        images.append(LoadedImage(path=path, pixels=pixels, metadata=metadata))
    if len(images) != frame_count:
        raise ImageLoadError(path, f"DICOM file declares {frame_count} frames but holds {len(images)}")
    return images


# Values larger than this are not read with the header: a private element can declare (and a sparse file hold)
# gigabytes, which the app never needs. Pixel data, deferred too, is read when the frames are decoded.
DEFER_BYTES = 1 << 20
# What a file may declare, decoded, before any of it is decoded: one frame (about 100 megapixels of 8-bit RGB, or
# 50 of 16-bit; fundus cameras make 4-36) and all its frames together (which also bounds the decoding time).
MAX_FRAME_BYTES = 320_000_000
MAX_FILE_BYTES = 1_500_000_000


def _check_declared_size(path: Path, ds: Dataset, rows: int, cols: int, frames: int) -> None:
    try:
        samples = int(ds.get("SamplesPerPixel") or 1)
        allocated = int(ds.get("BitsAllocated") or 8)
    except (TypeError, ValueError):
        samples, allocated = 3, 16  # the most a fundus file can mean
    frame_bytes = rows * cols * max(samples, 1) * max(1, (allocated + 7) // 8)
    if frame_bytes > MAX_FRAME_BYTES:
        raise ImageLoadError(path, f"DICOM frame too large: {cols} x {rows} x {samples} samples of {allocated} bits "
                                   f"is {frame_bytes / 1e6:,.0f} MB decoded, above the limit of "
                                   f"{MAX_FRAME_BYTES / 1e6:,.0f} MB")
    if frame_bytes * frames > MAX_FILE_BYTES:
        raise ImageLoadError(path, f"DICOM file too large: {frames} frames of {frame_bytes / 1e6:,.0f} MB are "
                                   f"{frame_bytes * frames / 1e9:,.1f} GB decoded, above the limit of "
                                   f"{MAX_FILE_BYTES / 1e9:,.1f} GB per file")


def _read_dataset(path: Path) -> Dataset:
    try:
        # By name, not an open file: a deferred value is read later by reopening the file.
        return pydicom.dcmread(str(path), force=False, defer_size=DEFER_BYTES)
    except InvalidDicomError as exc:
        raise ImageLoadError(
            path, "not a valid DICOM file: the 'DICM' marker after the 128-byte preamble is missing"
        ) from exc
    except MemoryError as exc:
        raise ImageLoadError(path, "not enough memory to read this DICOM file") from exc
    except Exception as exc:  # pydicom reports a cut-off or garbled header with EOFError, ValueError, struct.error...
        raise ImageLoadError(path, f"corrupt or truncated DICOM file ({type(exc).__name__}: {exc})") from exc


def _guess_utf8_if_undeclared(ds: Dataset) -> None:
    """Many devices write UTF-8 names without declaring a character set; pydicom would show them as Latin-1."""
    if "SpecificCharacterSet" in ds:
        return
    for keyword in _TEXT_TAGS:
        raw = ds.get_item(keyword)
        value = getattr(raw, "value", None)
        if isinstance(value, bytes) and not value.isascii():
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                continue  # genuinely Latin-1: pydicom's default reading is right
            setattr(ds, keyword, text)


def _check_decodable(path: Path, ds: Dataset) -> str:
    """Refuse, with a clear reason, what pydicom cannot turn into an image; return the photometric model."""
    if len(ds) == 0:
        # pydicom drops every element it read when the file ends inside one (it only warns)
        raise ImageLoadError(path, "DICOM file is truncated or corrupt: none of its data elements could be read")
    if "PixelData" not in ds:
        kind = " or ".join(k for k in ("FloatPixelData", "DoubleFloatPixelData") if k in ds)
        if kind:
            raise UnsupportedFormatError(path, f"DICOM {kind} (floating-point images) is not supported")
        sop = _uid_name(ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID"))
        if sop is None:
            raise ImageLoadError(path, "DICOM file is corrupt or truncated: it has neither pixel data nor a SOP class")
        if "Image Storage" in sop or "Rows" in ds:
            # pydicom stops quietly at the end of a cut-off file, so a missing element is all that shows
            raise ImageLoadError(
                path, f"DICOM file has no pixel data although it is an image ({sop}); the file may be truncated "
                "or one of its elements malformed"
            )
        raise ImageLoadError(path, f"DICOM file has no pixel data, so it is not an image ({sop})")
    missing = [k for k in ("Rows", "Columns", "BitsAllocated", "PhotometricInterpretation") if ds.get(k) in (None, "")]
    if missing:
        raise ImageLoadError(path, f"DICOM image attributes missing: {', '.join(missing)}")

    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if not syntax:
        raise ImageLoadError(path, "DICOM file has no Transfer Syntax UID, so its pixel data cannot be read")
    syntax = UID(syntax)
    try:
        decoder = get_decoder(syntax)
    except Exception as exc:  # pydicom raises when it has no decoder class at all for the UID
        raise UnsupportedFormatError(path, f"unsupported DICOM transfer syntax: {_describe(syntax)}") from exc
    if not decoder.is_available:
        raise UnsupportedFormatError(
            path, f"unsupported DICOM transfer syntax: {_describe(syntax)}; no decoder for it is installed"
        )

    photometric = str(ds.PhotometricInterpretation).strip().upper()
    if photometric not in _COLOUR_MODELS | _GREY_MODELS:
        raise UnsupportedFormatError(path, f"unsupported DICOM photometric interpretation {photometric!r}")
    return photometric


def _describe(syntax: UID) -> str:
    return f"{syntax.name} ({syntax})" if syntax.name != str(syntax) else f"unknown UID {syntax}"


# Every frame of a file is kept until the file is done: this bounds that memory (about 1 MB a frame as decoded).
MAX_FRAMES = 100


def _frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def _frames(path: Path, ds: Dataset) -> Iterator[np.ndarray]:
    """Decoded frames; YBR is converted to RGB by pydicom (its default)."""
    frames = iter_pixels(ds)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except MemoryError as exc:
            raise ImageLoadError(path, "not enough memory to decode this DICOM image") from exc
        except Exception as exc:  # decoders fail with many types; all mean the same thing to the user
            syntax = UID(ds.file_meta.TransferSyntaxUID)
            raise ImageLoadError(
                path, f"DICOM pixel data is truncated or corrupt ({syntax.name}; {type(exc).__name__}: {exc})"
            ) from exc
        yield frame


def _to_rgb8(frame: np.ndarray, ds: Dataset, photometric: str, bits_stored: int) -> np.ndarray:
    if photometric == "PALETTE COLOR":
        frame = apply_color_lut(frame, ds)
        bits_stored = 8 if frame.dtype == np.uint8 else 16
    if frame.dtype != np.uint8 or bits_stored != 8:
        # Scaled to 8 bits in one pass without a float copy (4 bytes a sample: the largest frames would need
        # gigabytes); signed samples are moved up so their minimum becomes 0.
        top = (1 << bits_stored) - 1
        alpha = 255.0 / top
        beta = alpha * (1 << (bits_stored - 1)) if frame.dtype.kind == "i" else 0.0
        if frame.dtype not in (np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64):
            frame = frame.astype(np.float32)  # rare sample types (uint32, int8, int64): OpenCV takes these
        frame = cv2.convertScaleAbs(frame, alpha=alpha, beta=beta)
    if photometric == "MONOCHROME1":
        frame = 255 - frame  # MONOCHROME1 stores white as 0
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    elif frame.shape[2] != 3:
        raise ValueError(f"expected 3 colour samples per pixel, got {frame.shape[2]}")
    return np.ascontiguousarray(frame, dtype=np.uint8)


def _laterality(ds: Dataset, index: int, path: Path) -> tuple[Eye, str]:
    for value in (ds.get("ImageLaterality"), _lenient(_frame_laterality, ds, index), ds.get("Laterality")):
        eye = _SIDES.get(str(value or "").strip().upper())
        if eye is not None:
            return eye, "dicom"
    eye = laterality_from_filename(path.name)
    return eye, ("unknown" if eye is Eye.UNKNOWN else "filename")


def _frame_laterality(ds: Dataset, index: int) -> str | None:
    """FrameLaterality of enhanced multi-frame objects: per-frame groups first, then the shared ones."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    groups = []
    if per_frame is not None and index < len(per_frame):
        groups.append(per_frame[index])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    for group in groups:
        for anatomy in group.get("FrameAnatomySequence") or []:
            if anatomy.get("FrameLaterality"):
                return str(anatomy.FrameLaterality)
    return None


def _lenient(read: Callable[..., T], *args: Any) -> T | None:
    try:
        return read(*args)
    except Exception:
        return None


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    text = str(value).strip() if value is not None else ""
    return text or None


def _person_name(ds: Dataset) -> str | None:
    """DICOM "Family^Given^Middle^Prefix^Suffix" as "Family, Given Middle"; prefix and suffix kept around it."""
    value = ds.get("PatientName")
    if value is None:
        return None
    # Alphabetic representation first; ideographic or phonetic only when that is all there is.
    groups = str(value).split("=")
    group = next((g for g in groups if g.strip("^ ")), "")
    parts = [p.strip() for p in group.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    first = " ".join(p for p in (prefix, given, middle) if p)
    name = ", ".join(p for p in (family, first) if p)
    if suffix:
        name = f"{name}, {suffix}" if name else suffix
    return name or None


def _iso_date(ds: Dataset, keyword: str) -> str | None:
    # DA is YYYYMMDD; old ACR-NEMA files write YYYY.MM.DD
    match = re.fullmatch(r"(\d{4})\.?(\d{2})\.?(\d{2})", str(ds.get(keyword) or "").strip())
    if not match:
        return None
    try:
        return dt.date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def _sex(ds: Dataset) -> str | None:
    text = str(ds.get("PatientSex") or "").strip().upper()
    return text if text in {"M", "F", "O"} else None


def _uid_name(value: object) -> str | None:
    if not value:
        return None
    uid = UID(str(value))
    return uid.name if uid.name else str(uid)


def _extra(ds: Dataset) -> dict[str, str]:
    extra: dict[str, str] = {}
    for keyword in ("Modality", "Manufacturer", "ManufacturerModelName", "SOPInstanceUID"):
        text = _text(ds, keyword)
        if text:
            extra[keyword] = text
    sop = _uid_name(ds.get("SOPClassUID"))
    if sop:
        extra["SOPClassUID"] = sop
    syntax = _uid_name(ds.file_meta.get("TransferSyntaxUID"))
    if syntax:
        extra["TransferSyntaxUID"] = syntax
    return extra
