"""Training's augmentation on the device (training/augment_on_device.py, the default on a GPU): from the same drawn
choices it makes what the CPU's augmentation makes, to a grey level where OpenCV's fixed-point warp rounds the other
way; the lesion bits move with the photograph; and a Trainer that augments on the device trains, validates and
resumes with the same inputs. Run here on the CPU device."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from training_data import write_dotted_dataset

from ran_desktop.engine.imaging.preprocess import finish
from ran_desktop.engine.imaging.preprocess_settings import PreprocessSettings
from training.augment_on_device import augment_batch, draws_tensor, model_inputs
from training.data import AugmentSettings, apply_augmentation, draw_augmentation
from training.synthetic import generate_fundus
from training.train import TrainConfig, Trainer

SIZE = 160


@pytest.fixture(scope="module")
def squares() -> np.ndarray:
    return np.stack([cv2.resize(generate_fundus(60 + i, dr=i % 5, size=480).image, (SIZE, SIZE),
                                interpolation=cv2.INTER_AREA) for i in range(6)])


def lesion_bits(seed: int) -> np.ndarray:
    bits = np.zeros((SIZE, SIZE), np.uint8)
    rng = np.random.default_rng(seed)
    for _ in range(12):
        cv2.circle(bits, tuple(int(v) for v in rng.integers(20, SIZE - 20, 2)), int(rng.integers(2, 6)),
                   int(1 << rng.integers(0, 4)), -1)
    return bits


def test_the_device_augments_as_the_cpu_does_from_the_same_choices(squares):
    aug = AugmentSettings()
    rng = np.random.default_rng(3)
    draws = [draw_augmentation(rng, aug, SIZE) for _ in squares]
    draws[0] = draws[0]._replace(blur_sigma=0.9, hflip=1.0, vflip=1.0)  # every step taken at least once
    draws[1] = draws[1]._replace(blur_sigma=0.0, hflip=0.0, vflip=0.0)
    noise = rng.normal(0, aug.noise_std, squares.shape).astype(np.float32)
    bits = np.stack([lesion_bits(i) for i in range(len(squares))])
    expected = [apply_augmentation(s, b, d, z) for s, b, d, z in zip(squares, bits, draws, noise, strict=True)]
    found, moved = augment_batch(torch.from_numpy(squares), draws_tensor(draws), aug.noise_std, None,
                                 torch.from_numpy(bits), noise=torch.from_numpy(noise))
    for i, (image, lesions) in enumerate(expected):
        differ = np.abs(found[i].numpy().astype(int) - image.astype(int))
        assert differ.mean() < 0.1 and (differ > 2).mean() < 0.005, (i, differ.mean(), (differ > 2).mean())
        assert (moved[i].numpy() == lesions).mean() > 0.995, i


def test_samples_without_choices_are_left_as_they_are(squares):
    draws = draws_tensor([None, draw_augmentation(np.random.default_rng(1), AugmentSettings(), SIZE)])
    found, _ = augment_batch(torch.from_numpy(squares[:2]), draws, 4.0, torch.Generator().manual_seed(0))
    assert torch.equal(found[0], torch.from_numpy(squares[0]))
    assert not torch.equal(found[1], torch.from_numpy(squares[1]))
    settings = PreprocessSettings(input_size=SIZE)
    inputs, _ = model_inputs(torch.from_numpy(squares[:1]), None, settings, 0.0, None)
    np.testing.assert_array_equal(inputs[0].numpy(), finish(squares[0], settings)[1])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dotted_dataset(tmp_path_factory.mktemp("data") / "dots", count=24)


def _config(dataset, out, **kw) -> TrainConfig:
    base = dict(data=[f"csv:{dataset}"], out=out, base_width=8, input_size=64, epochs=2, batch_size=4, workers=0,
                augment=True, seed=1, checkpoint_minutes=60.0, augment_on_device=True)
    base.update(kw)
    return TrainConfig(**base)


def record_training_inputs(trainer: Trainer) -> list[torch.Tensor]:
    """The inputs of the network's training steps (not validation's), as the Trainer gives them."""
    seen: list[torch.Tensor] = []
    trainer.net.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone())
                                          if module.training else None)
    return seen


def test_a_trainer_augmenting_on_the_device_trains_validates_and_repeats_itself(dataset, tmp_path):
    trainer = Trainer(_config(dataset, tmp_path / "a", cache_dir=tmp_path / "cache", max_batches_per_epoch=3))
    assert trainer.on_device and not Trainer(_config(dataset, tmp_path / "cpu", augment_on_device=None,
                                                      cache_dir=tmp_path / "cache")).on_device  # CPU: in loaders
    seen = record_training_inputs(trainer)
    summary = trainer.fit()
    assert summary["best_epoch"] >= 1 and len(seen) >= 4 and len(seen) % 2 == 0  # two epochs' steps
    assert all(x.dtype == torch.float32 and x.shape[1:] == (3, 64, 64) for x in seen)
    again = Trainer(_config(dataset, tmp_path / "b", cache_dir=tmp_path / "cache", max_batches_per_epoch=3))
    again_seen = record_training_inputs(again)
    again.fit()
    assert all(torch.equal(a, b) for a, b in zip(seen, again_seen, strict=True))  # the same seed, the same inputs
    assert not torch.equal(seen[0], seen[len(seen) // 2])  # each epoch its own augmentation


def test_validation_on_the_device_sees_exactly_the_cpus_inputs(dataset, tmp_path):
    on_device = Trainer(_config(dataset, tmp_path / "d", cache_dir=tmp_path / "cache"))
    on_cpu = Trainer(_config(dataset, tmp_path / "c", cache_dir=tmp_path / "cache", augment_on_device=False))
    squares, dr, dme = next(iter(on_device._loader(on_device.val_set, None)))
    tensors, _, _ = next(iter(on_cpu._loader(on_cpu.val_set, None)))
    assert squares.dtype == torch.uint8
    finished, _ = model_inputs(squares, None, on_device.settings, 0.0, None)
    assert torch.equal(finished, tensors)
