"""Reading fundus photographs from disk: JPEG, PNG, TIFF, BMP and DICOM, always as 8-bit RGB."""

from .api import SUPPORTED_SUFFIXES, load_images, load_screened_frame
from .discover import iter_image_files
from .laterality import laterality_from_filename
from .types import Eye, ImageMetadata, LoadedImage, image_key, image_location

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Eye",
    "ImageMetadata",
    "LoadedImage",
    "iter_image_files",
    "laterality_from_filename",
    "image_key",
    "image_location",
    "load_images",
    "load_screened_frame",
]
