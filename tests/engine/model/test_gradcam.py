"""Grad-CAM: agrees with an independent implementation (the grad-cam package), leaves the model as it found it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from ran_desktop.engine.imaging.heatmap import overlay_heatmap, upsample_heatmap
from ran_desktop.engine.model import RAN, build_ran
from ran_desktop.engine.model.gradcam import GradCAM

SIZE = 96  # a 6x6 map at the dilated module


def tiny_model(seed: int = 0) -> RAN:
    torch.manual_seed(seed)
    return build_ran("ran18", base_width=8).eval()


def image(seed: int = 0, batch: int = 1) -> Tensor:
    return torch.randn(batch, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


class OneHead(nn.Module):
    """The RAN with a single head's logits as output, the shape of model grad-cam expects."""

    def __init__(self, model: RAN, head: str) -> None:
        super().__init__()
        self.model = model
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        return getattr(self.model(x), self.head)


def min_max(a: np.ndarray) -> np.ndarray:
    return (a - a.min()) / (a.max() - a.min())


@pytest.mark.parametrize(("head", "rank"), [("dr", 0), ("dme", 0), ("dr", 1), ("dme", 1)])
def test_matches_the_grad_cam_package(head: str, rank: int) -> None:
    package = pytest.importorskip("pytorch_grad_cam")
    targets = pytest.importorskip("pytorch_grad_cam.utils.model_targets")
    model, x = tiny_model(), image()
    with GradCAM(model) as cam:
        logits = getattr(cam(x, head=head), f"{head}_logits")[0]
        class_index = int(logits.argsort(descending=True)[rank])  # rank 1: a class the model did not predict
        ours = cam(x, head=head, class_index=class_index)
    assert ours.heatmap.shape == (SIZE // 16, SIZE // 16)
    assert ours.heatmap.max() == 1.0  # not a degenerate (all-zero) map, which would correlate with anything

    with package.GradCAM(OneHead(model, head), [model.cam_layer]) as reference:
        theirs = reference(x, targets=[targets.ClassifierOutputTarget(class_index)])[0]
    # The package resizes to the input with the same bilinear filter and min-max scales after resizing.
    ours_at_input = min_max(upsample_heatmap(ours.heatmap, (SIZE, SIZE)))
    assert theirs.shape == ours_at_input.shape
    assert np.corrcoef(ours_at_input.ravel(), theirs.ravel())[0, 1] > 0.99
    np.testing.assert_allclose(ours_at_input, theirs, atol=1e-4)


def test_default_class_is_the_prediction_and_logits_are_the_models() -> None:
    model, x = tiny_model(), image()
    with torch.inference_mode():
        expected = model(x)
    with GradCAM(model) as cam:
        result = cam(x, head="dme")
    assert result.head == "dme"
    assert result.class_index == int(expected.dme.argmax())
    torch.testing.assert_close(result.dr_logits, expected.dr)
    torch.testing.assert_close(result.dme_logits, expected.dme)
    assert result.heatmap.dtype == np.float32
    assert result.heatmap.min() >= 0.0 and result.heatmap.max() <= 1.0


def test_hooks_are_removed_and_parameter_grads_untouched() -> None:
    model, x = tiny_model(), image()
    layer = model.cam_layer
    with GradCAM(model) as cam:
        assert len(layer._forward_hooks) == 1
        cam(x, head="dr")
        cam(x, head="dme", class_index=0)
    for module in model.modules():
        assert not module._forward_hooks and not module._backward_hooks and not module._forward_pre_hooks
    assert all(p.grad is None for p in model.parameters())


def test_hooks_are_removed_when_the_block_raises() -> None:
    model = tiny_model()
    with pytest.raises(ValueError), GradCAM(model) as cam:
        cam(image(), head="dr", class_index=5)  # DR has classes 0-4
    assert not model.cam_layer._forward_hooks


def test_frozen_parameters_and_inference_mode_give_the_same_map() -> None:
    model, x = tiny_model(), image()
    with GradCAM(model) as cam:
        free = cam(x).heatmap
    model.requires_grad_(False)
    with torch.inference_mode(), GradCAM(model) as cam:
        frozen = cam(x).heatmap
    np.testing.assert_array_equal(frozen, free)


def test_a_batch_gives_each_images_own_map() -> None:
    model, x = tiny_model(), image(batch=2)
    with GradCAM(model) as cam:
        both = cam(x, head="dr")
        singles = [cam(x[i : i + 1], head="dr") for i in range(2)]
    assert both.heatmaps.shape == (2, SIZE // 16, SIZE // 16)
    assert both.class_indices == tuple(s.class_index for s in singles)
    for i, single in enumerate(singles):
        np.testing.assert_allclose(both.heatmaps[i], single.heatmap, atol=1e-5)
    assert not np.allclose(both.heatmaps[0], both.heatmaps[1])
    with pytest.raises(ValueError):
        both.heatmap  # noqa: B018 - ambiguous for a batch


def test_needs_the_with_block_and_a_known_head() -> None:
    model = tiny_model()
    with pytest.raises(RuntimeError):
        GradCAM(model)(image())
    with GradCAM(model) as cam, pytest.raises(ValueError):
        cam(image(), head="glaucoma")


def test_upsample_heatmap_takes_width_then_height() -> None:
    heat = np.array([[0.0, 1.0], [0.5, 0.25]], dtype=np.float32)
    big = upsample_heatmap(heat, (30, 20))
    assert big.shape == (20, 30) and big.dtype == np.float32
    assert big[0, -1] == pytest.approx(1.0) and big[0, 0] == pytest.approx(0.0)


def test_overlay_shape_dtype_and_opacity() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    heat = rng.random((5, 6)).astype(np.float32)
    out = overlay_heatmap(rgb, heat)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert not np.array_equal(out, rgb)
    np.testing.assert_array_equal(overlay_heatmap(rgb, heat, opacity=0.0), rgb)


def test_overlay_colours_are_rgb() -> None:
    grey = np.full((4, 4, 3), 128, dtype=np.uint8)
    hot = overlay_heatmap(grey, np.ones((4, 4), np.float32), opacity=1.0)
    cold = overlay_heatmap(grey, np.zeros((4, 4), np.float32), opacity=1.0)
    assert hot[0, 0, 0] > 100 and hot[0, 0, 2] == 0  # the jet map's top is dark red
    assert cold[0, 0, 2] > 100 and cold[0, 0, 0] == 0  # and its bottom dark blue


def test_heatmap_on_photo_lands_where_the_crop_came_from(sample_path):
    import cv2

    from ran_desktop.engine.imaging.heatmap import heatmap_on_photo
    from ran_desktop.engine.imaging.preprocess import crop_to_fov, detect_fov, fov_square

    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    rgb = np.ascontiguousarray(rgb[150:1250])  # clip the disc top and bottom, as many cameras do
    fov = detect_fov(rgb)
    heat = np.zeros((14, 14), np.float32)
    heat[3, 10] = 1.0  # one hot spot, up and to the right
    on_photo = heatmap_on_photo(heat, fov_square(fov), (rgb.shape[1], rgb.shape[0]))
    assert on_photo.shape == rgb.shape[:2]
    # Cropping the placed map the way the model's input was cropped gives the model-resolution map back.
    as_image = np.repeat((on_photo * 255).astype(np.uint8)[..., None], 3, axis=2)
    recropped = cv2.resize(crop_to_fov(as_image, fov)[..., 0], (14, 14), interpolation=cv2.INTER_AREA)
    assert np.unravel_index(np.argmax(recropped), recropped.shape) == (3, 10)
    x0, y0, side = fov_square(fov)
    peak_y, peak_x = np.unravel_index(np.argmax(on_photo), on_photo.shape)
    assert abs(peak_x - (x0 + side * 10.5 / 14)) < side / 14 and abs(peak_y - (y0 + side * 3.5 / 14)) < side / 14


def test_one_opacity_for_every_overlay():
    """The window's slider, the reports and the CLI start from the same opacity (engine.imaging.views.HEAT_OPACITY)."""
    import inspect

    from ran_desktop.engine.imaging.heatmap import HEAT_OPACITY
    from ran_desktop.reports.context import ReportContext
    from ran_desktop.reports.pictures import record_pictures

    assert overlay_heatmap.__defaults__[0] == HEAT_OPACITY == ReportContext().heat_opacity
    assert inspect.signature(record_pictures).parameters["opacity"].default == HEAT_OPACITY


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_the_windows_heat_map_explains_the_probabilities_the_screener_gave(hesitant_bundle, sample_path, tmp_path,
                                                                          suffix):
    """The detail view decodes the photograph larger for display; its Grad-CAM still runs on the photograph as the
    screener decoded it, so the caption's probability is the bar's beside it (and the report's)."""
    import cv2

    from ran_desktop.engine.imaging.preview import make_preview
    from ran_desktop.engine.model.bundle import load_bundle
    from ran_desktop.engine.model.explanation import explain
    from ran_desktop.engine.screening.screener import Screener

    path = tmp_path / f"photo{suffix}"
    cv2.imwrite(str(path), cv2.imread(str(sample_path)))
    loaded = load_bundle(hesitant_bundle, device="cpu")
    (result,) = Screener(loaded).screen([path])
    preview = make_preview(result.key, path, None, loaded.preprocess_settings, result.metadata.content_sha256)
    explained = explain(loaded, preview.tensor, head="dr")
    assert np.allclose(explained.probs, result.dr_probs, atol=1e-5)
