"""Fuzzing the loader: mutated JPEG, PNG and DICOM files give 8-bit RGB or an ImageLoadError, never anything else,
and never hang.

A quick, deterministic run is part of the suite. The long run (random, RAN_FUZZ_EXAMPLES examples per format) is
marked `slow` and runs only when RAN_FUZZ_EXAMPLES is set (docs/reliability.md):

    RAN_FUZZ_EXAMPLES=20000 .venv/bin/pytest -m slow tests/reliability/test_fuzz_loader.py -p no:cacheprovider

Inputs that break the rule are saved to RAN_FUZZ_CRASHES (default: a temporary folder) and named in the failure,
so `load_images(path)` reproduces them; Hypothesis also prints how to replay the failing example.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from corpus import fundus
from dicom_factory import write_dicom
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ran_desktop.engine.errors import ImageLoadError
from ran_desktop.engine.imaging.loading import load_images

TIME_LIMIT_S = 20.0  # per input; a 64 px file loads in milliseconds, so only a hang comes near it
QUICK_EXAMPLES = 150
LONG_EXAMPLES = int(os.environ.get("RAN_FUZZ_EXAMPLES") or 0)
CRASHES = Path(os.environ.get("RAN_FUZZ_CRASHES") or Path(tempfile.gettempdir()) / "ran-fuzz-crashes")
# Decoders warn about odd values (pydicom about invalid VRs, Pillow about big images): expected on mutated input.
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.filterwarnings("ignore::RuntimeWarning")]
_INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\xff\xff\xff\x7f",
                b"\x00\x00\x00\x80", b"\x00\x00\x01\x00", b"9999", b"\xff\xd8", b"\xff\xd9")


def _seeds() -> dict[str, bytes]:
    rgb = fundus(64)
    seeds: dict[str, bytes] = {}
    for name, fmt, options in (("seed.jpg", "JPEG", {"quality": 90}), ("seed.png", "PNG", {}),
                               ("grey.png", "PNG", {"mode": "L"}), ("progressive.jpg", "JPEG",
                                                                    {"quality": 80, "progressive": True})):
        buf = io.BytesIO()
        picture = Image.fromarray(rgb)
        picture = picture.convert(options.pop("mode")) if "mode" in options else picture
        picture.save(buf, format=fmt, **options)
        seeds[name] = buf.getvalue()
    with tempfile.TemporaryDirectory() as folder:
        for name, syntax, pixels in (("explicit.dcm", "explicit", rgb), ("rle.dcm", "rle", [rgb, rgb[::-1]]),
                                     ("jpeg.dcm", "jpeg", rgb), ("mono16.dcm", "explicit",
                                                                 (rgb[:, :, 1].astype(np.uint16) * 257))):
            path = write_dicom(Path(folder) / name, pixels, transfer_syntax=syntax,
                               sop="op16" if name == "mono16.dcm" else "op8")
            seeds[name] = path.read_bytes()
    return seeds


SEEDS = _seeds()
JPEG_SEEDS = sorted(n for n in SEEDS if n.endswith(".jpg"))
PNG_SEEDS = sorted(n for n in SEEDS if n.endswith(".png"))
DICOM_SEEDS = sorted(n for n in SEEDS if n.endswith(".dcm"))


@st.composite
def mutated(draw: st.DrawFn, names: list[str]) -> tuple[str, bytes]:
    """A seed file with a few edits of the kinds that break parsers: flipped bits, odd values in length or size
    fields, bytes inserted, cut or repeated, a truncated end."""
    name = draw(st.sampled_from(names))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 6))):
        size = len(data)
        at = draw(st.integers(0, max(0, size - 1)))
        op = draw(st.sampled_from(["flip", "byte", "interesting", "insert", "delete", "repeat", "truncate"]))
        if op == "flip" and size:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and size:
            data[at] = draw(st.integers(0, 255))
        elif op == "interesting":
            value = draw(st.sampled_from(_INTERESTING))
            data[at : at + len(value)] = value
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 256))]
        elif op == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 512))] * draw(st.integers(1, 8))
        elif op == "truncate":
            del data[at:]
    return name, bytes(data)


Loader = Callable[..., list]


def load_within_limit(load: Loader, path: Path, limit: float) -> tuple[str, object]:
    """("images", list) or ("error", exception), from a thread given `limit` seconds; ("hang", None) past it."""
    outcome: list[tuple[str, object]] = []

    def run() -> None:
        try:
            outcome.append(("images", load(path, min_side=64)))
        except BaseException as exc:  # judged by the caller: only ImageLoadError is allowed
            outcome.append(("error", exc))

    worker = threading.Thread(target=run, daemon=True, name="fuzz-load")
    worker.start()
    worker.join(limit)
    return outcome[0] if outcome else ("hang", None)


def check(folder: Path, name: str, data: bytes, load: Loader = load_images, limit: float = TIME_LIMIT_S,
          crashes: Path = CRASHES) -> None:
    path = folder / f"case{Path(name).suffix}"
    path.write_bytes(data)
    kind, value = load_within_limit(load, path, limit)
    problem = None
    if kind == "hang":
        problem = f"no answer within {limit:g} s"
    elif kind == "error" and not isinstance(value, ImageLoadError):
        problem = f"{type(value).__name__}: {value}"
    elif kind == "images":
        shapes = [(i.pixels.dtype, i.pixels.ndim, i.pixels.shape[-1]) for i in value]  # type: ignore[union-attr]
        if not shapes or any(s != (np.dtype(np.uint8), 3, 3) for s in shapes):
            problem = f"loaded, but not as 8-bit RGB: {shapes}"
    if problem:
        crashes.mkdir(parents=True, exist_ok=True)
        saved = crashes / f"{hashlib.sha1(data).hexdigest()[:12]}-{name}"
        saved.write_bytes(data)
        pytest.fail(f"{problem} (mutated from {name}; input saved as {saved})")


def _fuzz(names: list[str], examples: int, derandomize: bool):
    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(case=mutated(names))
    def run(tmp_path: Path, case: tuple[str, bytes]) -> None:
        check(tmp_path, *case)

    return run


test_fuzz_jpeg = _fuzz(JPEG_SEEDS, QUICK_EXAMPLES, derandomize=True)
test_fuzz_png = _fuzz(PNG_SEEDS, QUICK_EXAMPLES, derandomize=True)
test_fuzz_dicom = _fuzz(DICOM_SEEDS, QUICK_EXAMPLES, derandomize=True)
def _long(names: list[str]):
    test = _fuzz(names, max(LONG_EXAMPLES, 1), derandomize=False)
    wanted = pytest.mark.skipif(not LONG_EXAMPLES, reason="the long fuzz run: set RAN_FUZZ_EXAMPLES")
    return pytest.mark.slow(wanted(test))


test_fuzz_jpeg_long = _long(JPEG_SEEDS)
test_fuzz_png_long = _long(PNG_SEEDS)
test_fuzz_dicom_long = _long(DICOM_SEEDS)

def test_the_checker_catches_what_it_must(tmp_path):
    """A loader that raises anything but ImageLoadError, hangs, or returns non-RGB fails the check (so a quiet
    fuzz run means something). The broken loaders are the harness's own test inputs."""
    crashes = tmp_path / "crashes"
    seed = SEEDS["seed.png"]
    with pytest.raises(pytest.fail.Exception, match="IndexError"):
        check(tmp_path, "seed.png", seed, load=lambda path, min_side: [][1], crashes=crashes)
    with pytest.raises(pytest.fail.Exception, match="no answer within 0.2 s"):
        check(tmp_path, "seed.png", seed, load=lambda path, min_side: threading.Event().wait(3), limit=0.2,
              crashes=crashes)
    with pytest.raises(pytest.fail.Exception, match="not as 8-bit RGB"):
        check(tmp_path, "seed.png", seed, load=lambda path, min_side: [], crashes=crashes)
    assert len(list(crashes.iterdir())) == 1  # the same input, saved once
    check(tmp_path, "seed.png", seed, crashes=crashes)  # and the real loader passes on the seed itself
