"""From records to model inputs, the way the clinic sees photographs.

Each photograph is decoded, cropped to its field of view and resized with the engine's own functions once, into a
cache of uint8 squares (a .npy memory map that data-loader workers share and a restarted run reuses). Augmentation
works on those squares; the engine's `finish` (CLAHE, standardisation) then makes the tensor. Without augmentation
a training tensor is exactly what `preprocess` gives the screener.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ran_desktop.engine.errors import ImageLoadError
from ran_desktop.engine.imaging.loading import load_images
from ran_desktop.engine.imaging.preprocess import (
    PreprocessSettings,
    crop_to_fov,
    decode_min_side,
    detect_fov,
    finish,
    resize_square,
)
from training import lesion_masks
from training.datasets import Record

log = logging.getLogger(__name__)
MISSING = -1  # label value masked out of a head's loss


def labels_of(records: Sequence[Record]) -> tuple[np.ndarray, np.ndarray]:
    """DR and DME targets, MISSING where the dataset has no label.

    Messidor's DR grade 3 means "ICDR 3 or 4": it cannot be one 5-class target, so it is left out of the DR loss.
    """
    dr = np.array(
        [MISSING if r.dr is None or (r.dr_scale == "messidor" and r.dr == 3) else r.dr for r in records], np.int64
    )
    dme = np.array([MISSING if r.dme is None else r.dme for r in records], np.int64)
    return dr, dme


def field_of_view_square(path: Path, settings: PreprocessSettings) -> np.ndarray:
    """The engine's decode, field-of-view detection, crop and resize: the resized square before CLAHE."""
    return field_of_view_squares(path, settings)[0]


def field_of_view_squares(
    path: Path, settings: PreprocessSettings, lesion_mask: Path | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The resized square before CLAHE, and the photograph's lesion mask cut the same way (None without one)."""
    image = load_images(path, min_side=decode_min_side(settings))[0]
    fov = detect_fov(image.pixels, settings)
    square = resize_square(crop_to_fov(image.pixels, fov, settings), settings.input_size)
    if lesion_mask is None:
        return square, None
    return square, lesion_masks.square(lesion_masks.read(lesion_mask), image.pixels.shape, fov, settings)


def _square_or_none(args: tuple[str, dict, str | None]) -> tuple[np.ndarray, np.ndarray | None] | None:
    path, settings, mask = args
    try:
        return field_of_view_squares(Path(path), PreprocessSettings.from_dict(settings), Path(mask) if mask else None)
    except (ImageLoadError, ValueError) as exc:
        log.warning("skipped %s: %s", path, exc)
        return None


class SquareCache:
    """Field-of-view squares for a list of records, in `cache_dir/squares-<key>.npy`.

    The key covers the files (path, size, modification time) and the preprocessing settings, so a changed data set
    or setting makes a new cache instead of reusing a wrong one. Files that fail to load are listed in `failed`.
    Where records name lesion masks, they are cut the same way into `lesions-<key>.npy` (`masks`, with `has_mask`).
    """

    def __init__(self, records: Sequence[Record], settings: PreprocessSettings, cache_dir: Path, workers: int = 2):
        self.settings = settings
        self.records = list(records)
        self.has_mask = np.array([r.lesion_mask is not None for r in self.records], bool)
        key = self._key()
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / f"squares-{key}.npy"
        self.mask_path = cache_dir / f"lesions-{key}.npy" if self.has_mask.any() else None
        self._failed_path = cache_dir / f"squares-{key}.failed.json"
        built = self.path.exists() and self._failed_path.exists()
        if not built or (self.mask_path is not None and not self.mask_path.exists()):
            self._build(workers)
        self.failed: list[int] = json.loads(self._failed_path.read_text())
        self._array: np.ndarray | None = None
        self._masks: np.ndarray | None = None

    def _key(self) -> str:
        digest = hashlib.sha256(json.dumps(self.settings.to_dict(), sort_keys=True).encode())
        for record in self.records:
            stat = record.image.stat() if record.image.exists() else None
            size, mtime = (stat.st_size, stat.st_mtime_ns) if stat else (-1, -1)
            digest.update(f"{record.image}|{size}|{mtime}\n".encode())
            if record.lesion_mask is not None:  # only then, so caches made before masks existed keep their key
                mask = record.lesion_mask.stat() if record.lesion_mask.exists() else None
                digest.update(f"mask {record.lesion_mask}|{mask.st_size if mask else -1}|"
                              f"{mask.st_mtime_ns if mask else -1}\n".encode())
        return digest.hexdigest()[:16]

    def _build(self, workers: int) -> None:
        size = self.settings.input_size
        tmp = self.path.with_suffix(".partial.npy")
        squares = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(self.records), size, size, 3))
        masks = None
        if self.mask_path is not None:
            mask_tmp = self.mask_path.with_suffix(".partial.npy")
            masks = np.lib.format.open_memmap(mask_tmp, mode="w+", dtype=np.uint8,
                                              shape=(len(self.records), size, size))
        failed: list[int] = []
        jobs = [(str(r.image), self.settings.to_dict(), str(r.lesion_mask) if r.lesion_mask else None)
                for r in self.records]
        log.info("decoding %d photographs into %s", len(jobs), self.path.name)
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            for i, result in enumerate(pool.map(_square_or_none, jobs, chunksize=16)):
                if result is None:
                    failed.append(i)
                    continue
                squares[i] = result[0]
                if masks is not None and result[1] is not None:
                    masks[i] = result[1]
        squares.flush()
        del squares
        if masks is not None and self.mask_path is not None:
            masks.flush()
            del masks
            os.replace(self.mask_path.with_suffix(".partial.npy"), self.mask_path)
        os.replace(tmp, self.path)
        self._failed_path.write_text(json.dumps(failed))

    @property
    def array(self) -> np.ndarray:
        # Opened lazily so each data-loader worker maps the file itself instead of receiving a pickled copy.
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        return self._array

    @property
    def masks(self) -> np.ndarray | None:
        """(N, size, size) lesion bits, zeros where a record has none (see `has_mask`); None when no record has one."""
        if self._masks is None and self.mask_path is not None:
            self._masks = np.load(self.mask_path, mmap_mode="r")
        return self._masks

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None, "_masks": None}

    def usable(self) -> list[int]:
        failed = set(self.failed)
        return [i for i in range(len(self.records)) if i not in failed]


