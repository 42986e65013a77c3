"""The bad-input corpus through the engine: the loader's typed errors, per-file results, bounded memory."""

from __future__ import annotations

import json
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from corpus import CASES, ERROR, Case, case_of, check_outcome, corpus_paths, declared_png, expected_results
from dicom_factory import write_dicom
from sandbox import PYTHON, ROOT

from ran_desktop.engine.errors import ImageLoadError
from ran_desktop.engine.imaging.loading import iter_image_files, load_images
from ran_desktop.engine.records.results import ScreeningResult
from ran_desktop.engine.screening.screener import Screener


def reasons(result: ScreeningResult) -> str | None:
    return "; ".join(result.quality.reasons) if result.quality else None


def test_every_file_gets_its_message_or_verdict_and_the_rest_of_the_batch_is_screened(loaded, corpus):
    results = list(Screener(loaded).screen(corpus_paths(corpus)))
    seen: Counter[str] = Counter()
    for result in results:
        case = case_of(result.path, corpus)
        seen[case.name] += 1
        check_outcome(case, result.status.value, result.error, reasons(result))
    assert seen == {c.name: c.results for c in CASES}
    assert len(results) == expected_results()


@pytest.mark.parametrize("case", [c for c in CASES if not c.is_folder], ids=lambda c: c.name)
def test_the_loader_refuses_with_its_own_typed_error_or_gives_8bit_rgb(corpus, case: Case):
    path = corpus[case.name]
    if case.expect == ERROR:
        with pytest.raises(ImageLoadError) as info:
            load_images(path, min_side=512)
        assert info.value.path == path and case.words.lower() in info.value.reason.lower()
        return
    images = load_images(path, min_side=512)
    assert len(images) == case.results
    for image in images:
        assert image.pixels.dtype == np.uint8 and image.pixels.ndim == 3 and image.pixels.shape[2] == 3


def test_what_can_be_kept_is_kept_and_what_was_left_out_is_said(corpus):
    [odd] = load_images(corpus["malformed_values.dcm"])
    meta = odd.metadata
    assert (meta.birth_date, meta.study_date, meta.sex) == (None, None, None)  # invalid values dropped, not guessed
    assert meta.patient_name == "Doe, Jane" and meta.patient_id == "RAN-0001"
    [first] = load_images(corpus["multipage.tif"])
    assert first.metadata.extra["note"] == "multi-page TIFF file: only the first of 3 pages was loaded"
    frames = load_images(corpus["multiframe.dcm"])
    assert [f.metadata.frame_index for f in frames] == [0, 1] and len({f.key for f in frames}) == 2


def test_a_folder_with_a_symlink_loop_is_walked_once(corpus):
    loop = corpus["loop/"]
    assert (loop / "again").is_symlink() and (loop / "again" / "again" / "inside_OD.jpg").exists()
    assert list(iter_image_files([loop])) == [loop / "inside_OD.jpg"]


_MEASURE = """
import json, sys, warnings
from pathlib import Path
from ran_desktop.engine.errors import ImageLoadError
from ran_desktop.engine.imaging.loading import load_images

def peak_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

load_images(sys.argv[1], min_side=512)  # a real photograph first: every library and buffer is warmed up
warnings.simplefilter("ignore")
before, outcome = peak_kb(), {}
for path in sys.argv[2:]:
    try:
        load_images(path, min_side=512)
        outcome[Path(path).name] = "loaded"
    except ImageLoadError as exc:
        outcome[Path(path).name] = exc.reason
print(json.dumps({"growth_kb": peak_kb() - before, "outcome": outcome}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)")
def test_decompression_bombs_are_refused_before_any_pixel_memory_is_taken(corpus, tmp_path):
    """Peak memory of a fresh process barely moves while it is handed bombs that would take gigabytes decoded."""
    bombs = {
        "declared_50000.png": corpus["bomb.png"],  # Pillow's own limit (2x MAX_IMAGE_PIXELS) refuses at open
        "declared_12000.png": _write(tmp_path / "declared_12000.png", declared_png(12_000, 12_000)),  # ours refuses
        "real_bomb.png": _real_png_bomb(tmp_path / "real_bomb.png", 20_000, 5_000),  # 300 MB of real zeros, 300 KB
        "huge.dcm": _huge_dicom(tmp_path / "huge.dcm"),
    }
    done = subprocess.run([PYTHON, "-c", _MEASURE, str(corpus["good_OD.jpg"]), *map(str, bombs.values())],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for name, reason in report["outcome"].items():
        assert "too large" in reason, (name, reason)
    assert report["growth_kb"] < 30 * 1024, report  # decoding any one of them would take 300 MB to 7.5 GB


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _real_png_bomb(path: Path, width: int, height: int) -> Path:
    """A valid PNG holding width x height black RGB pixels, compressed about 1000:1."""
    import struct

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)
    body = b"".join(packer.compress(row * 100) for _ in range(height // 100)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def _huge_dicom(path: Path) -> Path:
    from pydicom import dcmread

    write_dicom(path, np.zeros((4, 4, 3), np.uint8))
    ds = dcmread(path)
    ds.Rows = ds.Columns = 60_000
    ds.save_as(path)
    return path
