"""The quality gate on the real sample photograph and copies of it degraded here."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from ran_desktop.engine.imaging.preprocess import detect_fov
from ran_desktop.engine.imaging.quality import (
    DEFAULT_THRESHOLDS,
    NO_FUNDUS_REASON,
    QualityReport,
    QualityThresholds,
    assess_quality,
)

FULL = (1411, 1411)


@pytest.fixture(scope="module")
def sample(sample_path: Path) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(sample_path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    rgb.flags.writeable = False
    return rgb


@pytest.fixture(scope="module")
def sample_report(sample) -> QualityReport:
    return assess_quality(sample, detect_fov(sample), FULL)


def judge(rgb: np.ndarray, original_size: tuple[int, int] | None = None, **thresholds: float) -> QualityReport:
    size = original_size or (rgb.shape[1], rgb.shape[0])
    return assess_quality(rgb, detect_fov(rgb), size, QualityThresholds(**thresholds))


def kinds(report: QualityReport) -> set[str]:
    """The reasons' leading words ("out of focus", "too dark", ...), without the numbers."""
    return {reason.split(" (")[0] for reason in report.reasons}


def scaled(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def test_real_sample_is_gradable(sample_report):
    assert sample_report.gradable and sample_report.reasons == ()
    assert set(sample_report.scores) >= {
        "fov_found", "fov_fraction", "fov_diameter_px", "brightness",
        "overexposed_fraction", "sharpness", "contrast",
    }  # fmt: skip
    assert sample_report.scores["fov_found"] == 1.0
    assert 1330 < sample_report.scores["fov_diameter_px"] < 1411


def test_blurred_copy_is_out_of_focus(sample, sample_report):
    report = judge(cv2.GaussianBlur(sample, (0, 0), 8), FULL)
    assert not report.gradable and kinds(report) == {"out of focus"}
    assert report.scores["sharpness"] < 0.5 * sample_report.scores["sharpness"]


def test_darkened_copy_is_too_dark(sample):
    report = judge(scaled(sample, 0.15), FULL)
    assert not report.gradable and kinds(report) == {"too dark"}


def test_saturated_copy_is_overexposed(sample):
    report = judge(scaled(sample, 3.0), FULL)
    assert not report.gradable and "overexposed" in kinds(report)
    assert report.scores["overexposed_fraction"] > 0.1


def test_hazy_copy_has_low_contrast(sample):
    disc = sample.max(axis=2, keepdims=True) > 50
    mean = sample[disc[..., 0]].mean(axis=0)
    hazy = np.where(disc, 0.2 * sample + 0.8 * mean, sample).astype(np.uint8)
    report = judge(hazy, FULL)
    assert not report.gradable and kinds(report) == {"low contrast"}


@pytest.mark.parametrize("name", ["black", "astronaut", "coffee"])
def test_non_fundus_images_are_ungradable(name):
    rgb = {"black": lambda: np.zeros((900, 1200, 3), np.uint8), "astronaut": data.astronaut, "coffee": data.coffee}[
        name
    ]()
    report = judge(rgb)
    assert not report.gradable and report.reasons == (NO_FUNDUS_REASON,)
    assert report.scores["fov_found"] == 0.0
    assert all(np.isfinite(v) for v in report.scores.values())


def test_tiny_copy_is_too_small(sample):
    tiny = cv2.resize(sample, (150, 150), interpolation=cv2.INTER_AREA)
    report = judge(tiny, (150, 150))
    assert not report.gradable and "too small" in kinds(report)
    assert report.scores["fov_diameter_px"] < 160


def test_small_disc_in_a_big_frame_is_flagged(sample):
    small = cv2.resize(sample, (400, 400), interpolation=cv2.INTER_AREA)
    framed = cv2.copyMakeBorder(small, 300, 300, 500, 500, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    report = judge(framed)
    assert not report.gradable and kinds(report) == {"field of view fills too little of the frame"}


def test_half_size_decode_of_full_file_stays_gradable(sample, sample_report):
    half = cv2.resize(sample, (706, 706), interpolation=cv2.INTER_AREA)
    report = judge(half, FULL)
    assert report.gradable, report.reasons
    full = sample_report.scores
    assert report.scores["fov_diameter_px"] == pytest.approx(full["fov_diameter_px"], rel=0.01)
    assert report.scores["sharpness"] == pytest.approx(full["sharpness"], rel=0.1)
    assert report.scores["brightness"] == pytest.approx(full["brightness"], abs=2)
    # The same pixels believed to be the whole file are too small to grade.
    assert judge(cv2.resize(sample, (250, 250), interpolation=cv2.INTER_AREA), (250, 250)).gradable is False


def test_disc_clipped_top_and_bottom_stays_gradable(sample):
    cut = np.ascontiguousarray(sample[250:1161])
    report = judge(cut)
    assert report.gradable, report.reasons


def test_thresholds_decide_the_verdict(sample):
    report = judge(sample, FULL, min_sharpness=2.0, max_brightness=100.0)
    assert kinds(report) == {"out of focus", "too bright"}


def test_report_serialises_to_json(sample_report):
    restored = json.loads(json.dumps(sample_report.to_dict()))
    assert restored["gradable"] is True and restored["reasons"] == []
    assert restored["scores"]["sharpness"] == pytest.approx(sample_report.scores["sharpness"])


def test_thresholds_round_trip_and_reject_unknown_keys():
    custom = QualityThresholds(min_brightness=30, min_sharpness=0.6)
    assert QualityThresholds.from_dict(json.loads(json.dumps(custom.to_dict()))) == custom
    assert QualityThresholds.from_dict({}) == DEFAULT_THRESHOLDS
    with pytest.raises(ValueError):
        QualityThresholds.from_dict({"min_blur": 1.0})
    with pytest.raises(ValueError):
        QualityThresholds.from_dict({"min_brightness": "dark"})


def test_field_of_view_must_belong_to_the_image(sample):
    with pytest.raises(ValueError):
        assess_quality(sample, detect_fov(data.coffee()), FULL)
    with pytest.raises(ValueError):
        assess_quality(sample, detect_fov(sample), (0, 1411))


@pytest.mark.parametrize("crop", [None, (slice(200, 1200), slice(None))], ids=["whole", "clipped-disc"])
def test_reusing_preprocessings_square_gives_the_same_report(sample, crop):
    """The screener hands over the square preprocessing already cut; the verdict must not depend on who cut it."""
    from ran_desktop.engine.imaging.preprocess import crop_to_fov

    rgb = sample if crop is None else np.ascontiguousarray(sample[crop])
    fov = detect_fov(rgb)
    size = (rgb.shape[1], rgb.shape[0])
    own = assess_quality(rgb, fov, size)
    given = assess_quality(rgb, fov, size, square=crop_to_fov(rgb, fov))
    assert given.scores == own.scores and given.reasons == own.reasons
    # A square of the wrong size (another margin) is not trusted: the gate cuts its own.
    wrong = assess_quality(rgb, fov, size, square=np.zeros((50, 50, 3), np.uint8))
    assert wrong.scores == own.scores


def test_scores_match_a_direct_masked_measurement(sample):
    """Brightness, contrast and saturation from OpenCV's masked statistics equal plain numpy over the interior."""
    from ran_desktop.engine.imaging import quality

    fov = detect_fov(sample)
    report = assess_quality(scaled(sample, 2.4), fov, FULL)
    lum, key = quality._measurement_square(scaled(sample, 2.4), fov, None)
    inside = lum[quality._interior(key)[0].astype(bool)].astype(np.float64)
    assert report.scores["brightness"] == pytest.approx(float(inside.mean()), rel=1e-9)
    assert report.scores["contrast"] == pytest.approx(float(inside.std()) / float(inside.mean()), rel=1e-9)
    assert report.scores["overexposed_fraction"] == pytest.approx(float(np.mean(inside >= 250)), rel=1e-12)
    assert report.scores["overexposed_fraction"] > 0.01  # the check saw saturated pixels at all


def test_a_dark_crescent_is_not_defocus_but_blur_under_it_still_is(sample):
    """A crescent's soft dark edge is medium detail without fine detail: measured over the whole disc it read as
    defocus (real photographs with a crescent were called out of focus). Sharpness is judged where the retina is lit."""
    from training.quality_eval import crescent, defocus

    shaded = crescent(sample)
    report = judge(shaded)
    assert report.gradable, report.reasons
    assert report.scores["sharpness"] > 0.7  # the lit retina is nearly as sharp as the whole sample (0.85)
    blurred = judge(crescent(defocus(sample)))
    assert not blurred.gradable and "out of focus" in kinds(blurred)


def test_a_pale_well_exposed_fundus_is_not_too_bright(sample):
    """A lightly pigmented fundus scores a mean above the old ceiling of 200; its retina is not washed out."""
    from training.quality_eval import pale

    report = judge(pale(sample), FULL)
    assert report.scores["brightness"] > 200 and report.scores["overexposed_fraction"] < 0.05
    assert report.gradable, report.reasons


def test_a_deep_shadow_keeps_the_field_of_view_and_its_sharpness(sample):
    from training.quality_eval import shade

    shadowed = shade(sample, 0.5, 0.15)
    fov, whole = detect_fov(shadowed), detect_fov(sample)
    assert fov.found and abs(fov.radius - whole.radius) < 0.02 * whole.radius
    report = judge(shadowed, FULL)
    assert report.gradable, report.reasons
    assert report.scores["sharpness"] > 0.8 * judge(sample, FULL).scores["sharpness"]


def test_vessel_contrast_ignores_exposure_but_not_haze(sample):
    """Dimming the photograph does not hide its vessels; a hazy lens does."""
    from training.quality_eval import hazy_lens

    clear = judge(sample, FULL).scores["vessel_contrast"]
    assert judge(scaled(sample, 0.4), FULL).scores["vessel_contrast"] == pytest.approx(clear, rel=0.1)
    assert judge(hazy_lens(sample, 0.2), FULL).scores["vessel_contrast"] < 0.3 * clear
