"""Focal loss: cross entropy at gamma 0, down-weights easy examples above it, survives all-ignored batches."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ran_desktop.engine.model import FocalLoss


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(12, 5, generator=generator) * 3
    target = torch.randint(0, 5, (12,), generator=generator)
    return logits, target


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gamma_zero_is_cross_entropy(reduction: str) -> None:
    logits, target = batch()
    expected = F.cross_entropy(logits, target, reduction=reduction)
    actual = FocalLoss(gamma=0.0, reduction=reduction)(logits, target)
    torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gamma_zero_is_cross_entropy_with_weights_and_ignored_targets(reduction: str) -> None:
    logits, target = batch(1)
    target[[1, 4, 7]] = -1
    weight = torch.tensor([0.2, 1.0, 2.5, 4.0, 0.7])
    expected = F.cross_entropy(logits, target, weight=weight, ignore_index=-1, reduction=reduction)
    actual = FocalLoss(gamma=0.0, weight=weight, ignore_index=-1, reduction=reduction)(logits, target)
    torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-6)


def test_gamma_zero_gradient_is_cross_entropys() -> None:
    logits, target = batch(2)
    target[0] = 7
    a = logits.clone().requires_grad_(True)
    b = logits.clone().requires_grad_(True)
    F.cross_entropy(a, target, ignore_index=7).backward()
    FocalLoss(gamma=0.0, ignore_index=7)(b, target).backward()
    torch.testing.assert_close(b.grad, a.grad)


def test_focal_loss_is_smaller_than_cross_entropy_for_confident_correct_predictions() -> None:
    target = torch.tensor([0, 1, 2])
    logits = torch.full((3, 3), -2.0)
    logits[torch.arange(3), target] = 4.0  # p_t about 0.995
    ce = F.cross_entropy(logits, target, reduction="none")
    focal = FocalLoss(gamma=2.0, reduction="none")(logits, target)
    assert (focal < ce * 1e-3).all()  # (1 - p_t)^2 is about 6e-6
    assert (focal > 0).all()


def test_focal_loss_down_weights_easy_examples_more_than_hard_ones() -> None:
    target = torch.tensor([0, 0])
    logits = torch.tensor([[3.0, 0.0], [-1.0, 0.0]])  # first easy, second hard
    ratio = FocalLoss(gamma=2.0, reduction="none")(logits, target) / F.cross_entropy(logits, target, reduction="none")
    assert ratio[0] < 0.01 < 0.5 < ratio[1]


@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_batch_gives_zero_and_a_finite_gradient(weighted: bool) -> None:
    logits = torch.randn(4, 3, requires_grad=True)
    target = torch.full((4,), -1)
    weight = torch.tensor([1.0, 2.0, 3.0]) if weighted else None
    loss = FocalLoss(gamma=2.0, weight=weight)(logits, target)
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and torch.equal(logits.grad, torch.zeros_like(logits))


def test_matches_a_hand_computed_value() -> None:
    logits = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0], [5.0, 1.0]])  # p_t = 0.75 and 0.5; third ignored
    target = torch.tensor([0, 1, -1])
    weight = torch.tensor([2.0, 1.0])
    first = -((1 - 0.75) ** 2) * math.log(0.75)
    second = -((1 - 0.5) ** 2) * math.log(0.5)
    expected = (2.0 * first + 1.0 * second) / (2.0 + 1.0)
    actual = FocalLoss(gamma=2.0, weight=weight)(logits, target)
    assert actual.item() == pytest.approx(expected, rel=1e-6)
    unweighted_sum = FocalLoss(gamma=2.0, reduction="sum")(logits, target)
    assert unweighted_sum.item() == pytest.approx(first + second, rel=1e-6)


def test_fractional_gamma_has_a_finite_gradient_at_certainty() -> None:
    logits = torch.tensor([[200.0, 0.0]], requires_grad=True)  # p_t rounds to exactly 1
    FocalLoss(gamma=0.5)(logits, torch.tensor([0])).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_works_on_per_pixel_logits() -> None:
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 4, 3, 3, generator=generator)
    target = torch.randint(0, 4, (2, 3, 3), generator=generator)
    torch.testing.assert_close(FocalLoss(gamma=0.0)(logits, target), F.cross_entropy(logits, target))


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        FocalLoss(gamma=-1.0)
    with pytest.raises(ValueError):
        FocalLoss(reduction="average")


def test_class_weights_follow_the_module_to_a_dtype() -> None:
    loss = FocalLoss(weight=torch.tensor([1.0, 2.0])).double()
    assert loss.weight is not None and loss.weight.dtype == torch.float64
    value = loss(torch.zeros(1, 2, dtype=torch.float64), torch.tensor([1]))
    assert value.dtype == torch.float64
