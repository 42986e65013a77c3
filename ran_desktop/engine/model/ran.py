"""RAN: a ResNet encoder with stacked residual attention, channel attention and a dilated convolution module,
ending in two classifier heads (DR grade and DME grade).

Encoder parameter names (conv1, bn1, layer1-4 and the blocks inside) follow torchvision's ResNet, so an ImageNet
ResNet state dict can be loaded into the encoder with `load_state_dict(..., strict=False)` when one is available.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from torch import Tensor, nn

from ran_desktop.engine.model.attention import ChannelAttention, ResidualAttentionModule, UnitFactory, soft_mask_depth
from ran_desktop.engine.model.dilated import DilatedConvModule
from ran_desktop.engine.model.lesion_head import LesionHead


class RANOutput(NamedTuple):
    """Logits of both heads: DR over ICDR grades 0-4, DME over grades 0-2."""

    dr: Tensor
    dme: Tensor


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    # padding = dilation keeps a 3x3 conv size-preserving at any dilation (at stride 1).
    return nn.Conv2d(
        in_channels, out_channels, kernel_size=3, stride=stride, padding=dilation, dilation=dilation, bias=False
    )


def _conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs plus a shortcut (ResNet-18/34). The shortcut is the identity unless `downsample` is given."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes, dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carries the stride), 1x1 expand by 4, plus a shortcut (ResNet-50 and deeper)."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


Block = type[BasicBlock] | type[Bottleneck]


def _make_stage(block: Block, inplanes: int, planes: int, blocks: int, stride: int, dilate: bool) -> nn.Sequential:
    """One ResNet stage. `dilate` trades the stage's stride for dilation 2, keeping resolution (output stride 16)."""
    dilation = 1
    if dilate:
        dilation, stride = stride, 1
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out_channels:
        downsample = nn.Sequential(_conv1x1(inplanes, out_channels, stride), nn.BatchNorm2d(out_channels))
    # The first block sees the map before the stage's dilation takes effect, so it keeps dilation 1.
    layers: list[nn.Module] = [block(inplanes, planes, stride, 1, downsample)]
    layers += [block(out_channels, planes, 1, dilation) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def _unit_factory(block: Block) -> UnitFactory:
    """Residual units for the attention modules, of the encoder's block type, channels in == channels out."""

    def unit(channels: int) -> nn.Module:
        return block(channels, channels // block.expansion)

    return unit


class RAN(nn.Module):
    """Residual Attention Network for DR and DME grading.

    Input: (N, 3, H, W) of any size (224 in the paper; the dilated module then sees 14x14). `base_width` scales every
    channel count (64 is the paper's; tiny values make fast test variants). `attention_modules` counts the residual
    attention modules after stages 1-3; `nominal_input_size` sets how deep their soft masks pool (down to about
    `mask_min_size`), other input sizes still run. `lesion_head` adds the lesion segmentation output
    (`forward_with_lesions`); `forward` and the grading heads are the same with or without it.
    """

    def __init__(
        self,
        block: Block,
        layers: Sequence[int],
        num_dr_classes: int = 5,
        num_dme_classes: int = 3,
        base_width: int = 64,
        attention_modules: Sequence[int] = (1, 1, 1),
        reduction: int = 16,
        dropout: float = 0.2,
        nominal_input_size: int = 224,
        mask_min_size: int = 7,
        zero_init_residual: bool = False,
        lesion_head: bool = False,
    ) -> None:
        super().__init__()
        layers, attention_modules = tuple(layers), tuple(attention_modules)
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"layers must be four positive block counts, got {layers}")
        if len(attention_modules) != 3 or min(attention_modules) < 0:
            raise ValueError(f"attention_modules must be three counts >= 0 (stages 1-3), got {attention_modules}")
        if base_width < 1 or num_dr_classes < 1 or num_dme_classes < 1:
            raise ValueError("base_width and the class counts must be positive")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")

        self.num_dr_classes = num_dr_classes
        self.num_dme_classes = num_dme_classes
        width = base_width
        self.feature_channels = 8 * width  # 512 at full width, as the paper's dilated module expects

        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        unit = _unit_factory(block)
        stage_planes = (width, 2 * width, 4 * width, 8 * width)
        stage_strides = (1, 2, 2, 2)
        stage_sizes = (nominal_input_size // 4, nominal_input_size // 8, nominal_input_size // 16)
        inplanes = width
        stages: list[nn.Sequential] = []
        attentions: list[nn.Sequential] = []
        for index, (planes, blocks, stride) in enumerate(zip(stage_planes, layers, stage_strides, strict=True)):
            stages.append(_make_stage(block, inplanes, planes, blocks, stride, dilate=index == 3))
            inplanes = planes * block.expansion
            if index < 3:
                depth = soft_mask_depth(stage_sizes[index], mask_min_size)
                attentions.append(
                    nn.Sequential(
                        *(ResidualAttentionModule(inplanes, unit, depth) for _ in range(attention_modules[index]))
                    )
                )
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.attention1, self.attention2, self.attention3 = attentions

        self.agm = ChannelAttention(inplanes, reduction)
        # Bottleneck encoders end at 4x the width (2048); the dilated module is specified on 512.
        self.reduce: nn.Module = nn.Identity()
        if inplanes != self.feature_channels:
            self.reduce = nn.Sequential(
                _conv1x1(inplanes, self.feature_channels),
                nn.BatchNorm2d(self.feature_channels),
                nn.ReLU(inplace=True),
            )
        self.dilated = DilatedConvModule(self.feature_channels, 4 * width, self.feature_channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.dr_head = nn.Linear(self.feature_channels, num_dr_classes)
        self.dme_head = nn.Linear(self.feature_channels, num_dme_classes)
        self.lesion_head: LesionHead | None = None
        if lesion_head:
            self.lesion_head = LesionHead(width * block.expansion, self.feature_channels)

        self._init_weights(zero_init_residual)
        if self.lesion_head is not None:
            self.lesion_head.init_prior()

    def _init_weights(self, zero_init_residual: bool) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_residual:
            # Each residual branch then starts as the identity, which helps early training of deep stacks.
            for module in self.modules():
                if isinstance(module, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(module.last_bn.weight)

    @property
    def cam_layer(self) -> nn.Module:
        """Default Grad-CAM target: the dilated module, the last spatial map before pooling."""
        return self.dilated

    def _encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(first attention stage's map at stride 4, the dilated module's output at stride 16)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        fine = self.attention1(self.layer1(x))
        x = self.attention2(self.layer2(fine))
        x = self.attention3(self.layer3(x))
        x = self.reduce(self.agm(self.layer4(x)))
        return fine, self.dilated(x)

    def forward_features(self, x: Tensor) -> Tensor:
        """The dilated module's output, (N, 8 * base_width, H / 16, W / 16)."""
        return self._encode(x)[1]

    def forward_with_features(self, x: Tensor) -> tuple[RANOutput, Tensor]:
        """Both heads' logits and the dilated module's output they were pooled from (forward_cam.py's maps)."""
        features = self.forward_features(x)
        return self._grade(features), features

    def forward_with_maps(self, x: Tensor) -> tuple[RANOutput, Tensor, Tensor]:
        """Both heads' logits, the dilated module's map they were pooled from, and the stride-4 map the lesion head
        also reads (the bundle's inference graphs, training/inference_graph.py)."""
        fine, features = self._encode(x)
        return self._grade(features), features, fine

    def _grade(self, features: Tensor) -> RANOutput:
        pooled = self.dropout(self.pool(features).flatten(1))
        return RANOutput(dr=self.dr_head(pooled), dme=self.dme_head(pooled))

    def forward(self, x: Tensor, with_lesions: bool = False) -> Any:
        """RANOutput; with `with_lesions`, (RANOutput, lesion logits) as `forward_with_lesions` gives (a flag
        rather than only a method, so DistributedDataParallel, which wraps `forward`, trains the lesion head too)."""
        if with_lesions:
            return self.forward_with_lesions(x)
        return self._grade(self.forward_features(x))

    def forward_with_lesions(self, x: Tensor) -> tuple[RANOutput, Tensor]:
        """Both grading heads and the lesion logits (N, 4, H / 4, W / 4) from one pass over the encoder."""
        if self.lesion_head is None:
            raise ValueError("this RAN was built without a lesion head (lesion_head=True)")
        fine, features = self._encode(x)
        return self._grade(features), self.lesion_head(fine, features)


def ran18(**kwargs: Any) -> RAN:
    """RAN on a ResNet-18 encoder."""
    return RAN(BasicBlock, (2, 2, 2, 2), **kwargs)


def ran34(**kwargs: Any) -> RAN:
    """RAN on a ResNet-34 encoder."""
    return RAN(BasicBlock, (3, 4, 6, 3), **kwargs)


def ran50(**kwargs: Any) -> RAN:
    """RAN on a ResNet-50 encoder; its 2048-channel output is reduced to 512 before the dilated module."""
    return RAN(Bottleneck, (3, 4, 6, 3), **kwargs)


VARIANTS: dict[str, Callable[..., RAN]] = {"ran18": ran18, "ran34": ran34, "ran50": ran50}


def build_ran(variant: str, **kwargs: Any) -> RAN:
    """Build a variant by name ("ran18", "ran34", "ran50") with RAN's keyword arguments."""
    try:
        factory = VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown RAN variant {variant!r}; known variants: {', '.join(VARIANTS)}") from None
    return factory(**kwargs)
