"""Write real DICOM files for tests: ophthalmic photography, secondary capture, several encodings.

Usage:
    write_dicom(path, rgb_uint8_array)                              # OP 8-bit, RGB, Explicit VR LE
    write_dicom(path, [frame1, frame2], transfer_syntax="rle")      # multi-frame, RLE Lossless
    write_dicom(path, mono_uint16, sop="op16", bits_stored=12)      # OP 16-bit MONOCHROME2
    write_dicom(path, rgb, transfer_syntax="jpeg")                  # JPEG Baseline, YBR_FULL_422
    write_dicom(path, None, sop="sc")                               # no pixel data at all

Pixels are given as RGB (H, W, 3) or grayscale (H, W); a list/tuple of such arrays is a multi-frame image.
The factory converts to the requested photometric interpretation itself, so tests always think in RGB.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

SOP_CLASSES: dict[str, str] = {
    "op8": "1.2.840.10008.5.1.4.1.1.77.1.5.1",  # Ophthalmic Photography 8 Bit Image Storage
    "op16": "1.2.840.10008.5.1.4.1.1.77.1.5.2",  # Ophthalmic Photography 16 Bit Image Storage
    "sc": "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
}

_NATIVE_SYNTAXES: dict[str, UID] = {
    "explicit": ExplicitVRLittleEndian,
    "implicit": ImplicitVRLittleEndian,
}


def colour_bars(height: int = 64, width: int = 96) -> np.ndarray:
    """Four vertical bands, pure red | green | blue | white, as uint8 RGB. Easy to check after decoding."""
    img = np.zeros((height, width, 3), np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    edges = np.linspace(0, width, len(colours) + 1).astype(int)
    for colour, start, stop in zip(colours, edges[:-1], edges[1:], strict=True):
        img[:, start:stop] = colour
    return img


def band_centres(width: int = 96, bands: int = 4) -> list[int]:
    """Column index at the middle of each band drawn by `colour_bars`."""
    edges = np.linspace(0, width, bands + 1).astype(int)
    return [int((a + b) // 2) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def write_dicom(
    path: str | Path,
    pixels: np.ndarray | Sequence[np.ndarray] | None,
    *,
    transfer_syntax: str = "explicit",
    photometric: str | None = None,
    sop: str = "op8",
    bits_stored: int | None = None,
    patient_id: str | None = "RAN-0001",
    patient_name: str | None = "Doe^Jane",
    birth_date: str | None = "19600131",
    sex: str | None = "F",
    study_date: str | None = "20240115",
    image_laterality: str | None = None,
    laterality: str | None = None,
    specific_character_set: str | None = None,
    manufacturer: str | None = "Acme Optics",
    model_name: str | None = "Fundus 3000",
    modality: str | None = None,
    jpeg_quality: int = 95,
    preamble: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write one DICOM file and return its path.

    transfer_syntax: "explicit" | "implicit" (native), "rle" (RLE Lossless), "jpeg" (JPEG Baseline 8-bit),
        or any other transfer syntax UID, in which case the native pixel bytes are stored encapsulated
        under that UID (an undecodable file, for testing unsupported syntaxes).
    photometric: default "RGB" for colour ("YBR_FULL_422" for jpeg), "MONOCHROME2" for grayscale.
        "YBR_FULL" converts the RGB input; "MONOCHROME1" inverts the grayscale input so it displays the same;
        "PALETTE COLOR" stores the grayscale input as indices (give the LUT elements in `extra`).
    sop: "op8", "op16", "sc" or a SOP Class UID.
    specific_character_set: default is "ISO_IR 192" (UTF-8) when any text is non-ASCII, else none.
    preamble: False writes no 128-byte preamble and no "DICM" marker (a bare dataset, as some old exporters do).
    extra: further elements by keyword, e.g. {"InstitutionName": "Eye Clinic"}.
    """
    path = Path(path)
    sop_uid = SOP_CLASSES.get(sop, sop)
    frames = _as_frames(pixels)

    ds = Dataset()
    texts = [t for t in (patient_id, patient_name, manufacturer, model_name) if t]
    if specific_character_set is None and any(not t.isascii() for t in texts):
        specific_character_set = "ISO_IR 192"
    if specific_character_set:
        ds.SpecificCharacterSet = specific_character_set
    ds.SOPClassUID = sop_uid
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality or ("OP" if sop in ("op8", "op16") else "OT")
    ds.InstanceNumber = 1
    _set_if(ds, "PatientID", patient_id)
    _set_if(ds, "PatientName", patient_name)
    _set_if(ds, "PatientBirthDate", birth_date)
    _set_if(ds, "PatientSex", sex)
    _set_if(ds, "StudyDate", study_date)
    _set_if(ds, "ImageLaterality", image_laterality)
    _set_if(ds, "Laterality", laterality)
    _set_if(ds, "Manufacturer", manufacturer)
    _set_if(ds, "ManufacturerModelName", model_name)
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_uid
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.TransferSyntaxUID = _NATIVE_SYNTAXES.get(transfer_syntax, ExplicitVRLittleEndian)

    if frames is not None:
        _set_pixels(ds, frames, transfer_syntax, photometric, bits_stored, jpeg_quality)

    path.parent.mkdir(parents=True, exist_ok=True)
    syntax = ds.file_meta.TransferSyntaxUID
    # a made-up syntax says nothing about how to encode the dataset: use explicit little endian, like real ones
    encoding = {} if syntax.is_transfer_syntax else {"implicit_vr": False, "little_endian": True}
    if preamble:
        ds.preamble = b"\x00" * 128
        ds.save_as(path, enforce_file_format=True, **encoding)
    else:
        del ds.file_meta  # a bare dataset carries no group 0002
        ds.save_as(path, implicit_vr=syntax.is_implicit_VR, little_endian=syntax.is_little_endian)
    return path


