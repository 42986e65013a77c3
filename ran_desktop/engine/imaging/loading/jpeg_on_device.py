"""JPEG photographs decoded on the model's GPU: nvJPEG through torchvision's `decode_jpeg`, reduced there to the
size the CPU path decodes at, turned upright, and handed on as the same `LoadedImage` that `raster.load_raster`
gives, so the rest of preparation (field of view, quality gate, preprocessing) is unchanged.

On the CPU, Pillow decodes a large JPEG at 1/2, 1/4 or 1/8 size by DCT scaling; nvJPEG decodes at full size and the
area average here brings it to that same size. The pixels differ from Pillow's by a grey level or two (two IDCTs;
tests/engine/imaging/test_jpeg_on_device.py states the tolerance), and the grades do not.

What nvJPEG does not decode (CMYK, 12-bit, arithmetic-coded, damaged files) goes to Pillow, whose messages name
what is wrong: a file reads the same wherever it is decoded. Torch is imported here, so this module loads only
through the loading package's lazy names (the CPU build has no torch).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

from ran_desktop.engine.imaging.loading import raster
from ran_desktop.engine.imaging.loading.types import LoadedImage

# Pillow modes nvJPEG turns into the RGB that Pillow would: YCbCr (Pillow says "RGB") and greyscale.
_DECODABLE_MODES = {"RGB", "L"}


def load_jpeg(path: Path, *, min_side: int | None, device: str | torch.device) -> LoadedImage:
    """A JPEG (already sniffed as one) decoded on `device` at the size `raster.load_raster` decodes it at; files
    nvJPEG cannot decode are decoded by Pillow instead. Raises ImageLoadError as `load_raster` does."""
    data = path.read_bytes()
    try:
        with Image.open(path, formats=("JPEG", "MPO")) as img:
            mode = img.mode
            header = raster.read_header(path, img, "JPEG", min_side)
    except Exception:  # an unreadable header, too large: Pillow's own path says so in its words
        return _on_the_cpu(path, min_side, data)
    if mode not in _DECODABLE_MODES or not _ends_whole(data):
        return _on_the_cpu(path, min_side, data)
    try:
        pixels = _decode(data, header, min_side, torch.device(device))
    except RuntimeError:  # nvJPEG refuses it (an unsupported coding, damaged data): Pillow says which
        return _on_the_cpu(path, min_side, data)
    metadata = replace(header.metadata, content_sha256=hashlib.sha256(data).hexdigest())
    return LoadedImage(path=path, pixels=pixels, metadata=metadata)


def _ends_whole(data: bytes) -> bool:
    """The file ends with JPEG's end-of-image marker (zero padding after it allowed). A decoder may fill a truncated
    file's missing rows rather than refuse it; Pillow refuses it, and a photograph cut short must not be graded."""
    return data.rstrip(b"\0").endswith(b"\xff\xd9")


def _on_the_cpu(path: Path, min_side: int | None, data: bytes) -> LoadedImage:
    image = raster.load_raster(path, "JPEG", min_side=min_side)
    return replace(image, metadata=replace(image.metadata, content_sha256=hashlib.sha256(data).hexdigest()))


def _decode(data: bytes, header: raster.Header, min_side: int | None, device: torch.device) -> np.ndarray:
    encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    with warnings.catch_warnings():
        # torchvision 0.29 marks its decoders deprecated in favour of TorchCodec; the pinned release has them
        warnings.simplefilter("ignore", DeprecationWarning)
        decoded = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device)
    width, height = header.size  # the DCT-scaled size where Pillow drafted, else the stored size
    if min_side is not None and not header.drafted:
        width, height = raster.shrunk_size(width, height, min_side)
    image = _area_resize(decoded, height, width)
    return np.ascontiguousarray(_upright(image, header.orientation).permute(1, 2, 0).cpu().numpy())


def _area_resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(3, H, W) uint8 averaged down to (3, height, width), rounded as OpenCV's INTER_AREA rounds."""
    if tuple(image.shape[1:]) == (height, width):
        return image
    averaged = F.interpolate(image[None].float(), size=(height, width), mode="area")[0]
    return averaged.round_().clamp_(0, 255).to(torch.uint8)


def _upright(image: torch.Tensor, orientation: int | None) -> torch.Tensor:
    """(3, H, W) turned as Pillow's `ImageOps.exif_transpose` turns it for each EXIF orientation."""
    if orientation == 2:
        return image.flip(2)
    if orientation == 3:
        return image.flip(1, 2)
    if orientation == 4:
        return image.flip(1)
    if orientation == 5:  # transpose: mirrored across the main diagonal
        return image.transpose(1, 2)
    if orientation == 6:  # 90 degrees clockwise
        return image.transpose(1, 2).flip(2)
    if orientation == 7:  # transverse: mirrored across the other diagonal
        return image.transpose(1, 2).flip(1, 2)
    if orientation == 8:  # 90 degrees anticlockwise
        return image.transpose(1, 2).flip(1)
    return image
