"""preprocess.finish on the device (finish_on_device.py: what a GPU workstation's screener and training on a GPU
run): OpenCV's CLAHE and colour conversions and the same standardisation, bit for bit, on the sample, generated
photographs of every grade, IDRiD's real photographs and random images, at sizes that divide into the tiles and
sizes that do not. Run here on the CPU device; tests/engine/model/test_cuda.py runs it on a GPU."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from locations import REPO_ROOT

from ran_desktop.engine.imaging.field_of_view import detect_fov
from ran_desktop.engine.imaging.finish_on_device import clahe, finish_batch
from ran_desktop.engine.imaging.loading import load_images
from ran_desktop.engine.imaging.preprocess import crop_to_fov, finish, resize_square
from ran_desktop.engine.imaging.preprocess_settings import PreprocessSettings
from training.synthetic import generate_fundus

IDRID = REPO_ROOT.parent / "shared" / "data" / "idrid-segmentation" / "A. Segmentation" / "1. Original Images"


def squares(sample_path, size: int) -> np.ndarray:
    """Resized field-of-view squares as the screener makes them: the sample, every DR grade, IDRiD's photographs."""
    photos = [cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)]
    photos += [generate_fundus(40 + g, dr=g, size=640, background="real" if g % 2 else "synthetic").image
               for g in range(5)]
    photos += [load_images(p, min_side=640)[0].pixels for p in sorted(IDRID.rglob("*.jpg"))[::10]]
    return np.stack([resize_square(crop_to_fov(p, detect_fov(p)), size) for p in photos])


@pytest.mark.parametrize(("size", "grid", "clip"), [(320, 8, 2.0), (224, 8, 2.0), (300, 8, 2.0), (321, 7, 3.5)])
def test_finish_on_the_device_is_opencvs_bit_for_bit(sample_path, size, grid, clip):
    settings = PreprocessSettings(input_size=size, clahe_tile_grid=grid, clahe_clip_limit=clip)
    batch = squares(sample_path, size)
    enhanced, tensors = finish_batch(torch.from_numpy(batch), settings)
    for i, square in enumerate(batch):
        expected_enhanced, expected_tensor = finish(square, settings)
        np.testing.assert_array_equal(enhanced[i].numpy(), expected_enhanced)
        np.testing.assert_array_equal(tensors[i].numpy(), expected_tensor)
    assert len(batch) >= 6


def test_clahe_matches_opencv_on_random_and_flat_images():
    rng = np.random.default_rng(4)
    images = [rng.integers(0, 256, (97, 130), dtype=np.uint8), np.full((64, 64), 200, np.uint8),
              (rng.random((120, 120)) < 0.02).astype(np.uint8) * 255, rng.integers(100, 104, (80, 96), dtype=np.uint8)]
    for grey in images:
        for clip, grid in ((2.0, 8), (40.0, 4), (0.5, 3)):
            expected = cv2.createCLAHE(clipLimit=clip, tileGridSize=(grid, grid)).apply(grey)
            np.testing.assert_array_equal(clahe(torch.from_numpy(grey)[None], clip, grid)[0].numpy(), expected)


def test_without_clahe_only_standardisation_is_applied(sample_path):
    settings = PreprocessSettings(input_size=224, clahe=False)
    batch = squares(sample_path, 224)[:3]
    enhanced, tensors = finish_batch(torch.from_numpy(batch), settings)
    np.testing.assert_array_equal(enhanced.numpy(), batch)
    np.testing.assert_array_equal(tensors[0].numpy(), finish(batch[0], settings)[1])


def test_a_batch_of_the_wrong_kind_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        finish_batch(torch.zeros((1, 3, 8, 8)), PreprocessSettings())
