import cv2
import numpy as np
import pytest

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions


@pytest.fixture(scope="module")
def loaded(tiny_bundle):
    return load_bundle(tiny_bundle, device="cpu")


@pytest.fixture
def batch_folder(tmp_path, sample_path):
    """The sample, a smaller copy of it, a black frame, a file that is not an image, in a nested folder."""
    folder = tmp_path / "batch"
    (folder / "nested").mkdir(parents=True)
    image = cv2.imread(str(sample_path))
    cv2.imwrite(str(folder / "a_OD.png"), cv2.flip(image, 1))
    cv2.imwrite(str(folder / "b_black.png"), np.zeros((800, 800, 3), np.uint8))
    (folder / "c_broken.jpg").write_text("<html>not a photo</html>")
    cv2.imwrite(str(folder / "nested" / "d_OS.jpg"), cv2.resize(image, (900, 900)))
    return folder


def test_one_result_per_image_in_input_order(loaded, batch_folder):
    results = list(Screener(loaded).screen([batch_folder]))
    assert [r.path.name for r in results] == ["a_OD.png", "b_black.png", "c_broken.jpg", "d_OS.jpg"]
    a, black, broken, d = results
    for r in (a, d):
        assert r.status is Status.SCREENED
        assert len(r.dr_probs) == 5 and len(r.dme_probs) == 3
        assert sum(r.dr_probs) == pytest.approx(1, abs=1e-5) and sum(r.dme_probs) == pytest.approx(1, abs=1e-5)
        assert r.dr_grade == int(np.argmax(r.dr_probs)) and r.confidence == max(r.dr_probs)
        assert r.decision is not None and r.recommendation is not None
        assert {"load", "preprocess", "inference"} <= set(r.timings_ms)
    assert a.metadata.eye.value == "OD" and d.metadata.eye.value == "OS"
    assert black.status is Status.UNGRADABLE and black.dr_grade is None
    assert black.recommendation.outcome.value.startswith("ungradable")
    assert any("fundus" in reason for reason in black.quality.reasons)
    assert broken.status is Status.ERROR and broken.error and broken.recommendation is None
    assert all(r.model.name == loaded.manifest.name and "UNTRAINED" in r.model.warning for r in results)


def test_batched_inference_equals_one_at_a_time(loaded, batch_folder):
    batched = list(Screener(loaded, ScreeningOptions(batch_size=8)).screen([batch_folder]))
    single = list(Screener(loaded, ScreeningOptions(batch_size=1, workers=1)).screen([batch_folder]))
    for b, s in zip(batched, single, strict=True):
        assert b.key == s.key
        if b.dr_probs is not None:
            assert np.allclose(b.dr_probs, s.dr_probs, atol=1e-5)
            assert np.allclose(b.dme_probs, s.dme_probs, atol=1e-5)


def test_heatmaps_and_previews(loaded, sample_path):
    (result,) = Screener(loaded, ScreeningOptions(heatmaps=True, keep_stages=True)).screen([sample_path])
    assert result.heatmap is not None and result.heatmap.ndim == 2
    assert 0.0 <= result.heatmap.min() and result.heatmap.max() <= 1.0
    assert result.view.dtype == np.uint8 and result.view.shape[2] == 3
    assert {"original", "field_of_view", "clahe", "normalised"} <= set(result.stages)
    (plain,) = Screener(loaded).screen([sample_path])
    assert plain.heatmap is None and plain.stages is None
    assert np.allclose(plain.dr_probs, result.dr_probs, atol=1e-4)  # Grad-CAM's forward pass gives the same grade


def test_cancel_keeps_what_finished(loaded, tmp_path, sample_path):
    image = cv2.resize(cv2.imread(str(sample_path)), (600, 600))
    for i in range(40):
        cv2.imwrite(str(tmp_path / f"img{i:03d}.png"), image)
    screener = Screener(loaded, ScreeningOptions(batch_size=2, lookahead=4))
    results = []
    for result in screener.screen([tmp_path]):
        results.append(result)
        if len(results) == 3:
            screener.cancel()
    assert 3 <= len(results) < 40
    assert all(r.status is Status.SCREENED for r in results)
    assert screener.cancelled


def test_missing_path_is_a_per_file_error(loaded, tmp_path, sample_path):
    results = list(Screener(loaded).screen([tmp_path / "nope.jpg", sample_path]))
    assert results[0].status is Status.ERROR and "nope.jpg" in str(results[0].path)
    assert results[1].status is Status.SCREENED


def test_decoding_threads_follow_the_cores_and_device(loaded):
    from ran_desktop.engine.screening.screener import default_workers

    assert default_workers("cpu", 2) == 2 and default_workers("cuda", 2) == 2  # small machines keep two
    assert default_workers("cpu", 12) == 4 and default_workers("cuda", 12) == 11  # GPU: inference costs the CPU little
    assert default_workers("cuda", 64) == 12
    assert Screener(loaded).workers == default_workers("cpu")
    assert Screener(loaded, ScreeningOptions(workers=3)).workers == 3
