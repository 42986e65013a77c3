"""Memory is bounded by limits the app sets, not by what a file declares (red-team issue, item 10).

Each case is loaded in a fresh process whose peak resident memory (VmHWM) is read before and after."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import write_dicom
from pydicom import dcmread
from sandbox import PYTHON, ROOT

from ran_desktop.engine.imaging.loading.dicom import MAX_FILE_BYTES, MAX_FRAME_BYTES

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc")

_MEASURE = """
import json, sys, warnings
from pathlib import Path
from ran_desktop.engine.errors import ImageLoadError
from ran_desktop.engine.imaging.loading import load_images

def peak_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

load_images(sys.argv[1], min_side=512)  # every library and buffer warmed up on a real photograph first
warnings.simplefilter("ignore")
result = {}
for path in sys.argv[2:]:
    before = peak_kb()
    try:
        images = load_images(path, min_side=512)
        outcome = f"loaded {len(images)}"
    except ImageLoadError as exc:
        outcome = exc.reason
    result[Path(path).name] = {"outcome": outcome, "growth_kb": peak_kb() - before}
print(json.dumps(result))
"""

GIB = 1 << 30


def _sparse_private_element(path: Path, rgb: np.ndarray, size: int = 2 * GIB) -> Path:
    """A valid DICOM photograph with a private OB element declaring `size` bytes, held as a sparse file."""
    write_dicom(path, rgb)
    data = path.read_bytes()
    at = data.index(b"\xe0\x7f\x10\x00")  # (7FE0,0010) Pixel Data, the last element
    creator = b"RED TEAM"
    header = (b"\x99\x00\x10\x00LO" + struct.pack("<H", len(creator)) + creator
              + b"\x99\x00\x00\x10OB\x00\x00" + struct.pack("<I", size))
    with path.open("wb") as fh:
        fh.write(data[:at] + header)
        fh.seek(size, 1)  # a hole: the file declares and holds 2 GB without taking the disk
        fh.write(data[at:])
    return path


def _declaring(path: Path, rgb: np.ndarray, *, rows: int, cols: int, frames: int, syntax: str,
               bits: int = 8) -> Path:
    """A small file whose header declares a much larger image (what the decoder would be asked to make)."""
    write_dicom(path, [rgb, rgb] if frames > 1 else rgb, transfer_syntax=syntax)
    ds = dcmread(path)
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.save_as(path)
    return path


def test_what_a_file_declares_does_not_decide_the_memory_used(sample_path, tmp_path):
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    cases = {
        "sparse_private.dcm": _sparse_private_element(tmp_path / "sparse_private.dcm", rgb),
        # the red team's: an RLE file of 7.6 MB that decoded to 2.3 GB; a JPEG one of 9000 x 9000 x 20 frames
        "rle_frames.dcm": _declaring(tmp_path / "rle_frames.dcm", rgb[:64, :64].copy(), rows=6000, cols=4500,
                                     frames=30, syntax="rle"),
        "jpeg_9000.dcm": _declaring(tmp_path / "jpeg_9000.dcm", rgb[:64, :64].copy(), rows=9000, cols=9000,
                                    frames=20, syntax="jpeg"),
        # under the pixel-count limit, but 16-bit RGB: 336 MB for one frame
        "one_huge_frame.dcm": _declaring(tmp_path / "one_huge_frame.dcm", rgb[:64, :64].copy(), rows=7000,
                                         cols=8000, frames=1, syntax="explicit", bits=16),
    }
    assert cases["sparse_private.dcm"].stat().st_size > 2 * GIB
    done = subprocess.run([PYTHON, "-c", _MEASURE, str(sample_path), *map(str, cases.values())], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["sparse_private.dcm"]["outcome"] == "loaded 1"  # the photograph is there; the element is not read
    assert "DICOM file too large: 30 frames" in result["rle_frames.dcm"]["outcome"]
    assert "DICOM file too large: 20 frames" in result["jpeg_9000.dcm"]["outcome"]
    assert "DICOM frame too large" in result["one_huge_frame.dcm"]["outcome"]
    for name, measured in result.items():
        assert measured["growth_kb"] < 64 * 1024, (name, measured)  # before: +2 GB, +2.3 GB, +2.4 GB


def test_a_large_real_multi_frame_file_stays_within_one_frame_of_memory(tmp_path):
    """Frames are decoded one at a time and shrunk at once: 6 frames of 24 megapixels (16-bit) never sit in memory
    together, and 16-bit samples are scaled to 8 bits without a float copy."""
    frame = (np.random.default_rng(0).integers(0, 4096, (4000, 6000, 3))).astype(np.uint16)
    path = write_dicom(tmp_path / "big16.dcm", [frame] * 6, bits_stored=12)
    assert 6 * frame.nbytes < MAX_FILE_BYTES and frame.nbytes < MAX_FRAME_BYTES
    done = subprocess.run([PYTHON, "-c", _MEASURE, str(path), str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)["big16.dcm"]
    assert measured["outcome"] == "loaded 6"
    # one decoded frame is 144 MB; all six would be 864 MB (a float copy of one, 288 MB more)
    assert measured["growth_kb"] < 400 * 1024, measured
