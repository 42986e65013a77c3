"""Loading real DICOM files written here by tests/dicom_factory.py with pydicom."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import band_centres, colour_bars, write_dicom
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.sequence import Sequence
from pydicom.uid import UID

from ran_desktop.engine.errors import ImageLoadError, UnsupportedFormatError
from ran_desktop.engine.imaging.loading import Eye, LoadedImage, load_images

BARS = colour_bars(64, 96)
CENTRES = band_centres(96)
EXPECTED_BARS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
OP8 = "Ophthalmic Photography 8 Bit Image Storage"


def load_one(path: Path, **kwargs: int) -> LoadedImage:
    images = load_images(path, **kwargs)
    assert len(images) == 1
    pixels = images[0].pixels
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.flags.c_contiguous
    return images[0]


def bar_colours(pixels: np.ndarray) -> np.ndarray:
    return np.array([pixels[pixels.shape[0] // 2, x] for x in CENTRES], int)


def expect_error(path: Path, *words: str, kind: type[ImageLoadError] = ImageLoadError) -> str:
    with pytest.raises(kind) as info:
        load_images(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word.lower() in message.lower(), message
    return message


# --- encodings and colour models -----------------------------------------------------------------------


def test_op8_rgb_explicit_with_full_metadata(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "op8.dcm", BARS, image_laterality="R")
    image = load_one(path)
    assert np.array_equal(image.pixels, BARS)
    meta = image.metadata
    assert (meta.source_format, meta.original_size, meta.bit_depth, meta.color_model) == ("DICOM", (96, 64), 8, "RGB")
    assert (meta.eye, meta.eye_source) == (Eye.RIGHT, "dicom")
    assert meta.patient_id == "RAN-0001"
    assert meta.patient_name == "Doe, Jane"
    assert (meta.birth_date, meta.sex, meta.study_date) == ("1960-01-31", "F", "2024-01-15")
    assert (meta.frame_index, meta.frame_count) == (None, 1)
    assert image.location == str(path) and image.key.startswith(f"{path}//sha256:")
    assert meta.extra["Modality"] == "OP"
    assert meta.extra["SOPClassUID"] == OP8
    assert meta.extra["Manufacturer"] == "Acme Optics"
    assert meta.extra["ManufacturerModelName"] == "Fundus 3000"
    assert meta.extra["TransferSyntaxUID"] == "Explicit VR Little Endian"


@pytest.mark.parametrize(("bits_stored", "top"), [(16, 65535), (12, 4095), (10, 1023)])
def test_op16_monochrome2_is_scaled_by_bits_stored(tmp_path: Path, bits_stored: int, top: int) -> None:
    grey = np.zeros((16, 40), np.uint16)
    grey[:, 10:20], grey[:, 20:30], grey[:, 30:] = top // 4, top // 2 + 1, top
    path = write_dicom(tmp_path / "op16.dcm", grey, sop="op16", bits_stored=bits_stored)
    image = load_one(path)
    assert image.metadata.bit_depth == bits_stored
    assert image.metadata.color_model == "MONOCHROME2"
    assert image.metadata.extra["SOPClassUID"] == "Ophthalmic Photography 16 Bit Image Storage"
    assert image.pixels[8, [5, 15, 25, 35]].tolist() == [[0] * 3, [64] * 3, [128] * 3, [255] * 3]


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    grey = np.tile(np.array([0, 100, 255], np.uint8), (4, 1))
    image = load_one(write_dicom(tmp_path / "m1.dcm", grey, photometric="MONOCHROME1"))
    assert image.metadata.color_model == "MONOCHROME1"
    assert image.pixels[0, :, 0].tolist() == [0, 100, 255]  # displays as the grey it was written from


def test_secondary_capture(tmp_path: Path) -> None:
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    image = load_one(write_dicom(tmp_path / "sc.dcm", grey, sop="sc"))
    assert image.metadata.extra["SOPClassUID"] == "Secondary Capture Image Storage"
    assert image.metadata.extra["Modality"] == "OT"
    assert np.array_equal(image.pixels, np.repeat(grey[:, :, None], 3, axis=2))


@pytest.mark.parametrize("syntax", ["explicit", "implicit", "rle"])
def test_lossless_encodings_give_the_exact_pixels(tmp_path: Path, syntax: str) -> None:
    image = load_one(write_dicom(tmp_path / f"{syntax}.dcm", BARS, transfer_syntax=syntax))
    assert np.array_equal(image.pixels, BARS)


@pytest.mark.parametrize("syntax", ["explicit", "rle"])
def test_ybr_full_comes_out_as_rgb(tmp_path: Path, syntax: str) -> None:
    image = load_one(write_dicom(tmp_path / "ybr.dcm", BARS, transfer_syntax=syntax, photometric="YBR_FULL"))
    assert image.metadata.color_model == "YBR_FULL"
    assert np.abs(bar_colours(image.pixels) - EXPECTED_BARS).max() <= 3


def test_jpeg_baseline_ybr_full_422_colours_are_right(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "jpeg.dcm", BARS, transfer_syntax="jpeg")
    image = load_one(path)
    assert image.metadata.color_model == "YBR_FULL_422"
    assert image.metadata.extra["TransferSyntaxUID"] == "JPEG Baseline (Process 1)"
    # red must not come out blue or purple: a missed YCbCr->RGB conversion would be far off
    assert np.abs(bar_colours(image.pixels) - EXPECTED_BARS).max() <= 12


def test_jpeg_baseline_grayscale(tmp_path: Path) -> None:
    grey = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (32, 1))
    image = load_one(write_dicom(tmp_path / "jpeg_grey.dcm", grey, transfer_syntax="jpeg"))
    assert image.metadata.color_model == "MONOCHROME2"
    assert np.abs(image.pixels[:, :, 1].astype(int) - grey).max() <= 8


def test_palette_colour(tmp_path: Path) -> None:
    indices = np.zeros((8, 12), np.uint8)
    indices[:, 4:8], indices[:, 8:] = 1, 2
    lut = np.zeros((3, 256), np.uint16)
    lut[0, 0] = lut[1, 1] = lut[2, 2] = 65535  # index 0 red, 1 green, 2 blue
    extra = {}
    for channel, name in enumerate(("Red", "Green", "Blue")):
        extra[f"{name}PaletteColorLookupTableDescriptor"] = [256, 0, 16]
        extra[f"{name}PaletteColorLookupTableData"] = lut[channel].tobytes()
    image = load_one(write_dicom(tmp_path / "pal.dcm", indices, photometric="PALETTE COLOR", extra=extra))
    assert image.pixels[4, [1, 5, 10]].tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


@pytest.mark.parametrize("syntax", ["explicit", "rle", "jpeg"])
def test_multiframe_gives_one_image_per_frame(tmp_path: Path, syntax: str) -> None:
    frames = [np.full((24, 32, 3), value, np.uint8) for value in (20, 120, 220)]
    path = write_dicom(tmp_path / "multi.dcm", frames, transfer_syntax=syntax, image_laterality="L")
    images = load_images(path)
    assert [im.metadata.frame_index for im in images] == [0, 1, 2]
    assert {im.metadata.frame_count for im in images} == {3}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert {im.metadata.content_sha256 for im in images} == {digest}  # every frame: the file it came from
    assert [im.key for im in images] == [f"{path}//frame{i}//sha256:{digest[:32]}" for i in (1, 2, 3)]
    for image, frame in zip(images, frames, strict=True):
        assert np.abs(image.pixels.astype(int) - frame).max() <= 3
        assert image.metadata.eye is Eye.LEFT and image.metadata.patient_name == "Doe, Jane"
    images[0].metadata.extra["note"] = "changed"
    assert "note" not in images[1].metadata.extra  # frames do not share a mutable dict


def test_min_side_shrinks_each_frame(tmp_path: Path) -> None:
    frames = [np.full((300, 400), v, np.uint8) for v in (10, 200)]
    images = load_images(write_dicom(tmp_path / "big.dcm", frames), min_side=100)
    assert [im.pixels.shape for im in images] == [(100, 133, 3), (100, 133, 3)]
    assert {im.metadata.original_size for im in images} == {(400, 300)}
    assert images[1].pixels[50, 60].tolist() == [200, 200, 200]


def test_dicom_is_recognised_by_content_whatever_its_name(tmp_path: Path) -> None:
    write_dicom(tmp_path / "x.dcm", BARS)
    (tmp_path / "x.dcm").rename(tmp_path / "exported.jpg")
    assert load_one(tmp_path / "exported.jpg").metadata.source_format == "DICOM"
    write_dicom(tmp_path / "IM000001", BARS)
    assert load_one(tmp_path / "IM000001").metadata.source_format == "DICOM"


# --- patient fields ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "charset", "shown"),
    [
        ("Ødegård^Åse", None, "Ødegård, Åse"),  # factory declares ISO_IR 192 (UTF-8)
        ("Иванов^Иван", "ISO_IR 192", "Иванов, Иван"),
        ("Иванов^Иван", "ISO_IR 144", "Иванов, Иван"),  # ISO 8859-5 Cyrillic
        ("Müller^Jürgen", "ISO_IR 100", "Müller, Jürgen"),  # Latin-1
        ("Doe^Jane^Anne^Dr^PhD", None, "Doe, Dr Jane Anne, PhD"),
        ("Doe", None, "Doe"),
        ("^Jane", None, "Jane"),
        ("Yamada^Tarou=山田^太郎=やまだ^たろう", "\\ISO 2022 IR 87", "Yamada, Tarou"),
        ("=山田^太郎", "ISO_IR 192", "山田, 太郎"),  # only an ideographic group: use it
        ("", None, None),
    ],
)
def test_patient_names(tmp_path: Path, stored: str, charset: str | None, shown: str | None) -> None:
    path = write_dicom(tmp_path / "n.dcm", BARS, patient_name=stored, specific_character_set=charset)
    assert load_one(path).metadata.patient_name == shown


def test_undeclared_utf8_name_is_still_read_right(tmp_path: Path) -> None:
    # a device that writes UTF-8 without (0008,0005): pydicom alone would show "Ã˜degÃ¥rd"
    raw = "Ødegård^Åse".encode()
    path = write_dicom(
        tmp_path / "u.dcm", BARS, patient_name=None, specific_character_set="", extra={"PatientName": raw}
    )
    assert load_one(path).metadata.patient_name == "Ødegård, Åse"


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_missing_and_malformed_patient_fields_become_none(tmp_path: Path) -> None:
    bare = write_dicom(
        tmp_path / "bare.dcm", BARS, patient_id=None, patient_name=None, birth_date=None, sex=None, study_date=None
    )
    meta = load_one(bare).metadata
    assert (meta.patient_id, meta.patient_name, meta.birth_date, meta.sex, meta.study_date) == (None,) * 5
    odd = write_dicom(tmp_path / "odd.dcm", BARS, birth_date="19601340", sex="X", study_date="2024.01.15")
    meta = load_one(odd).metadata
    assert (meta.birth_date, meta.sex, meta.study_date) == (None, None, "2024-01-15")


# --- laterality -------------------------------------------------------------------------------------------


def test_image_laterality_beats_the_file_name(tmp_path: Path) -> None:
    meta = load_one(write_dicom(tmp_path / "patient_R.dcm", BARS, image_laterality="L")).metadata
    assert (meta.eye, meta.eye_source) == (Eye.LEFT, "dicom")


def test_image_laterality_beats_series_laterality(tmp_path: Path) -> None:
    meta = load_one(write_dicom(tmp_path / "a.dcm", BARS, image_laterality="R", laterality="L")).metadata
    assert meta.eye is Eye.RIGHT


def test_series_laterality_is_used_when_image_laterality_is_absent(tmp_path: Path) -> None:
    meta = load_one(write_dicom(tmp_path / "scan_OS.dcm", BARS, laterality="R")).metadata
    assert (meta.eye, meta.eye_source) == (Eye.RIGHT, "dicom")


def test_frame_laterality_of_enhanced_objects(tmp_path: Path) -> None:
    anatomy = Dataset()
    anatomy.FrameLaterality = "R"
    group = Dataset()
    group.FrameAnatomySequence = Sequence([anatomy])
    path = write_dicom(tmp_path / "enh.dcm", BARS, extra={"SharedFunctionalGroupsSequence": Sequence([group])})
    meta = load_one(path).metadata
    assert (meta.eye, meta.eye_source) == (Eye.RIGHT, "dicom")


@pytest.mark.parametrize(
    ("name", "eye", "source"), [("x_OS.dcm", Eye.LEFT, "filename"), ("x.dcm", Eye.UNKNOWN, "unknown")]
)
def test_file_name_is_the_fallback(tmp_path: Path, name: str, eye: Eye, source: str) -> None:
    meta = load_one(write_dicom(tmp_path / name, BARS, image_laterality="B")).metadata  # B: both, not one eye
    assert (meta.eye, meta.eye_source) == (eye, source)


# --- bad files ----------------------------------------------------------------------------------------


def test_dicom_without_pixel_data(tmp_path: Path) -> None:
    sr = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR: a report, never an image
    expect_error(write_dicom(tmp_path / "report.dcm", None, sop=sr), "no pixel data", "not an image")


def test_image_object_without_pixel_data(tmp_path: Path) -> None:
    expect_error(write_dicom(tmp_path / "empty_op.dcm", None), "no pixel data", OP8)


def _undecodable_syntaxes() -> list[str]:
    candidates = [
        "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
        "1.2.840.10008.1.2.4.203",  # HTJ2K
        "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
        "1.2.840.10008.1.2.4.100",  # MPEG2 video
    ]
    undecodable = []
    for uid in candidates:
        try:
            if not get_decoder(UID(uid)).is_available:
                undecodable.append(uid)
        except Exception:  # pydicom knows no decoder class for it at all
            undecodable.append(uid)
    return undecodable


@pytest.mark.parametrize("uid", _undecodable_syntaxes())
def test_unsupported_transfer_syntax_is_named(tmp_path: Path, uid: str) -> None:
    path = write_dicom(tmp_path / "unsupported.dcm", BARS, transfer_syntax=uid)
    expect_error(path, "unsupported DICOM transfer syntax", UID(uid).name, kind=UnsupportedFormatError)


def test_made_up_transfer_syntax_is_named(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "madeup.dcm", BARS, transfer_syntax="1.2.3.4.5.6.7")
    expect_error(path, "unsupported DICOM transfer syntax", "1.2.3.4.5.6.7", kind=UnsupportedFormatError)


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter")
@pytest.mark.parametrize("syntax", ["explicit", "rle", "jpeg"])
def test_truncated_dicom(tmp_path: Path, syntax: str) -> None:
    path = write_dicom(tmp_path / "cut.dcm", [BARS, BARS[::-1]], transfer_syntax=syntax)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 700])
    expect_error(path, "truncated")


def test_cut_inside_the_header(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "head.dcm", BARS)
    path.write_bytes(path.read_bytes()[:300])
    expect_error(path, "truncated")


def test_dicom_without_preamble_is_explained(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "bare.dcm", BARS, preamble=False)
    expect_error(path, "not a valid DICOM file", "DICM")


def test_text_named_dcm(tmp_path: Path) -> None:
    (tmp_path / "notes.dcm").write_text("just some notes\n")
    expect_error(tmp_path / "notes.dcm", "looks like text", kind=UnsupportedFormatError)


@pytest.mark.filterwarnings("ignore:End of file reached")
@pytest.mark.parametrize("keep", [300, 1000, 2000])
def test_single_frame_jpeg_cut_anywhere(tmp_path: Path, keep: int) -> None:
    path = write_dicom(tmp_path / "cut.dcm", BARS, transfer_syntax="jpeg")
    path.write_bytes(path.read_bytes()[:keep])
    expect_error(path, "truncated")


def test_preamble_then_garbage(tmp_path: Path) -> None:
    (tmp_path / "junk.dcm").write_bytes(b"\x00" * 128 + b"DICM" + bytes(range(256)) * 3)
    expect_error(tmp_path / "junk.dcm", "DICOM", "corrupt")


def test_huge_declared_size_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "huge.dcm", np.zeros((4, 4), np.uint8))
    ds = dcmread(path)
    ds.Rows = ds.Columns = 60000
    ds.save_as(path)
    expect_error(path, "too large", "pixels")


def test_a_file_with_too_many_frames_is_refused_before_decoding(tmp_path):
    from ran_desktop.engine.imaging.loading.dicom import MAX_FRAMES

    frames = [np.full((8, 8, 3), i % 256, np.uint8) for i in range(MAX_FRAMES + 1)]
    path = write_dicom(tmp_path / "series.dcm", frames)
    with pytest.raises(ImageLoadError, match=f"{MAX_FRAMES + 1} frames"):
        load_images(path)
    assert len(load_images(write_dicom(tmp_path / "ok.dcm", frames[:MAX_FRAMES]))) == MAX_FRAMES
