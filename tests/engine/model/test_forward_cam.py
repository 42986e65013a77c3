"""Heat maps from the forward pass (forward_cam.py) equal Grad-CAM's on the RAN: every DR and DME class, on the
shipped weights and a seeded tiny network, on the sample, generated photographs of every grade and IDRiD's real
photographs (where the shared data are here), and against the grad-cam package; the screener keeps batching."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from locations import REPO_ROOT
from torch import Tensor, nn

from ran_desktop.engine.imaging.heatmap import upsample_heatmap
from ran_desktop.engine.imaging.preprocess import preprocess
from ran_desktop.engine.model import build_ran
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.model.explanation import explain
from ran_desktop.engine.model.forward_cam import forward_cams, scale, supports_forward_cam
from ran_desktop.engine.model.gradcam import GradCAM
from ran_desktop.engine.screening.preparation import prepare_file
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions
from training.synthetic import generate_fundus

SHIPPED = REPO_ROOT / "models" / "ran18-real"
IDRID = REPO_ROOT.parent / "shared" / "data" / "idrid-segmentation" / "A. Segmentation" / "1. Original Images"


@pytest.fixture(scope="module")
def photographs(sample_path) -> list[np.ndarray]:
    rgbs = [cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)]
    rgbs += [generate_fundus(300 + g, dr=g, size=640, background="real" if g % 2 else "synthetic").image
             for g in range(5)]
    rgbs += [cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_4), cv2.COLOR_BGR2RGB)
             for p in sorted(IDRID.rglob("*.jpg"))[:2]]
    return rgbs


def _models(tiny_bundle) -> list:
    found = [load_bundle(tiny_bundle, device="cpu")]
    if (SHIPPED / "manifest.json").exists():
        found.append(load_bundle(SHIPPED, device="cpu"))
    return found


def _agree(ours: np.ndarray, theirs: np.ndarray) -> None:
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    if theirs.std() > 0:
        assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] >= 0.999


def test_every_class_map_equals_grad_cam(tiny_bundle, photographs):
    for loaded in _models(tiny_bundle):
        model = loaded.model
        assert supports_forward_cam(model)
        for rgb in photographs:
            x = torch.from_numpy(preprocess(rgb, loaded.preprocess_settings).tensor).unsqueeze(0)
            with torch.inference_mode():
                cams = forward_cams(model, x)
            with GradCAM(model) as cam:
                for head, classes in (("dr", 5), ("dme", 3)):
                    for k in range(classes):
                        reference = cam(x, head=head, class_index=k)
                        _agree(scale(getattr(cams, head)[0, k]), reference.heatmap)
                        torch.testing.assert_close(getattr(cams.output, head), getattr(reference, f"{head}_logits"))


class OneHead(nn.Module):
    """The RAN with a single head's logits as output, the shape the grad-cam package expects."""

    def __init__(self, model: nn.Module, head: str) -> None:
        super().__init__()
        self.model, self.head = model, head

    def forward(self, x: Tensor) -> Tensor:
        return getattr(self.model(x), self.head)


@pytest.mark.parametrize("head", ["dr", "dme"])
def test_the_maps_equal_the_grad_cam_packages(head):
    package = pytest.importorskip("pytorch_grad_cam")
    targets = pytest.importorskip("pytorch_grad_cam.utils.model_targets")
    torch.manual_seed(1)
    model = build_ran("ran18", base_width=8).eval()
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        cams = forward_cams(model, x)
    for k in range(getattr(cams, head).shape[1]):
        ours = scale(getattr(cams, head)[0, k])
        if ours.max() == 0:
            continue  # a class with no positive evidence anywhere: the package's map is then arbitrary
        with package.GradCAM(OneHead(model, head), [model.cam_layer]) as reference:
            theirs = reference(x, targets=[targets.ClassifierOutputTarget(k)])[0]
        at_input = upsample_heatmap(ours, (96, 96))
        at_input = (at_input - at_input.min()) / (at_input.max() - at_input.min())
        assert np.corrcoef(at_input.ravel(), theirs.ravel())[0, 1] > 0.99
        np.testing.assert_allclose(at_input, theirs, atol=1e-4)


def test_only_a_model_of_that_shape_in_eval_mode_qualifies():
    model = build_ran("ran18", base_width=8)
    assert not supports_forward_cam(model)  # training mode: dropout is not the identity
    assert supports_forward_cam(model.eval())
    assert not supports_forward_cam(nn.Sequential(model))


def test_explain_gives_the_map_grad_cam_gives(tiny_bundle, photographs):
    loaded = load_bundle(tiny_bundle, device="cpu")
    tensor = preprocess(photographs[3], loaded.preprocess_settings).tensor
    explained = explain(loaded, tensor, head="dme", class_index=2)
    with GradCAM(loaded.model) as cam:
        reference = cam(torch.from_numpy(tensor).unsqueeze(0), head="dme", class_index=2)
    _agree(explained.heatmap, reference.heatmap)
    assert explained.class_index == 2 and len(explained.probs) == 3
    with pytest.raises(ValueError, match="out of range"):
        explain(loaded, tensor, head="dme", class_index=3)


def test_the_screener_keeps_batches_with_heat_maps_on(tiny_bundle, sample_path, tmp_path):
    loaded = load_bundle(tiny_bundle, device="cpu")
    files = []
    for i in range(6):
        files.append(tmp_path / f"eye{i}.jpg")
        files[-1].write_bytes(Path(sample_path).read_bytes() + bytes([i]))
    passes = []
    hook = loaded.model.dilated.register_forward_hook(lambda module, inputs, output: passes.append(output.shape[0]))
    try:
        screener = Screener(loaded, ScreeningOptions(batch_size=3, heatmaps=True))
        results = list(screener.screen_files(files))
    finally:
        hook.remove()
    assert passes == [3, 3]  # two batched passes, no backward pass per image
    for result in results:
        reference = explain(loaded, prepare_file(result.path, screener._plan)[0].tensor)  # as the screener saw it
        assert result.heatmap.shape == reference.heatmap.shape
        _agree(result.heatmap, reference.heatmap)
