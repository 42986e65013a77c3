"""The RAN network: the paper's shapes at full width, its attention blocks, and that it trains."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torchvision
from torch import Tensor, nn

from ran_desktop.engine.model import (
    RAN,
    VARIANTS,
    BasicBlock,
    ChannelAttention,
    DilatedConvModule,
    FocalLoss,
    RANOutput,
    ResidualAttentionModule,
    build_ran,
    ran18,
    ran50,
    soft_mask_depth,
)

TINY = 8  # base width of the fast test variants (full width is 64)


def tiny(variant: str = "ran18", seed: int = 0, **kwargs: Any) -> RAN:
    torch.manual_seed(seed)
    return build_ran(variant, base_width=TINY, **kwargs)


class Recorder:
    """Records the input and output shapes of a module's forward calls while registered."""

    def __init__(self, module: nn.Module) -> None:
        self.inputs: list[torch.Size] = []
        self.outputs: list[torch.Size] = []
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        self.inputs.append(inputs[0].shape)
        self.outputs.append(output.shape)


def test_full_width_ran18_has_the_papers_shapes_at_224() -> None:
    torch.manual_seed(0)
    model = ran18().eval()
    dilated = Recorder(model.dilated)
    concat = Recorder(model.dilated.project[0])
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 224, 224))

    assert dilated.inputs == [torch.Size([1, 512, 14, 14])]
    assert model.dilated.concat_channels == 1792
    assert concat.inputs == [torch.Size([1, 1792, 14, 14])]  # 5 x 256 branches + the 512 input
    assert dilated.outputs == [torch.Size([1, 512, 14, 14])]
    assert isinstance(out, RANOutput)
    assert out.dr.shape == (1, 5) and out.dme.shape == (1, 3)
    for logits in out:
        probs = torch.softmax(logits, dim=1)
        assert (probs >= 0).all()
        assert torch.allclose(probs.sum(dim=1), torch.ones(1))


def test_dilated_module_branches_follow_the_spec() -> None:
    module = DilatedConvModule()
    convs = [module.pointwise[0], *(branch[0] for branch in module.dilated), module.image_pool.conv]
    assert [conv.out_channels for conv in convs] == [256] * 5
    assert [conv.in_channels for conv in convs] == [512] * 5
    assert [conv.kernel_size for conv in convs] == [(1, 1), (3, 3), (3, 3), (3, 3), (1, 1)]
    assert [conv.dilation for conv in convs[1:4]] == [(2, 2), (3, 3), (5, 5)]
    assert [conv.padding for conv in convs[1:4]] == [(2, 2), (3, 3), (5, 5)]
    assert module.project[0].in_channels == 1792 and module.project[0].out_channels == 512
    assert isinstance(module.project[1], nn.BatchNorm2d) and isinstance(module.project[2], nn.ReLU)


def test_dilated_module_trains_on_a_batch_of_one() -> None:
    # BatchNorm after the pooled branch's 1x1 map would raise here (one value per channel).
    torch.manual_seed(0)
    module = DilatedConvModule(16, 8, 12).train()
    out = module(torch.randn(1, 16, 7, 5))
    assert out.shape == (1, 12, 7, 5)
    out.mean().backward()
    assert module.image_pool.conv.weight.grad is not None


def test_full_width_ran50_reduces_2048_channels_to_512() -> None:
    torch.manual_seed(0)
    model = ran50().eval()
    reduce = Recorder(model.reduce)
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 64, 64))
    assert reduce.inputs == [torch.Size([1, 2048, 4, 4])]
    assert reduce.outputs == [torch.Size([1, 512, 4, 4])]
    assert model.dilated.pointwise[0].in_channels == 512
    assert out.dr.shape == (1, 5) and out.dme.shape == (1, 3)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_builds_and_runs(variant: str) -> None:
    model = tiny(variant).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.dr.shape == (2, 5) and out.dme.shape == (2, 3)
    assert torch.isfinite(out.dr).all() and torch.isfinite(out.dme).all()
    assert isinstance(model.reduce, nn.Identity) == (variant != "ran50")


@pytest.mark.parametrize(("size", "feature_size"), [(320, 20), (200, 13), (48, 3)])
def test_other_input_sizes_run(size: int, feature_size: int) -> None:
    model = tiny().eval()
    dilated = Recorder(model.dilated)
    with torch.inference_mode():
        out = model(torch.randn(1, 3, size, size))
    assert dilated.inputs == [torch.Size([1, 8 * TINY, feature_size, feature_size])]
    assert out.dr.shape == (1, 5)


def test_base_width_scales_every_channel_count() -> None:
    model = tiny()
    assert model.conv1.out_channels == TINY
    assert model.layer4[-1].conv2.out_channels == 8 * TINY
    assert model.dilated.pointwise[0].out_channels == 4 * TINY
    assert model.dilated.concat_channels == 5 * 4 * TINY + 8 * TINY
    assert model.dr_head.in_features == model.dme_head.in_features == 8 * TINY


