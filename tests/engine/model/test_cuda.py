"""The CUDA path: the shipped model grades on the GPU as on the CPU, Grad-CAM points at the same places, and
training runs there. Skipped where torch sees no CUDA GPU (CI has none); on a GPU machine:
`pytest tests/engine/model/test_cuda.py`."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from jpeg_tolerance import MEAN_GREY, PROBABILITY, TAIL_GREY
from locations import REPO_ROOT
from training_data import write_dotted_dataset

from ran_desktop.engine.imaging.finish_on_device import finish_numpy
from ran_desktop.engine.imaging.loading import load_images
from ran_desktop.engine.imaging.preprocess import decode_min_side, finish, prepare_square
from ran_desktop.engine.model.bundle import find_bundles, load_bundle
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions
from training.synthetic import generate_fundus
from training.train import TrainConfig, Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SHIPPED = find_bundles(REPO_ROOT / "models")[0]  # the bundle the app ships and uses
# cuDNN may use TF32 for convolutions: probabilities agree to about 1e-3, not bit for bit.
TOLERANCE = 5e-3


@pytest.fixture(scope="module")
def photos(tmp_path_factory, sample_path):
    """The real sample photograph and synthetic ones of every DR grade, at a camera-like size."""
    folder = tmp_path_factory.mktemp("cuda-photos")
    shutil.copy(sample_path, folder / sample_path.name)
    for i in range(20):
        sample = generate_fundus(500 + i, dr=i % 5, size=1024, background="real" if i % 4 == 3 else "synthetic")
        cv2.imwrite(str(folder / f"synthetic_{i:02d}.jpg"), cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
    return folder


def _screen(device: str, folder: Path, **options):
    loaded = load_bundle(SHIPPED, device=device)
    return list(Screener(loaded, ScreeningOptions(**options)).screen([folder]))


def _same_grade(cpu_probs, gpu_probs) -> bool:
    """Equal argmax, unless the CPU's top two classes are closer than the tolerance (then either is right)."""
    top = sorted(cpu_probs, reverse=True)
    return int(np.argmax(cpu_probs)) == int(np.argmax(gpu_probs)) or top[0] - top[1] < TOLERANCE


def test_shipped_model_grades_on_cuda_as_on_the_cpu(photos):
    cpu = _screen("cpu", photos, batch_size=8)
    gpu = _screen("cuda", photos, batch_size=8)
    assert gpu[0].model.device.startswith("CUDA") and cpu[0].model.device.startswith("CPU")
    screened = 0
    for c, g in zip(cpu, gpu, strict=True):
        assert c.key == g.key and c.status is g.status, c.path.name
        if c.status is not Status.SCREENED:
            continue
        screened += 1
        assert np.allclose(c.dr_probs, g.dr_probs, atol=TOLERANCE), c.path.name
        assert np.allclose(c.dme_probs, g.dme_probs, atol=TOLERANCE), c.path.name
        assert _same_grade(c.dr_probs, g.dr_probs) and _same_grade(c.dme_probs, g.dme_probs), c.path.name
    assert screened >= 18


def test_gradcam_on_cuda_matches_the_cpu(photos):
    cpu = _screen("cpu", photos, heatmaps=True)
    gpu = _screen("cuda", photos, heatmaps=True)
    for c, g in zip(cpu, gpu, strict=True):
        if c.heatmap is None:
            continue
        assert g.heatmap is not None and g.heatmap.shape == c.heatmap.shape, c.path.name
        if c.heatmap.std() > 0.01:  # a flat map has no pattern to correlate
            assert np.corrcoef(c.heatmap.ravel(), g.heatmap.ravel())[0, 1] > 0.98, c.path.name


def test_training_runs_on_cuda_and_exports(tmp_path):
    data = write_dotted_dataset(tmp_path / "dots", count=40)
    cfg = TrainConfig(data=[f"csv:{data}"], out=tmp_path / "run", base_width=16, input_size=64, epochs=2,
                      batch_size=8, workers=2, seed=1, device="cuda", checkpoint_minutes=60.0)
    trainer = Trainer(cfg)
    assert next(trainer.model.parameters()).is_cuda
    summary = trainer.fit()
    assert summary["best_epoch"] >= 1 and (cfg.out / "best.safetensors").exists()
    assert summary["test"]["dr"]["n"] == summary["split_sizes"]["test"] > 0
    # a checkpoint written on the GPU resumes on the CPU (a workstation without one)
    resumed = Trainer(replace(cfg, epochs=3, device="cpu", workers=0))
    assert resumed.epoch == 2 and not next(resumed.model.parameters()).is_cuda


