"""Public entry points, read by lazy_loader at run time and by type checkers."""

from . import activation_maps as activation_maps
from . import attention as attention
from . import bundle as bundle
from . import bundle_writer as bundle_writer
from . import catalogue as catalogue
from . import device as device
from . import dilated as dilated
from . import explanation as explanation
from . import forward_cam as forward_cam
from . import gradcam as gradcam
from . import lesion_head as lesion_head
from . import losses as losses
from . import manifest as manifest
from . import provenance as provenance
from . import ran as ran
from . import runtime as runtime
from . import torch_runtime as torch_runtime
from . import untrained as untrained
from .attention import ChannelAttention as ChannelAttention
from .attention import ResidualAttentionModule as ResidualAttentionModule
from .attention import SoftMaskBranch as SoftMaskBranch
from .attention import soft_mask_depth as soft_mask_depth
from .bundle import LoadedModel as LoadedModel
from .bundle import choose_bundle as choose_bundle
from .bundle import find_bundles as find_bundles
from .bundle import load_bundle as load_bundle
from .bundle import read_manifest as read_manifest
from .bundle import sha256_of as sha256_of
from .bundle import verify_weights as verify_weights
from .bundle_writer import save_bundle as save_bundle
from .bundle_writer import write_manifest as write_manifest
from .catalogue import BundleEntry as BundleEntry
from .catalogue import bundle_to_use as bundle_to_use
from .catalogue import list_bundles as list_bundles
from .device import DEVICE_ENV as DEVICE_ENV
from .device import choose_device as choose_device
from .device import worker_count as worker_count
from .dilated import DilatedConvModule as DilatedConvModule
from .explanation import explain as explain
from .explanation import has_lesion_head as has_lesion_head
from .explanation import heat_layer as heat_layer
from .gradcam import GradCAM as GradCAM
from .lesion_head import LESION_KINDS as LESION_KINDS
from .lesion_head import LESION_STRIDE as LESION_STRIDE
from .lesion_head import LesionHead as LesionHead
from .lesion_head import unpack_lesion_bits as unpack_lesion_bits
from .losses import FocalLoss as FocalLoss
from .manifest import MANIFEST_NAME as MANIFEST_NAME
from .manifest import SCHEMA as SCHEMA
from .manifest import VARIANT_NAMES as VARIANT_NAMES
from .manifest import WEIGHTS_NAME as WEIGHTS_NAME
from .manifest import Manifest as Manifest
from .provenance import check_unambiguous as check_unambiguous
from .ran import RAN as RAN
from .ran import VARIANTS as VARIANTS
from .ran import BasicBlock as BasicBlock
from .ran import Bottleneck as Bottleneck
from .ran import RANOutput as RANOutput
from .ran import build_ran as build_ran
from .ran import ran18 as ran18
from .ran import ran34 as ran34
from .ran import ran50 as ran50
from .untrained import create_untrained_bundle as create_untrained_bundle

__all__ = [
    "BundleEntry",
    "bundle_to_use",
    "catalogue",
    "list_bundles",
    "BasicBlock",
    "Bottleneck",
    "ChannelAttention",
    "DEVICE_ENV",
    "DilatedConvModule",
    "FocalLoss",
    "GradCAM",
    "LESION_KINDS",
    "LESION_STRIDE",
    "LesionHead",
    "LoadedModel",
    "MANIFEST_NAME",
    "Manifest",
    "RAN",
    "RANOutput",
    "ResidualAttentionModule",
    "SCHEMA",
    "SoftMaskBranch",
    "VARIANTS",
    "VARIANT_NAMES",
    "WEIGHTS_NAME",
    "activation_maps",
    "attention",
    "build_ran",
    "bundle",
    "bundle_writer",
    "check_unambiguous",
    "choose_bundle",
    "choose_device",
    "create_untrained_bundle",
    "device",
    "dilated",
    "explain",
    "explanation",
    "forward_cam",
    "find_bundles",
    "gradcam",
    "has_lesion_head",
    "heat_layer",
    "lesion_head",
    "load_bundle",
    "losses",
    "manifest",
    "provenance",
    "ran",
    "runtime",
    "torch_runtime",
    "ran18",
    "ran34",
    "ran50",
    "read_manifest",
    "save_bundle",
    "sha256_of",
    "soft_mask_depth",
    "unpack_lesion_bits",
    "untrained",
    "verify_weights",
    "worker_count",
    "write_manifest",
]
