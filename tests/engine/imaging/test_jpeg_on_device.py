"""JPEG decoding on the model's device (loading.jpeg_on_device: nvJPEG on a GPU workstation) gives the photograph the
CPU path gives: the same size, metadata and key, pixels within a grey level or so (full decoding and an area
average against Pillow's DCT-scaled decoding), and the screener's decisions. Run here with torchvision's CPU
decoder, the same code path; tests/engine/model/test_cuda.py runs it with nvJPEG."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from jpeg_tolerance import MEAN_GREY, PROBABILITY, TAIL_GREY
from left_out import run_without
from locations import REPO_ROOT
from PIL import Image

from ran_desktop.engine.errors import ImageLoadError
from ran_desktop.engine.imaging.loading import load_images
from ran_desktop.engine.imaging.preprocess import decode_min_side
from ran_desktop.engine.model.bundle import find_bundles, load_bundle
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.screening.preparation import PreparationPlan, PreparationPool
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions, default_decode_on_device
from training.synthetic import generate_fundus

IDRID = REPO_ROOT.parent / "shared" / "data" / "idrid-segmentation" / "A. Segmentation" / "1. Original Images"
SHIPPED = find_bundles(REPO_ROOT / "models")[0]
MIN_SIDE = decode_min_side()


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory, sample_path) -> Path:
    """The sample, generated photographs of every grade at a camera's size, and every ninth IDRiD photograph."""
    folder = tmp_path_factory.mktemp("jpegs")
    shutil.copy(sample_path, folder / sample_path.name)
    for grade in range(5):
        image = generate_fundus(700 + grade, dr=grade, size=2048 if grade % 2 else 1024,
                                background="real" if grade % 2 else "synthetic").image
        cv2.imwrite(str(folder / f"grade{grade}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
    for path in sorted(IDRID.rglob("*.jpg"))[::9]:
        shutil.copy(path, folder / path.name)
    return folder


def _grey_gap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    gap = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float(gap.mean()), float(np.percentile(gap, 99))


def test_a_jpeg_decoded_on_the_device_is_the_cpus_photograph(jpegs):
    drafted = 0
    for path in sorted(jpegs.iterdir()):
        cpu = load_images(path, min_side=MIN_SIDE)[0]
        device = load_images(path, min_side=MIN_SIDE, jpeg_device="cpu")[0]
        assert device.metadata == cpu.metadata and device.key == cpu.key, path.name  # the same photograph, hashed
        assert device.pixels.shape == cpu.pixels.shape and device.pixels.dtype == np.uint8, path.name
        assert device.pixels.flags.c_contiguous
        mean, tail = _grey_gap(device.pixels, cpu.pixels)
        assert mean <= MEAN_GREY and tail <= TAIL_GREY, (path.name, mean, tail)
        drafted += cpu.pixels.shape[0] < cpu.metadata.original_size[1] // 1.9  # Pillow decoded it at 1/2 or less
    # the comparison covers Pillow's DCT scaling: the 2048 px photographs, and IDRiD's 4288 x 2848 where they are here
    assert drafted >= 2 + len(list(IDRID.rglob("*.jpg"))[::9])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_turned_as_pillow_turns_it(tmp_path, orientation):
    stored = cv2.resize(generate_fundus(3, dr=2, size=256).image[:, :200], (1800, 1400), interpolation=cv2.INTER_AREA)
    path = tmp_path / f"turned{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    cpu = load_images(path, min_side=MIN_SIDE)[0]
    device = load_images(path, min_side=MIN_SIDE, jpeg_device="cpu")[0]
    assert device.metadata == cpu.metadata and device.pixels.shape == cpu.pixels.shape
    mean, tail = _grey_gap(device.pixels, cpu.pixels)
    assert mean <= MEAN_GREY and tail <= TAIL_GREY, (mean, tail)


def test_a_grey_jpeg_decodes_to_the_same_grey_rgb(tmp_path):
    grey = cv2.cvtColor(generate_fundus(4, dr=1, size=1600).image, cv2.COLOR_RGB2GRAY)
    path = tmp_path / "grey.jpg"
    cv2.imwrite(str(path), grey)
    cpu, device = (load_images(path, min_side=MIN_SIDE, jpeg_device=d)[0] for d in (None, "cpu"))
    assert device.metadata.color_model == "L" and device.metadata == cpu.metadata
    assert (device.pixels[..., 0] == device.pixels[..., 2]).all()
    assert _grey_gap(device.pixels, cpu.pixels)[0] <= MEAN_GREY


def test_what_the_device_cannot_decode_is_read_by_pillow_with_its_words(tmp_path, sample_path):
    cmyk = tmp_path / "cmyk.jpg"
    Image.open(sample_path).convert("CMYK").save(cmyk, quality=90)
    a, b = (load_images(cmyk, min_side=MIN_SIDE, jpeg_device=d)[0] for d in (None, "cpu"))
    assert np.array_equal(a.pixels, b.pixels) and a.key == b.key  # Pillow's decoding, exactly

    data = sample_path.read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 3])
    garbled = tmp_path / "garbled.jpg"
    garbled.write_bytes(data[:4] + bytes(200) + data[204:])
    png_named_jpg = tmp_path / "actually_png.jpg"
    cv2.imwrite(str(tmp_path / "p.png"), cv2.imread(str(sample_path)))
    (tmp_path / "p.png").rename(png_named_jpg)
    for path in (truncated, garbled):
        with pytest.raises(ImageLoadError) as on_cpu:
            load_images(path, min_side=MIN_SIDE)
        with pytest.raises(ImageLoadError) as on_device:
            load_images(path, min_side=MIN_SIDE, jpeg_device="cpu")
        assert on_device.value.reason == on_cpu.value.reason and on_device.value.path == path
    png = load_images(png_named_jpg, min_side=MIN_SIDE, jpeg_device="cpu")[0]
    assert png.metadata.source_format == "PNG"  # only JPEG content goes to the device

    padded = tmp_path / "padded.jpg"  # zeros after the end-of-image marker, as some cameras write: still whole
    padded.write_bytes(data + bytes(256))
    a, b = (load_images(padded, min_side=MIN_SIDE, jpeg_device=d)[0] for d in (None, "cpu"))
    assert a.pixels.shape == b.pixels.shape and _grey_gap(a.pixels, b.pixels)[0] <= MEAN_GREY
    assert not np.array_equal(a.pixels, b.pixels)  # decoded on the device, not handed to Pillow