def test_every_compared_network_trains_on_cuda_at_full_size(tmp_path):
    """ran-compare at the paper's input size on the GPU: RAN and every torchvision baseline, one loss, two batches."""
    from training.compare import NETWORKS
    from training.compare import main as compare_main

    data = write_dotted_dataset(tmp_path / "dots", count=40, size=256)
    out = tmp_path / "cmp"
    assert compare_main(["--data", f"csv:{data}", "--out", str(out), "--losses", "ce", "--epochs", "1",
                         "--input-size", "224", "--max-batches-per-epoch", "2", "--device", "cuda"]) == 0
    rows = json.loads((out / "comparison.json").read_text())
    assert [r["network"] for r in rows] == list(NETWORKS)
    assert all(r["test"]["dr"]["n"] > 0 for r in rows)


def test_the_quality_gate_on_the_gpu_decides_as_on_the_cpu(photos):
    """On CUDA the screener measures the gate's detail on the GPU (quality_on_device), with the CPU's decisions and
    scores to 1e-5 (TF32 kept off for it)."""
    loaded = load_bundle(SHIPPED, device="cuda")
    on_gpu = Screener(loaded, ScreeningOptions(batch_size=8))
    assert on_gpu.prepare_on_device
    gpu = list(on_gpu.screen([photos]))
    cpu = list(Screener(loaded, ScreeningOptions(batch_size=8, prepare_on_device=False)).screen([photos]))
    for c, g in zip(cpu, gpu, strict=True):
        assert c.key == g.key and c.status is g.status, c.path.name
        if c.quality is not None:
            assert (g.quality.gradable, g.quality.reasons) == (c.quality.gradable, c.quality.reasons), c.path.name
            assert g.quality.scores == pytest.approx(c.quality.scores, rel=1e-5, abs=1e-6), c.path.name


def test_preprocessing_finished_on_the_gpu_is_opencvs(photos):
    """CLAHE and standardisation on the GPU (finish_on_device) give OpenCV's enhanced image and model input; the GPU
    may fuse a multiply-add, so a pixel on an exact half grey level could round the other way: at most 1 in 10,000."""
    settings = load_bundle(SHIPPED, device="cuda").preprocess_settings
    squares = [prepare_square(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), settings)[2]
               for path in sorted(photos.iterdir())]
    enhanced, tensors = finish_numpy(np.stack(squares), settings, "cuda")
    differing = 0
    for i, square in enumerate(squares):
        expected, tensor = finish(square, settings)
        differing += int((enhanced[i] != expected).sum())
        assert np.abs(tensors[i] - tensor).max() < 0.1
    assert differing <= enhanced.size / 10_000


def test_jpegs_decoded_by_nvjpeg_are_the_cpus_photographs_and_grades(photos):
    """On CUDA the screener decodes JPEGs with nvJPEG (loading.jpeg_on_device) where it prepares in threads: pixels
    within the tolerances tests/engine/imaging/test_jpeg_on_device.py states for torchvision's CPU decoder, the same
    quality decisions and referable flags, and a grade differing only on a near tie."""
    for path in sorted(photos.iterdir()):
        cpu = load_images(path, min_side=decode_min_side())[0]
        gpu = load_images(path, min_side=decode_min_side(), jpeg_device="cuda")[0]
        assert gpu.metadata == cpu.metadata and gpu.pixels.shape == cpu.pixels.shape, path.name
        gap = np.abs(gpu.pixels.astype(np.int16) - cpu.pixels.astype(np.int16))
        assert gap.mean() <= MEAN_GREY and np.percentile(gap, 99) <= TAIL_GREY, path.name
    loaded = load_bundle(SHIPPED, device="cuda")
    on_gpu = Screener(loaded, ScreeningOptions(batch_size=8, processes=False))
    assert on_gpu.decode_on_device
    gpu_results = list(on_gpu.screen([photos]))
    cpu_results = list(Screener(loaded, ScreeningOptions(batch_size=8, processes=False,
                                                         decode_on_device=False)).screen([photos]))
    for c, g in zip(cpu_results, gpu_results, strict=True):
        assert c.key == g.key and c.status is g.status, c.path.name
        if c.dr_probs is not None:
            assert np.allclose(c.dr_probs, g.dr_probs, atol=PROBABILITY), c.path.name
            threshold = c.model.referable_threshold
            assert (c.referable_probability >= threshold) == (g.referable_probability >= threshold), c.path.name