@dataclass(frozen=True)
class AugmentSettings:
    """The paper's augmentation: translation, rotation, cropping/scaling, flips, noise, and colour
    (brightness, contrast, saturation, hue). Ranges are modest: a fundus photograph's colour carries meaning."""

    rotation_deg: float = 25.0
    scale: tuple[float, float] = (0.92, 1.12)  # > 1 zooms in, i.e. crops
    translate: float = 0.05  # fraction of the side
    hflip: bool = True
    vflip: bool = True
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue_deg: float = 4.0
    noise_std: float = 4.0  # grey levels
    blur_probability: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


class AugmentDraw(NamedTuple):
    """One sample's random choices, drawn before any pixel changes: the CPU (`apply_augmentation`) and the GPU
    (training/augment_on_device.py) apply the same ones."""

    angle: float  # degrees
    scale: float
    shift_x: float  # pixels
    shift_y: float
    hflip: float  # 1.0: flip
    vflip: float
    brightness: float  # factor
    contrast: float  # factor
    hue: float  # degrees
    saturation: float  # factor
    blur_sigma: float  # pixels; 0: no blur


def draw_augmentation(rng: np.random.Generator, aug: AugmentSettings, size: int) -> AugmentDraw:
    angle = rng.uniform(-aug.rotation_deg, aug.rotation_deg)
    scale = rng.uniform(*aug.scale)
    shift = rng.uniform(-aug.translate, aug.translate, size=2) * size
    return AugmentDraw(
        angle=angle, scale=scale, shift_x=float(shift[0]), shift_y=float(shift[1]),
        hflip=float(aug.hflip and rng.random() < 0.5), vflip=float(aug.vflip and rng.random() < 0.5),
        brightness=rng.uniform(1 - aug.brightness, 1 + aug.brightness),
        contrast=rng.uniform(1 - aug.contrast, 1 + aug.contrast), hue=rng.uniform(-aug.hue_deg, aug.hue_deg),
        saturation=rng.uniform(1 - aug.saturation, 1 + aug.saturation),
        blur_sigma=rng.uniform(0.5, 1.2) if rng.random() < aug.blur_probability else 0.0,
    )


def augment_matrix(draw: AugmentDraw, size: int) -> np.ndarray:
    """The 2 x 3 affine map of the rotation, scaling and shift, in pixels (cv2.warpAffine's convention)."""
    matrix = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), draw.angle, draw.scale)
    matrix[:, 2] += np.array([draw.shift_x, draw.shift_y])
    return matrix


def augment(square: np.ndarray, rng: np.random.Generator, aug: AugmentSettings) -> np.ndarray:
    """A randomly transformed copy of a uint8 RGB square; the same rng state gives the same result."""
    return augment_with_mask(square, None, rng, aug)[0]


def augment_with_mask(
    square: np.ndarray, lesions: np.ndarray | None, rng: np.random.Generator, aug: AugmentSettings
) -> tuple[np.ndarray, np.ndarray | None]:
    """`augment`, with the lesion bit mask moved exactly as the photograph (colour changes leave it alone)."""
    draw = draw_augmentation(rng, aug, square.shape[0])
    noise = rng.normal(0, aug.noise_std, square.shape).astype(np.float32) if aug.noise_std > 0 else None
    return apply_augmentation(square, lesions, draw, noise)


