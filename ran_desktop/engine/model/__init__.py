"""The RAN network (Residual Attention Network for DR and DME grading), its building blocks and its loss."""

from .attention import ChannelAttention, ResidualAttentionModule, SoftMaskBranch, soft_mask_depth
from .dilated import DilatedConvModule
from .lesion_head import LESION_KINDS, LESION_STRIDE, LesionHead, unpack_lesion_bits
from .losses import FocalLoss
from .ran import RAN, VARIANTS, BasicBlock, Bottleneck, RANOutput, build_ran, ran18, ran34, ran50

__all__ = [
    "RAN",
    "VARIANTS",
    "BasicBlock",
    "Bottleneck",
    "ChannelAttention",
    "DilatedConvModule",
    "FocalLoss",
    "LESION_KINDS",
    "LESION_STRIDE",
    "LesionHead",
    "RANOutput",
    "ResidualAttentionModule",
    "SoftMaskBranch",
    "build_ran",
    "ran18",
    "ran34",
    "ran50",
    "soft_mask_depth",
    "unpack_lesion_bits",
]
