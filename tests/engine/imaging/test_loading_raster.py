"""Loading JPEG, PNG, TIFF and BMP files written here with Pillow and OpenCV, plus the real sample photograph."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from dicom_factory import band_centres, colour_bars
from locations import REPO_ROOT
from PIL import Image, ImageOps

from ran_desktop.engine.errors import ImageLoadError, UnsupportedFormatError
from ran_desktop.engine.imaging.loading import Eye, LoadedImage, load_images

SAMPLE = REPO_ROOT / "resources" / "samples" / "normal_fundus_OS.jpg"
BARS = colour_bars(64, 96)
CENTRES = band_centres(96)
EXPECTED_BARS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]


def load_one(path: Path, **kwargs: int) -> LoadedImage:
    images = load_images(path, **kwargs)
    assert len(images) == 1
    image = images[0]
    pixels = image.pixels
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert pixels.flags.c_contiguous
    return image


def bar_colours(pixels: np.ndarray) -> list[tuple[int, ...]]:
    row = pixels.shape[0] // 2
    return [tuple(int(v) for v in pixels[row, x]) for x in CENTRES]


def assert_colours_close(got: list[tuple[int, ...]], expected: list[tuple[int, ...]], tol: int) -> None:
    assert np.abs(np.array(got, int) - np.array(expected, int)).max() <= tol, got


def expect_error(path: Path, *words: str, kind: type[ImageLoadError] = ImageLoadError) -> ImageLoadError:
    with pytest.raises(kind) as info:
        load_images(path)
    message = str(info.value)
    assert str(path) in message and info.value.path == path
    for word in words:
        assert word.lower() in message.lower(), message
    return info.value


# --- the real sample ------------------------------------------------------------------------------------


def test_real_sample_is_a_gradable_looking_left_eye() -> None:
    image = load_one(SAMPLE)
    meta = image.metadata
    assert image.pixels.shape == (1411, 1411, 3)
    assert (meta.source_format, meta.original_size) == ("JPEG", (1411, 1411))
    assert (meta.bit_depth, meta.color_model) == (8, "RGB")
    assert (meta.eye, meta.eye_source) == (Eye.LEFT, "filename")
    assert meta.patient_id is None and meta.frame_index is None and meta.frame_count == 1
    assert image.location == str(SAMPLE) and image.key.startswith(f"{SAMPLE}//sha256:")
    centre = image.pixels[505:905, 505:905].reshape(-1, 3).mean(axis=0)
    corner = image.pixels[:80, :80].mean()
    assert corner < 20  # black surround
    assert centre.mean() > 60 and centre[0] > centre[2]  # lit, reddish retina


# --- formats and colour models ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pil_format", "tol"),
    [("a.jpg", "JPEG", 40), ("a.png", "PNG", 0), ("a.tif", "TIFF", 0), ("a.bmp", "BMP", 0)],
)
def test_8bit_rgb_in_each_format(tmp_path: Path, name: str, pil_format: str, tol: int) -> None:
    path = tmp_path / name
    Image.fromarray(BARS).save(path, format=pil_format)
    image = load_one(path)
    assert image.pixels.shape == (64, 96, 3)
    assert image.metadata.source_format == pil_format
    assert (image.metadata.bit_depth, image.metadata.color_model) == (8, "RGB")
    assert image.metadata.original_size == (96, 64)
    assert_colours_close(bar_colours(image.pixels), EXPECTED_BARS, tol)
    if tol == 0:
        assert np.array_equal(image.pixels, BARS)


@pytest.mark.parametrize("name", ["grey.png", "grey.jpg", "grey.tif", "grey.bmp"])
def test_grayscale_is_replicated_to_three_channels(tmp_path: Path, name: str) -> None:
    grey = np.tile(np.linspace(0, 255, 80).astype(np.uint8), (30, 1))
    Image.fromarray(grey, mode="L").save(tmp_path / name)
    image = load_one(tmp_path / name)
    assert image.metadata.color_model == "L"
    assert np.array_equal(image.pixels[:, :, 0], image.pixels[:, :, 1])
    assert np.array_equal(image.pixels[:, :, 0], image.pixels[:, :, 2])
    assert np.abs(image.pixels[:, :, 0].astype(int) - grey).max() <= 3


def test_bilevel_image_becomes_black_and_white(tmp_path: Path) -> None:
    bits = np.zeros((16, 16), bool)
    bits[:, 8:] = True
    Image.fromarray(bits).convert("1").save(tmp_path / "bw.png")
    image = load_one(tmp_path / "bw.png")
    assert image.metadata.bit_depth == 1
    assert image.pixels[0, 0].tolist() == [0, 0, 0] and image.pixels[0, 15].tolist() == [255, 255, 255]


def test_rgba_is_composited_on_black(tmp_path: Path) -> None:
    rgba = np.zeros((10, 30, 4), np.uint8)
    rgba[:, :, 0] = 200  # red everywhere
    rgba[:, 0:10, 3] = 255  # opaque
    rgba[:, 10:20, 3] = 128  # half transparent
    rgba[:, 20:30, 3] = 0  # fully transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    image = load_one(tmp_path / "alpha.png")
    assert image.metadata.color_model == "RGBA"
    assert image.pixels[5, 5].tolist() == [200, 0, 0]
    assert image.pixels[5, 15].tolist() == [100, 0, 0]
    assert image.pixels[5, 25].tolist() == [0, 0, 0]


def test_palette_with_transparency_becomes_rgb(tmp_path: Path) -> None:
    pal = Image.fromarray(BARS).quantize(colors=8)
    pal.info["transparency"] = pal.getpixel((CENTRES[3], 32))  # the white band's index: transparent
    pal.save(tmp_path / "pal.png", transparency=pal.info["transparency"])
    image = load_one(tmp_path / "pal.png")
    assert image.metadata.color_model == "P"
    assert_colours_close(bar_colours(image.pixels), [(255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)], 0)


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    Image.fromarray(BARS).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    image = load_one(tmp_path / "cmyk.jpg")
    assert image.metadata.color_model == "CMYK"
    assert_colours_close(bar_colours(image.pixels), EXPECTED_BARS, 40)


# --- 16-bit -------------------------------------------------------------------------------------------


def _grey16() -> np.ndarray:
    grey = np.zeros((20, 40), np.uint16)
    grey[:, 10:20], grey[:, 20:30], grey[:, 30:] = 16384, 32768, 65535
    return grey


@pytest.mark.parametrize("name", ["g16.png", "g16.tif"])
def test_16bit_grayscale_keeps_relative_brightness(tmp_path: Path, name: str) -> None:
    assert cv2.imwrite(str(tmp_path / name), _grey16())
    image = load_one(tmp_path / name)
    assert image.metadata.bit_depth == 16
    assert image.metadata.color_model.startswith("I;16")
    assert image.pixels[5, [5, 15, 25, 35], 0].tolist() == [0, 64, 128, 255]
    assert np.array_equal(image.pixels[:, :, 0], image.pixels[:, :, 2])


@pytest.mark.parametrize("name", ["c16.png", "c16.tif"])
def test_16bit_colour_keeps_colours_and_brightness(tmp_path: Path, name: str) -> None:
    rgb16 = BARS.astype(np.uint16) * 257  # 255 -> 65535
    rgb16[:, :, 0] //= 2  # red at half strength
    assert cv2.imwrite(str(tmp_path / name), cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    image = load_one(tmp_path / name)
    assert image.metadata.bit_depth == 16
    assert_colours_close(bar_colours(image.pixels), [(127, 0, 0), (0, 255, 0), (0, 0, 255), (127, 255, 255)], 1)


# --- orientation, pages, names ----------------------------------------------------------------------------


def _with_orientation(path: Path, pixels: np.ndarray, orientation: int, fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, format=fmt, exif=exif.tobytes())


def test_exif_rotate_90_jpeg_gives_transposed_shape(tmp_path: Path) -> None:
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:10, :10] = (255, 0, 0)  # red mark at the stored top-left
    _with_orientation(tmp_path / "rot.jpg", stored, 6, "JPEG")  # 6: turn 90 degrees clockwise to view
    image = load_one(tmp_path / "rot.jpg")
    assert image.pixels.shape == (60, 40, 3)
    assert image.metadata.original_size == (40, 60)  # same orientation as the pixels
    assert image.metadata.extra["exif_orientation"] == "6"
    assert image.pixels[3, 36, 0] > 200 and image.pixels[3, 3, 0] < 50  # the mark is now top-right


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    stored = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / f"o{orientation}.png"
    _with_orientation(path, stored, orientation, "PNG")
    with Image.open(path) as img:
        expected = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    image = load_one(path)
    assert np.array_equal(image.pixels, expected)
    assert image.metadata.original_size == (expected.shape[1], expected.shape[0])


def test_multipage_tiff_loads_the_first_page_and_says_so(tmp_path: Path) -> None:
    pages = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (10, 200, 90)]
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    image = load_one(tmp_path / "pages.tif")
    assert image.pixels[0, 0].tolist() == [10, 10, 10]
    assert image.metadata.extra["frames_in_file"] == "3"
    assert "first" in image.metadata.extra["note"]
    assert image.metadata.frame_index is None


def test_content_decides_not_the_suffix(tmp_path: Path) -> None:
    Image.fromarray(BARS).save(tmp_path / "really_png_R.jpg", format="PNG")
    Image.fromarray(BARS).save(tmp_path / "no_suffix", format="BMP")
    Image.fromarray(BARS).save(tmp_path / "jpeg_named.dcm", format="JPEG")
    assert load_one(tmp_path / "really_png_R.jpg").metadata.source_format == "PNG"
    assert load_one(tmp_path / "really_png_R.jpg").metadata.eye is Eye.RIGHT
    assert load_one(tmp_path / "no_suffix").metadata.source_format == "BMP"
    assert load_one(tmp_path / "jpeg_named.dcm").metadata.source_format == "JPEG"


def test_accepts_str_paths_and_unknown_eye(tmp_path: Path) -> None:
    Image.fromarray(BARS).save(tmp_path / "IDRiD_001.jpg")
    image = load_images(str(tmp_path / "IDRiD_001.jpg"))[0]
    assert image.path == tmp_path / "IDRiD_001.jpg"
    assert (image.metadata.eye, image.metadata.eye_source) == (Eye.UNKNOWN, "unknown")


# --- reduced decoding ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    yy, xx = np.mgrid[0:2848, 0:4288]
    pixels = np.dstack([(xx % 256), (yy % 256), ((xx + yy) % 256)]).astype(np.uint8)
    path = tmp_path_factory.mktemp("big") / "camera_4288x2848.jpg"
    Image.fromarray(pixels).save(path, quality=85)
    return path


def test_big_jpeg_with_min_side_decodes_reduced(big_jpeg: Path) -> None:
    image = load_one(big_jpeg, min_side=512)
    h, w = image.pixels.shape[:2]
    assert 512 <= min(h, w) <= 1424
    # the size of a JPEG DCT-scaled decode (1/2, 1/4 or 1/8), not of a full decode resized afterwards
    assert (w, h) in {(-(-4288 // s), -(-2848 // s)) for s in (2, 4, 8)}
    assert image.metadata.original_size == (4288, 2848)
    assert abs(w / h - 4288 / 2848) < 0.01


def test_big_jpeg_without_min_side_is_full_size(big_jpeg: Path) -> None:
    assert load_one(big_jpeg).pixels.shape == (2848, 4288, 3)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "BMP"])
def test_min_side_shrinks_other_formats_to_exactly_min_side(tmp_path: Path, fmt: str) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "wide", format=fmt)
    image = load_one(tmp_path / "wide", min_side=120)
    assert image.pixels.shape == (120, 200, 3)
    assert image.metadata.original_size == (500, 300)


def test_min_side_never_enlarges(tmp_path: Path) -> None:
    Image.fromarray(BARS).save(tmp_path / "small.png")
    Image.fromarray(BARS).save(tmp_path / "small.jpg")
    assert load_one(tmp_path / "small.png", min_side=512).pixels.shape == (64, 96, 3)
    assert load_one(tmp_path / "small.jpg", min_side=512).pixels.shape == (64, 96, 3)


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_min_side_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(ValueError):
        load_images(SAMPLE, min_side=bad)  # type: ignore[arg-type]


# --- bad files ----------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.jpg", "not found")


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    expect_error(tmp_path, "folder")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    expect_error(tmp_path / "empty.jpg", "empty")


def test_text_named_jpg(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("Patient seen on Monday.\nBoth eyes dilated. Ødegård.\n", encoding="utf-8")
    expect_error(tmp_path / "notes.jpg", "not a supported image", "text", kind=UnsupportedFormatError)


def test_html_named_png(tmp_path: Path) -> None:
    (tmp_path / "download.png").write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    expect_error(tmp_path / "download.png", "not a supported image", "HTML", kind=UnsupportedFormatError)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"GIF89a" + b"\x00" * 40, "GIF"),
        (b"%PDF-1.7\n" + b"\x00\xff" * 20, "PDF"),
        (b"PK\x03\x04" + b"\x00" * 40, "ZIP"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "HEIC"),
        (bytes(range(256)) * 4, "unrecognised"),
    ],
)
def test_other_content_is_named(tmp_path: Path, content: bytes, words: str) -> None:
    (tmp_path / "x.jpg").write_bytes(content)
    expect_error(tmp_path / "x.jpg", words, kind=UnsupportedFormatError)


def _encoded(fmt: str) -> bytes:
    pixels = np.random.default_rng(2).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_jpeg_is_an_error_not_a_partial_image(tmp_path: Path, keep: float) -> None:
    data = _encoded("JPEG")
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * keep)])
    expect_error(tmp_path / "cut.jpg", "truncated")


def test_truncated_png(tmp_path: Path) -> None:
    data = _encoded("PNG")
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    expect_error(tmp_path / "cut.png", "PNG")


@pytest.mark.parametrize(
    ("name", "content"),
    [("hdr.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64), ("hdr.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)],
)
def test_corrupt_header(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    expect_error(tmp_path / name, "corrupt")


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_decompression_bomb_header_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(_png_header_only(100_000, 100_000))
    expect_error(tmp_path / "bomb.png", "too large", "pixels")


@pytest.mark.parametrize("warnings_as", ["ignore", "error"])
def test_image_just_above_the_pixel_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings_as: str
) -> None:
    Image.fromarray(np.zeros((100, 120, 3), np.uint8)).save(tmp_path / "big.png")
    # Pillow only warns between 1x and 2x its limit; the loader must refuse there too, whatever the
    # application's warning filters make of that warning
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter(warnings_as, Image.DecompressionBombWarning)
        expect_error(tmp_path / "big.png", "too large", "pixels")


def test_float_tiff_is_unsupported(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8), np.float32), mode="F").save(tmp_path / "float.tif")
    expect_error(tmp_path / "float.tif", "floating-point", kind=UnsupportedFormatError)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_permission_denied(tmp_path: Path) -> None:
    Image.fromarray(BARS).save(tmp_path / "locked.png")
    (tmp_path / "locked.png").chmod(0)
    expect_error(tmp_path / "locked.png", "permission denied")
