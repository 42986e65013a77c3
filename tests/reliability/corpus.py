"""The bad-input corpus: every strange file a clinic PC may meet, written fresh by the tests.

The engine, CLI and GUI tests all build it with `build_corpus(folder)` and check the same `Case` expectations, so
the three paths see exactly the same files. Two good photographs ride along: a batch with bad files in it must
still screen them.

A case is either an "error" (the file is refused with a per-file message matching `words`), or "graded" (the file
loads and gets a verdict: screened, or ungradable with a reason matching `words`).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from dicom_factory import write_dicom
from PIL import Image
from skimage import data as skimage_data

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "normal_fundus_OS.jpg"
FUNDUS_SIDE = 600  # big enough for the quality gate (disc >= 300 px), small enough to keep the tests quick

ERROR, GRADED = "error", "graded"


@dataclass(frozen=True)
class Case:
    name: str  # file (or folder) name inside the corpus folder
    expect: str  # ERROR or GRADED
    words: str = ""  # a case-insensitive substring of the error, or of the quality reasons when ungradable
    ungradable: bool | None = None  # for GRADED: True ungradable, False screened, None either
    results: int = 1  # results the file gives (one per frame of a multi-frame DICOM)

    @property
    def is_folder(self) -> bool:
        return self.name.endswith("/")


CASES: tuple[Case, ...] = (
    Case("good_OD.jpg", GRADED, ungradable=False),
    Case("good_OS.png", GRADED, ungradable=False),
    Case("empty.jpg", ERROR, "empty (0 bytes)"),
    Case("truncated.jpg", ERROR, "truncated JPEG"),
    Case("truncated.png", ERROR, "truncated PNG"),
    Case("truncated.tif", ERROR, "truncated TIFF"),
    Case("truncated.dcm", ERROR, "truncated"),
    Case("letter.jpg", ERROR, "looks like text"),
    Case("web page.jpg", ERROR, "looks like HTML"),
    Case("cmyk.jpg", GRADED, ungradable=False),
    Case("sixteen_bit.tif", GRADED, ungradable=False),
    Case("grayscale.png", GRADED, ungradable=False),
    Case("rgba.png", GRADED, ungradable=False),
    Case("animated.gif", ERROR, "a GIF image"),
    Case("multipage.tif", GRADED, ungradable=False),
    Case("ten_by_ten.png", GRADED, "no fundus field of view", ungradable=True),
    Case("bomb.png", ERROR, "image too large"),
    Case("no_eye_photo.jpg", GRADED, "no fundus field of view", ungradable=True),
    Case("no_pixels.dcm", ERROR, "no pixel data"),
    Case("unsupported_syntax.dcm", ERROR, "unsupported DICOM transfer syntax"),
    Case("malformed_length.dcm", ERROR, "truncated or one of its elements malformed"),
    Case("malformed_vr.dcm", ERROR, "malformed DICOM header"),
    Case("malformed_values.dcm", GRADED, ungradable=False),
    Case("multiframe.dcm", GRADED, ungradable=False, results=2),
    Case("Fundus photo été 👁 OD.jpg", GRADED, ungradable=False),
    Case("loop/", GRADED, ungradable=False),  # holds one good photograph and a symlink back to itself
)

BOMB_SIDE = 50_000
UNSUPPORTED_SYNTAX = "1.2.840.10008.1.2.4.100"  # MPEG2 video: pydicom has no decoder for it


def fundus(side: int = FUNDUS_SIDE) -> np.ndarray:
    """The bundled CC0 fundus photograph as RGB uint8, `side` x `side`."""
    with Image.open(SAMPLE) as img:
        return np.asarray(img.convert("RGB").resize((side, side), Image.Resampling.LANCZOS))


def build_corpus(folder: Path) -> dict[str, Path]:
    """Write every case into `folder`; returns case name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = fundus()
    picture = Image.fromarray(rgb)
    paths: dict[str, Path] = {}

    def put(name: str, content: bytes) -> None:
        path = folder / name
        path.write_bytes(content)
        paths[name] = path

    put("good_OD.jpg", _encode(picture, "JPEG", quality=92))
    put("good_OS.png", _encode(picture, "PNG"))
    put("empty.jpg", b"")
    put("truncated.jpg", _cut(_encode(picture, "JPEG", quality=92), 0.4))
    put("truncated.png", _cut(_encode(picture, "PNG"), 0.5))
    put("truncated.tif", _cut(_encode(picture, "TIFF"), 0.5))
    put("letter.jpg", b"Dear colleague,\nplease find the photographs attached.\n")
    put("web page.jpg", b"<!DOCTYPE html><html><head><title>Download</title></head><body>404</body></html>\n")
    put("cmyk.jpg", _encode(picture.convert("CMYK"), "JPEG", quality=92))
    grey16 = (np.asarray(picture.convert("L"), np.uint16) * 257).astype(np.uint16)
    put("sixteen_bit.tif", _encode(Image.fromarray(grey16), "TIFF"))
    put("grayscale.png", _encode(picture.convert("L"), "PNG"))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:40, :40, 3] = 0  # a transparent corner, so the alpha channel matters
    put("rgba.png", _encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    put("animated.gif", _animated_gif(picture))
    put("multipage.tif", _multipage_tiff(picture))
    put("ten_by_ten.png", _encode(picture.resize((10, 10)), "PNG"))
    put("bomb.png", declared_png(BOMB_SIDE, BOMB_SIDE))
    put("no_eye_photo.jpg", _encode(Image.fromarray(skimage_data.coffee()), "JPEG", quality=90))
    put("Fundus photo été 👁 OD.jpg", _encode(picture, "JPEG", quality=92))

    paths["no_pixels.dcm"] = write_dicom(folder / "no_pixels.dcm", None)
    paths["unsupported_syntax.dcm"] = write_dicom(
        folder / "unsupported_syntax.dcm", rgb[:64, :64], transfer_syntax=UNSUPPORTED_SYNTAX
    )
    paths["multiframe.dcm"] = write_dicom(folder / "multiframe.dcm", [rgb, rgb[:, ::-1].copy()], transfer_syntax="rle")
    truncated = write_dicom(folder / "truncated.dcm", rgb)
    truncated.write_bytes(_cut(truncated.read_bytes(), 0.6))
    paths["truncated.dcm"] = truncated
    paths["malformed_length.dcm"] = _malformed_length(folder / "malformed_length.dcm", rgb)
    paths["malformed_vr.dcm"] = _malformed_vr(folder / "malformed_vr.dcm", rgb)
    paths["malformed_values.dcm"] = _malformed_values(folder / "malformed_values.dcm", rgb)

    loop = folder / "loop"
    loop.mkdir(exist_ok=True)
    (loop / "inside_OD.jpg").write_bytes(paths["good_OD.jpg"].read_bytes())
    _symlink(loop / "again", loop)  # loop/again/again/... forever, if followed naively
    paths["loop/"] = loop
    assert set(paths) == {c.name for c in CASES}, "every case needs a file, every file a case"
    return paths


def corpus_paths(paths: dict[str, Path]) -> list[Path]:
    """What a user would drop: every file itself (so unsupported names reach the loader), and the loop folder."""
    return [paths[c.name] for c in CASES]


def expected_results() -> int:
    return sum(c.results for c in CASES)


def case_of(result_path: Path, paths: dict[str, Path]) -> Case:
    """The case a result belongs to (a photograph inside the loop folder belongs to the folder's case)."""
    for c in CASES:
        p = paths[c.name]
        if result_path == p or (c.is_folder and p in result_path.parents):
            return c
    raise AssertionError(f"no case for {result_path}")


def check_outcome(c: Case, status: str, error: str | None, reasons: str | None) -> None:
    """The one rule for every path: `status` is 'screened', 'ungradable' or 'error'."""
    if c.expect == ERROR:
        assert status == "error", f"{c.name}: expected an error, got {status}"
        assert error and c.words.lower() in error.lower(), f"{c.name}: {error!r} lacks {c.words!r}"
        return
    assert status in ("screened", "ungradable"), f"{c.name}: expected a verdict, got {status}: {error}"
    if c.ungradable is not None:
        assert (status == "ungradable") == c.ungradable, f"{c.name}: {status} ({reasons})"
    if status == "ungradable":
        assert reasons, f"{c.name}: ungradable without a reason"
    if c.words:
        assert reasons and c.words.lower() in reasons.lower(), f"{c.name}: {reasons!r} lacks {c.words!r}"


# --- writers ------------------------------------------------------------------------------------------------


def _encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def _cut(content: bytes, keep: float) -> bytes:
    return content[: int(len(content) * keep)]


def _animated_gif(picture: Image.Image) -> bytes:
    frames = [picture.resize((120, 120)).rotate(angle) for angle in (0, 90, 180)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _multipage_tiff(picture: Image.Image) -> bytes:
    buf = io.BytesIO()
    picture.save(buf, format="TIFF", save_all=True, append_images=[picture.convert("L"), picture.rotate(90)])
    return buf.getvalue()


def declared_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height RGB pixels: a decompression bomb if anyone decodes it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (3 * min(width, 4096))
    body = zlib.compress(row * 64, 9)  # the start of an all-black picture; the rest is missing anyway
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _malformed_length(path: Path, rgb: np.ndarray) -> Path:
    """A DICOM file whose PatientName element claims a length that swallows every element after it."""
    write_dicom(path, rgb, patient_name="Malformed^Tag")
    content = bytearray(path.read_bytes())
    at = content.index(b"\x10\x00\x10\x00PN")  # (0010,0010) PN, explicit VR little endian: 2-byte length follows
    content[at + 6 : at + 8] = struct.pack("<H", 0xFFF0)
    path.write_bytes(bytes(content))
    return path


def _malformed_vr(path: Path, rgb: np.ndarray) -> Path:
    """A DICOM file whose Rows element (0028,0010) carries a value representation that does not exist."""
    write_dicom(path, rgb)
    content = bytearray(path.read_bytes())
    at = content.index(b"\x28\x00\x10\x00US")
    content[at + 4 : at + 6] = b"ZZ"
    path.write_bytes(bytes(content))
    return path


def _malformed_values(path: Path, rgb: np.ndarray) -> Path:
    """Well-formed elements holding values their VR forbids (pydicom would refuse to write them itself)."""
    write_dicom(path, rgb, birth_date="19600131", study_date="20240115", sex="F")
    content = path.read_bytes()
    for good, bad in ((b"19600131", b"1960XX31"), (b"20240115", b"yesterda"), (b"F ", b"?!")):
        assert content.count(good) == 1, good
        content = content.replace(good, bad)
    path.write_bytes(content)
    return path


def _symlink(link: Path, target: Path) -> None:
    try:
        os.symlink(target, link, target_is_directory=True)
    except FileExistsError:
        pass
