"""The paper's comparison networks from torchvision, each with the same two heads as RAN (DR 5, DME 3).

Weights start random: nothing is downloaded here. (The paper started from ImageNet; a user with those weights on disk
can fine-tune from them, but the comparison in this repository is from scratch for every network, RAN included.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision import models

from ran_desktop.engine.model import RANOutput


class TwoHeadClassifier(nn.Module):
    """A torchvision backbone's pooled features -> dropout -> DR and DME heads."""

    def __init__(self, features: nn.Module, feature_dim: int, dropout: float = 0.2):
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.dr_head = nn.Linear(feature_dim, 5)
        self.dme_head = nn.Linear(feature_dim, 3)

    def forward(self, x: torch.Tensor) -> RANOutput:
        pooled = self.dropout(torch.flatten(self.pool(self.features(x)), 1))
        return RANOutput(self.dr_head(pooled), self.dme_head(pooled))


def _resnet_features(net: models.ResNet) -> nn.Module:
    return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)


def vgg16(dropout: float = 0.2) -> TwoHeadClassifier:
    return TwoHeadClassifier(models.vgg16_bn(weights=None).features, 512, dropout)


def resnet50(dropout: float = 0.2) -> TwoHeadClassifier:
    return TwoHeadClassifier(_resnet_features(models.resnet50(weights=None)), 2048, dropout)


def resnext50(dropout: float = 0.2) -> TwoHeadClassifier:
    return TwoHeadClassifier(_resnet_features(models.resnext50_32x4d(weights=None)), 2048, dropout)


def densenet121(dropout: float = 0.2) -> TwoHeadClassifier:
    net = models.densenet121(weights=None)
    return TwoHeadClassifier(nn.Sequential(net.features, nn.ReLU(inplace=True)), 1024, dropout)


def efficientnet_b0(dropout: float = 0.2) -> TwoHeadClassifier:
    return TwoHeadClassifier(models.efficientnet_b0(weights=None).features, 1280, dropout)


BASELINES: dict[str, Callable[..., TwoHeadClassifier]] = {
    "vgg16": vgg16,
    "resnet50": resnet50,
    "resnext50": resnext50,
    "densenet121": densenet121,
    "efficientnet_b0": efficientnet_b0,
}
