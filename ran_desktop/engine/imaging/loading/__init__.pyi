"""Public entry points, read by lazy_loader at run time and by type checkers."""

from . import api as api
from . import dicom as dicom
from . import discover as discover
from . import formats as formats
from . import jpeg_on_device as jpeg_on_device
from . import laterality as laterality
from . import raster as raster
from . import types as types
from .api import SUPPORTED_SUFFIXES as SUPPORTED_SUFFIXES
from .api import load_images as load_images
from .api import load_screened_frame as load_screened_frame
from .dicom import MAX_FILE_BYTES as MAX_FILE_BYTES
from .dicom import MAX_FRAME_BYTES as MAX_FRAME_BYTES
from .dicom import MAX_FRAMES as MAX_FRAMES
from .discover import iter_image_files as iter_image_files
from .laterality import laterality_from_filename as laterality_from_filename
from .types import Eye as Eye
from .types import ImageMetadata as ImageMetadata
from .types import LoadedImage as LoadedImage
from .types import image_key as image_key
from .types import image_location as image_location

__all__ = [
    "Eye",
    "ImageMetadata",
    "LoadedImage",
    "MAX_FILE_BYTES",
    "MAX_FRAMES",
    "MAX_FRAME_BYTES",
    "SUPPORTED_SUFFIXES",
    "api",
    "dicom",
    "discover",
    "formats",
    "image_key",
    "image_location",
    "iter_image_files",
    "jpeg_on_device",
    "laterality",
    "laterality_from_filename",
    "load_images",
    "load_screened_frame",
    "raster",
    "types",
]