def _set_if(ds: Dataset, keyword: str, value: str | None) -> None:
    if value is not None:
        setattr(ds, keyword, value)


def _as_frames(pixels: np.ndarray | Sequence[np.ndarray] | None) -> list[np.ndarray] | None:
    if pixels is None:
        return None
    if isinstance(pixels, np.ndarray):
        return [pixels]
    frames = [np.asarray(f) for f in pixels]
    if not frames or len({(f.shape, f.dtype) for f in frames}) != 1:
        raise ValueError("multi-frame pixels need at least one frame, all of the same shape and dtype")
    return frames


def _set_pixels(
    ds: Dataset,
    frames: list[np.ndarray],
    transfer_syntax: str,
    photometric: str | None,
    bits_stored: int | None,
    jpeg_quality: int,
) -> None:
    colour = frames[0].ndim == 3
    if photometric is None:
        photometric = ("YBR_FULL_422" if transfer_syntax == "jpeg" else "RGB") if colour else "MONOCHROME2"
    bits_allocated = frames[0].dtype.itemsize * 8
    bits_stored = bits_stored or bits_allocated

    if transfer_syntax == "jpeg":
        _set_jpeg_pixels(ds, frames, photometric, jpeg_quality)
        return

    stored = [_to_photometric(f, photometric, bits_stored) for f in frames]
    arr = stored[0] if len(stored) == 1 else np.stack(stored)
    # set_pixel_data fills Rows/Columns/SamplesPerPixel/Bits*/PlanarConfiguration/NumberOfFrames consistently
    ds.set_pixel_data(arr, photometric, bits_stored, generate_instance_uid=False)
    if transfer_syntax in _NATIVE_SYNTAXES:
        ds.file_meta.TransferSyntaxUID = _NATIVE_SYNTAXES[transfer_syntax]
    elif transfer_syntax == "rle":
        ds.compress(RLELossless, generate_instance_uid=False)
    else:
        frame_bytes = [f.tobytes() for f in stored]
        ds.PixelData = encapsulate(frame_bytes)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = UID(transfer_syntax)


def _to_photometric(rgb_or_grey: np.ndarray, photometric: str, bits_stored: int) -> np.ndarray:
    if photometric == "YBR_FULL":
        return convert_color_space(rgb_or_grey, "RGB", "YBR_FULL")
    if photometric == "MONOCHROME1":
        return ((1 << bits_stored) - 1 - rgb_or_grey.astype(np.int64)).astype(rgb_or_grey.dtype)
    if photometric in ("RGB", "MONOCHROME2", "PALETTE COLOR"):  # palette: the caller's indices, LUTs via `extra`
        return rgb_or_grey
    raise ValueError(f"photometric {photometric!r} is only written with transfer_syntax='jpeg' or not at all")


def _set_jpeg_pixels(ds: Dataset, frames: list[np.ndarray], photometric: str, quality: int) -> None:
    if frames[0].dtype != np.uint8:
        raise ValueError("JPEG Baseline holds 8-bit pixels only")
    colour = frames[0].ndim == 3
    expected = "YBR_FULL_422" if colour else "MONOCHROME2"
    if photometric != expected:
        raise ValueError(f"JPEG Baseline written by PIL is {expected}, not {photometric}")
    encoded = []
    for frame in frames:
        buf = io.BytesIO()
        # subsampling=1 is 4:2:2, which is what YBR_FULL_422 declares
        Image.fromarray(frame).save(buf, format="JPEG", quality=quality, subsampling=1 if colour else 0)
        encoded.append(buf.getvalue())
    rows, cols = frames[0].shape[:2]
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    ds.LossyImageCompression = "01"
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
