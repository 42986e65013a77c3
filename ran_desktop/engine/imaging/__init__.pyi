"""Public entry points, read by lazy_loader at run time and by type checkers."""

from . import colour_tables as colour_tables
from . import field_of_view as field_of_view
from . import finish_on_device as finish_on_device
from . import grading_views as grading_views
from . import heatmap as heatmap
from . import loading as loading
from . import macula as macula
from . import preprocess as preprocess
from . import preprocess_settings as preprocess_settings
from . import preview as preview
from . import quality as quality
from . import quality_on_device as quality_on_device
from . import quality_report as quality_report
from . import thumbnails as thumbnails
from . import views as views
from .field_of_view import FieldOfView as FieldOfView
from .field_of_view import detect_fov as detect_fov
from .heatmap import heatmap_on_photo as heatmap_on_photo
from .heatmap import overlay_heatmap as overlay_heatmap
from .heatmap import upsample_heatmap as upsample_heatmap
from .loading import SUPPORTED_SUFFIXES as SUPPORTED_SUFFIXES
from .loading import Eye as Eye
from .loading import ImageMetadata as ImageMetadata
from .loading import LoadedImage as LoadedImage
from .loading import image_location as image_location
from .loading import iter_image_files as iter_image_files
from .loading import laterality_from_filename as laterality_from_filename
from .loading import load_images as load_images
from .loading import load_screened_frame as load_screened_frame
from .preprocess import PreprocessResult as PreprocessResult
from .preprocess import apply_clahe as apply_clahe
from .preprocess import crop_to_fov as crop_to_fov
from .preprocess import decode_for_model as decode_for_model
from .preprocess import decode_min_side as decode_min_side
from .preprocess import draw_fov as draw_fov
from .preprocess import finish as finish
from .preprocess import fov_square as fov_square
from .preprocess import resize_square as resize_square
from .preprocess import standardise as standardise
from .preprocess import to_display as to_display
from .preprocess_settings import DEFAULT_SETTINGS as DEFAULT_SETTINGS
from .preprocess_settings import PreprocessSettings as PreprocessSettings
from .preview import make_preview as make_preview
from .quality import DEFAULT_THRESHOLDS as DEFAULT_THRESHOLDS
from .quality import NO_FUNDUS_REASON as NO_FUNDUS_REASON
from .quality import QualityThresholds as QualityThresholds
from .quality import assess_quality as assess_quality
from .quality_report import QualityReport as QualityReport
from .thumbnails import make_thumbnail as make_thumbnail
from .views import CLAHE as CLAHE
from .views import FIELD_OF_VIEW as FIELD_OF_VIEW
from .views import HEAT_OPACITY as HEAT_OPACITY
from .views import MODEL_VIEW as MODEL_VIEW
from .views import NORMALISED as NORMALISED
from .views import ORIGINAL as ORIGINAL

__all__ = [
    "grading_views",
    "macula",
    "CLAHE",
    "DEFAULT_SETTINGS",
    "DEFAULT_THRESHOLDS",
    "Eye",
    "FIELD_OF_VIEW",
    "FieldOfView",
    "HEAT_OPACITY",
    "ImageMetadata",
    "LoadedImage",
    "MODEL_VIEW",
    "NORMALISED",
    "NO_FUNDUS_REASON",
    "ORIGINAL",
    "PreprocessResult",
    "PreprocessSettings",
    "QualityReport",
    "QualityThresholds",
    "SUPPORTED_SUFFIXES",
    "apply_clahe",
    "assess_quality",
    "crop_to_fov",
    "decode_for_model",
    "decode_min_side",
    "detect_fov",
    "draw_fov",
    "finish",
    "fov_square",
    "colour_tables",
    "field_of_view",
    "finish_on_device",
    "heatmap",
    "heatmap_on_photo",
    "image_location",
    "iter_image_files",
    "laterality_from_filename",
    "load_images",
    "load_screened_frame",
    "loading",
    "make_preview",
    "make_thumbnail",
    "overlay_heatmap",
    "preprocess",
    "preprocess_settings",
    "preview",
    "quality",
    "quality_on_device",
    "quality_report",
    "resize_square",
    "standardise",
    "thumbnails",
    "views",
    "to_display",
    "upsample_heatmap",
]