def test_the_screener_decoding_on_the_device_decides_and_grades_as_the_cpu(jpegs, tmp_path):
    folder = tmp_path / "batch"
    shutil.copytree(jpegs, folder)
    (folder / "letter.jpg").write_text("not a photograph", encoding="utf-8")
    (folder / "dark.jpg").write_bytes(cv2.imencode(".jpg", np.full((900, 1200, 3), 4, np.uint8))[1].tobytes())
    loaded = load_bundle(SHIPPED, device="cpu")
    screener = Screener(loaded, ScreeningOptions(decode_on_device=True))
    assert screener.decode_on_device and not Screener(loaded).decode_on_device  # a CPU model's default: Pillow
    on_device = list(screener.screen([folder]))
    on_cpu = list(Screener(loaded).screen([folder]))
    assert [(r.key, r.status, r.error) for r in on_device] == [(r.key, r.status, r.error) for r in on_cpu]
    assert {r.status for r in on_cpu} == {Status.SCREENED, Status.UNGRADABLE, Status.ERROR}
    for a, b in zip(on_device, on_cpu, strict=True):
        if b.quality is None:
            continue
        assert (a.quality.gradable, a.quality.reasons) == (b.quality.gradable, b.quality.reasons), b.path.name
        if b.dr_probs is None:
            continue
        assert np.allclose(a.dr_probs, b.dr_probs, atol=PROBABILITY), b.path.name
        assert np.allclose(a.dme_probs, b.dme_probs, atol=PROBABILITY), b.path.name
        threshold = b.model.referable_threshold
        assert (a.referable_probability >= threshold) == (b.referable_probability >= threshold), b.path.name
        if a.grades != b.grades:  # only a near tie between the CPU's two most probable grades
            for mine, theirs in ((a.dr_probs, b.dr_probs), (a.dme_probs, b.dme_probs)):
                top = sorted(theirs, reverse=True)
                assert np.argmax(mine) == np.argmax(theirs) or top[0] - top[1] < PROBABILITY, b.path.name


def test_the_gpus_decoder_is_chosen_on_cuda_where_preparation_runs_in_threads(tiny_bundle):
    assert default_decode_on_device("cuda", processes=False)
    assert not default_decode_on_device("cuda", processes=True)  # a CUDA context per worker process: no
    assert not default_decode_on_device("cpu", processes=False)
    loaded = load_bundle(tiny_bundle, device="cpu")
    with pytest.raises(ValueError, match="threads"):
        Screener(loaded, ScreeningOptions(decode_on_device=True, processes=True))
    plan = PreparationPlan(loaded.preprocess_settings, loaded.quality_thresholds, MIN_SIDE, keep_stages=False,
                           square_reusable=True, jpeg_device="cpu")
    with pytest.raises(ValueError, match="threads"):
        PreparationPool(plan, workers=2, processes=True)


def test_without_torchvision_pillow_decodes_and_asking_for_the_device_says_why(tiny_bundle):
    """The installed builds leave torchvision out: there the GPU's model decodes with Pillow."""
    code = f"""
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions, default_decode_on_device
print("default on cuda:", default_decode_on_device("cuda", processes=False))
try:
    Screener(load_bundle({str(tiny_bundle)!r}, device="cpu"), ScreeningOptions(decode_on_device=True))
except ValueError as exc:
    print("refused:", exc)
"""
    done = run_without(["torchvision"], code)
    assert done.returncode == 0, done.stderr
    assert "default on cuda: False" in done.stdout
    assert "refused: JPEG decoding on the device needs torchvision" in done.stdout