def test_last_stage_is_dilated_not_strided() -> None:
    model = tiny()
    strides = [m.stride for m in model.layer4.modules() if isinstance(m, nn.Conv2d)]
    assert set(strides) == {(1, 1)}
    assert model.layer4[-1].conv1.dilation == (2, 2)


def test_channel_attention_rescales_whole_channels() -> None:
    torch.manual_seed(0)
    agm = ChannelAttention(64, reduction=16)
    assert agm.hidden_channels == 4 and agm.squeeze.out_channels == 4 and agm.excite.out_channels == 64
    x = torch.rand(2, 64, 5, 6) + 0.1
    ratio = agm(x) / x
    per_channel = ratio[..., :1, :1]
    assert torch.allclose(ratio, per_channel.expand_as(ratio), atol=1e-6)  # one factor per channel
    assert ((ratio > 0) & (ratio < 1)).all()
    assert ratio.flatten(1).std(dim=1).min() > 0  # and the factors differ between channels
    assert ChannelAttention(8, reduction=16).hidden_channels == 1


def test_residual_attention_module_outputs_one_plus_mask_times_trunk() -> None:
    torch.manual_seed(0)
    module = ResidualAttentionModule(16, lambda c: BasicBlock(c, c), mask_depth=2).eval()
    seen: dict[str, Tensor] = {}
    module.trunk.register_forward_hook(lambda m, i, o: seen.__setitem__("trunk", o))
    module.mask.register_forward_hook(lambda m, i, o: seen.__setitem__("mask", o))
    x = torch.randn(2, 16, 13, 11)  # odd sizes: the mask's upsampling must land exactly on them
    with torch.inference_mode():
        out = module(x)
    trunk, mask = seen["trunk"], seen["mask"]
    assert out.shape == trunk.shape == mask.shape == x.shape
    assert ((mask > 0) & (mask < 1)).all()
    assert torch.allclose(out, (1 + mask) * trunk)
    assert not torch.allclose(out, trunk)


def test_soft_mask_depth_adapts_to_the_resolution() -> None:
    assert [soft_mask_depth(s) for s in (112, 56, 28, 14, 7, 3)] == [4, 3, 2, 1, 1, 1]
    model = tiny()
    depths = [len(stage[0].mask.down) for stage in (model.attention1, model.attention2, model.attention3)]
    assert depths == [3, 2, 1]  # 56, 28 and 14 maps of a 224 input, each pooled down to 7
    deeper = tiny(nominal_input_size=448)
    assert len(deeper.attention1[0].mask.down) == 4


def test_attention_module_counts_per_stage() -> None:
    model = tiny(attention_modules=[2, 0, 1])  # a list, as it comes back from a JSON manifest
    assert [len(s) for s in (model.attention1, model.attention2, model.attention3)] == [2, 0, 1]
    with torch.inference_mode():
        assert model.eval()(torch.randn(1, 3, 64, 64)).dr.shape == (1, 5)


def test_a_few_adam_steps_lower_the_loss() -> None:
    model = tiny(dropout=0.0).train()
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 64, 64, generator=generator)
    dr = torch.tensor([0, 2, 4, 1])
    dme = torch.tensor([0, -1, 2, 1])  # one image without a DME label
    loss_fn = FocalLoss(gamma=2.0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        out = model(x)
        loss = loss_fn(out.dr, dr) + loss_fn(out.dme, dme)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_same_seed_gives_the_same_model_and_outputs() -> None:
    a, b, c = tiny(seed=3).eval(), tiny(seed=3).eval(), tiny(seed=4).eval()
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(a(x).dr, b(x).dr) and torch.equal(a(x).dme, b(x).dme)
        assert not torch.allclose(a(x).dr, c(x).dr)


def test_encoder_takes_torchvision_resnet_weights() -> None:
    model = ran18()
    source = {k: v for k, v in torchvision.models.resnet18(weights=None).state_dict().items() if "fc." not in k}
    result = model.load_state_dict(source, strict=False)
    assert result.unexpected_keys == []
    assert not [k for k in result.missing_keys if k.startswith(("conv1.", "bn1.", "layer"))]
    assert torch.equal(model.layer4[1].conv2.weight, source["layer4.1.conv2.weight"])


def test_cam_layer_is_the_dilated_module() -> None:
    model = tiny()
    assert model.cam_layer is model.dilated


def test_unknown_variant_raises_value_error_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="ran18, ran34, ran50"):
        build_ran("ran101")


@pytest.mark.parametrize(
    "kwargs",
    [{"layers": (2, 2, 2)}, {"attention_modules": (1, 1)}, {"attention_modules": (1, -1, 1)}, {"dropout": 1.0}],
)
def test_bad_configuration_raises_value_error(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"block": BasicBlock, "layers": (2, 2, 2, 2), "base_width": TINY} | kwargs
    with pytest.raises(ValueError):
        RAN(**arguments)