def apply_augmentation(square: np.ndarray, lesions: np.ndarray | None, draw: AugmentDraw,
                       noise: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The drawn augmentation of a uint8 RGB square (and its lesion bits), with `noise` (float32, grey levels)."""
    size = square.shape[0]
    matrix = augment_matrix(draw, size)
    out = cv2.warpAffine(square, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    moved = None
    if lesions is not None:
        moved = cv2.warpAffine(np.ascontiguousarray(lesions), matrix, (size, size), flags=cv2.INTER_NEAREST,
                               borderValue=0)
    if draw.hflip:
        out = out[:, ::-1]
        moved = None if moved is None else moved[:, ::-1]
    if draw.vflip:
        out = out[::-1]
        moved = None if moved is None else moved[::-1]
    # Colour changes stay inside the fundus; the surround stays black. The mask is taken on the uint8 channels (the
    # same pixels as the float image's max > 0): a float max over the last axis took a quarter of a sample's time.
    mask = (np.maximum(np.maximum(out[..., 0], out[..., 1]), out[..., 2]) > 0)[..., None]
    img: np.ndarray = out.astype(np.float32)
    img *= draw.brightness
    mean = img[mask[..., 0]].mean() if mask.any() else 0.0
    img = (img - mean) * draw.contrast + mean
    img = np.clip(img, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + draw.hue / 2) % 180  # OpenCV hue is 0-180
    hsv[..., 1] *= draw.saturation
    img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    if noise is not None:
        img += noise
    if draw.blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), draw.blur_sigma)
    img = np.where(mask, img, 0)
    return np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8)), (
        None if moved is None else np.ascontiguousarray(moved))


class FundusDataset(Dataset):
    """(tensor, dr, dme) for each usable record of a SquareCache, augmented when `augment` is given.

    Indexed by position, or by (epoch, position) as `training.sampling.EpochSampler` yields: the augmentation depends on
    (seed, epoch, record), and the epoch travels with each request because a persistent data-loader worker keeps its
    own copy of the dataset, which an attribute set later in the main process never reaches. A bare position is
    epoch 0.

    With `lesions`, each item also carries the lesion bit mask (uint8, size x size; zeros where unknown) and whether
    it is known, for the lesion head.

    With `on_device`, the item's image is the cached square itself (uint8, size x size x 3), not augmented and not
    finished, and the item ends with the sample's drawn augmentation (augment_on_device.draws_tensor's row: NaN
    where there is none): the trainer augments and finishes the batch on the GPU, from the same seeded choices.
    """

    def __init__(
        self,
        cache: SquareCache,
        indices: Sequence[int] | None = None,
        augmentation: AugmentSettings | None = None,
        seed: int = 0,
        lesions: bool = False,
        on_device: bool = False,
    ):
        self.cache = cache
        self.indices = list(cache.usable() if indices is None else indices)
        self.dr, self.dme = labels_of(cache.records)
        self.augmentation = augmentation
        self.seed = seed
        self.lesions = lesions
        self.on_device = on_device

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple:
        # Different augmentations every epoch, the same ones for the same (seed, epoch): resumed runs repeat them.
        epoch, i = key if isinstance(key, tuple) else (0, key)
        index = self.indices[i]
        square = np.asarray(self.cache.array[index])
        known = bool(self.lesions and self.cache.has_mask[index])
        bits = np.asarray(self.cache.masks[index]) if known and self.cache.masks is not None else None
        if self.on_device:
            return self._undone(square, bits, index, epoch)
        if self.augmentation is not None:
            square, bits = augment_with_mask(square, bits, np.random.default_rng([self.seed, epoch, index]),
                                             self.augmentation)
        _, tensor = finish(square, self.cache.settings)
        item = (torch.from_numpy(tensor), int(self.dr[index]), int(self.dme[index]))
        if not self.lesions:
            return item
        size = self.cache.settings.input_size
        mask = torch.from_numpy(bits.copy()) if bits is not None else torch.zeros((size, size), dtype=torch.uint8)
        return (*item, mask, bits is not None)

    def _undone(self, square: np.ndarray, bits: np.ndarray | None, index: int, epoch: int) -> tuple:
        """The item for augmentation on the device: the square, the labels, the lesion bits, the drawn choices."""
        draw = None
        if self.augmentation is not None:
            draw = draw_augmentation(np.random.default_rng([self.seed, epoch, index]), self.augmentation,
                                     square.shape[0])
        choices = torch.tensor(list(draw) if draw is not None else [float("nan")] * len(AugmentDraw._fields),
                               dtype=torch.float64)
        square = np.array(square)  # a copy: the cache is a read-only map, which torch will not wrap
        item: tuple = (torch.from_numpy(square), int(self.dr[index]), int(self.dme[index]))
        if self.lesions:
            size = self.cache.settings.input_size
            mask = torch.from_numpy(bits.copy()) if bits is not None else torch.zeros((size, size), dtype=torch.uint8)
            item = (*item, mask, bits is not None)
        return (*item, choices) if self.augmentation is not None else item

    @property
    def noise_std(self) -> float:
        return self.augmentation.noise_std if self.augmentation is not None else 0.0

    def targets(self) -> tuple[np.ndarray, np.ndarray]:
        return self.dr[self.indices], self.dme[self.indices]
