"""Preprocessing on the real sample photograph, copies of it altered here, and images drawn here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from ran_desktop.engine.imaging.preprocess import (
    DEFAULT_SETTINGS,
    PreprocessSettings,
    apply_clahe,
    crop_to_fov,
    detect_fov,
    draw_fov,
    fov_square,
    preprocess,
    resize_square,
    standardise,
    to_display,
)


@pytest.fixture(scope="module")
def sample(sample_path: Path) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(sample_path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    rgb.flags.writeable = False  # any function that writes into its input fails loudly
    return rgb


def drawn_fundus(width: int, height: int, cx: int, cy: int, r: int, seed: int = 0) -> np.ndarray:
    """An orange disc with dark 'vessels', vignetting and sensor noise, on a noisy near-black surround."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    d = np.hypot(xx - cx, yy - cy) / r
    inside = d <= 1.0
    shade = 1.0 - 0.35 * d**2  # vignetting: darker towards the rim
    for k, level in enumerate((200.0, 95.0, 45.0)):
        img[..., k] = np.where(inside, level * shade, 3.0)
    for i in range(6):  # vessels radiating from an off-centre 'optic disc'
        angle = i * np.pi / 3 + 0.2
        end = (int(cx + 0.9 * r * np.cos(angle)), int(cy + 0.9 * r * np.sin(angle)))
        cv2.line(img, (cx - r // 3, cy), end, (120.0, 40.0, 20.0), max(2, r // 60))
    img[~inside] = 3.0
    img += rng.normal(0.0, 2.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


# --- field of view --------------------------------------------------------------------------------------


def test_fov_on_real_sample_is_the_nearly_full_disc(sample):
    fov = detect_fov(sample)
    assert fov.found
    cx, cy = fov.center
    assert abs(cx - 705) < 15 and abs(cy - 705) < 15
    assert 0.95 * 1411 < 2 * fov.radius < 1.0 * 1411  # the disc nearly fills the square
    assert fov.mask.shape == sample.shape[:2] and fov.mask.dtype == bool
    assert fov.area_fraction == pytest.approx(fov.mask.mean(), abs=1e-9)
    assert fov.area_fraction == pytest.approx(np.pi * fov.radius**2 / 1411**2, rel=0.01)
    x0, y0, x1, y1 = fov.bbox
    assert 0 <= x0 < 30 and 0 <= y0 < 30 and 1381 < x1 <= 1411 and 1381 < y1 <= 1411
    assert not fov.mask[0, 0] and fov.mask[705, 705]


@pytest.mark.parametrize(
    ("width", "height", "cx", "cy", "r"),
    [(1200, 900, 610, 440, 380), (800, 800, 300, 420, 250), (2000, 1500, 1000, 750, 720)],
)
def test_fov_recovers_a_drawn_disc(width, height, cx, cy, r):
    fov = detect_fov(drawn_fundus(width, height, cx, cy, r))
    assert fov.found
    # Sub-pixel: the work copy's grid (up to 4x coarser) is mapped back exactly.
    assert fov.center[0] == pytest.approx(cx, abs=0.5)
    assert fov.center[1] == pytest.approx(cy, abs=0.5)
    assert fov.radius == pytest.approx(r + 0.5, rel=0.005)  # a drawn disc's edge lies half a pixel out


def test_fov_of_disc_clipped_top_and_bottom():
    # Circle 1400 px wide in a 1000 px tall frame, as many cameras store it.
    fov = detect_fov(drawn_fundus(1500, 1000, 760, 500, 700))
    assert fov.found
    assert fov.radius == pytest.approx(700, rel=0.015)
    assert fov.center[0] == pytest.approx(760, abs=7) and fov.center[1] == pytest.approx(500, abs=7)
    assert fov.bbox[1] == 0 and fov.bbox[3] == 1000  # clipped by the frame
    assert fov.area_fraction > 0.8


def test_fov_of_real_sample_with_top_and_bottom_cut_off(sample):
    full = detect_fov(sample)
    cut = detect_fov(np.ascontiguousarray(sample[250:1161]))
    assert cut.found
    assert cut.radius == pytest.approx(full.radius, rel=0.01)
    assert cut.center[0] == pytest.approx(full.center[0], abs=5)
    assert cut.center[1] == pytest.approx(full.center[1] - 250, abs=5)


@pytest.mark.parametrize(
    "name",
    ["black", "grey", "astronaut", "coffee", "chelsea"],
)
def test_no_fov_without_a_disc_on_a_dark_surround(name):
    rgb = {
        "black": lambda: np.zeros((900, 1200, 3), np.uint8),
        "grey": lambda: np.full((900, 1200, 3), 128, np.uint8),
        "astronaut": data.astronaut,
        "coffee": data.coffee,
        "chelsea": data.chelsea,
    }[name]()
    fov = detect_fov(rgb)
    assert not fov.found
    assert fov.radius == 0.0 and fov.area_fraction == 0.0
    assert not fov.mask.any()
    assert fov.bbox == (0, 0, rgb.shape[1], rgb.shape[0])


def test_fov_not_found_on_bright_frame_with_no_surround(sample):
    # The sample's central square: all retina, edge to edge, so no disc outline to find.
    assert not detect_fov(np.ascontiguousarray(sample[300:1100, 300:1100])).found
    # A drawn disc wider than the frame's diagonal: no surround left at all.
    assert not detect_fov(drawn_fundus(1000, 1000, 500, 500, 720)).found


@pytest.mark.parametrize("shape", ["square", "ellipse", "triangle"])
def test_fov_not_found_for_bright_shapes_that_are_not_round(shape):
    img = np.zeros((800, 800, 3), np.uint8)
    colour = (200, 90, 40)
    if shape == "square":
        cv2.rectangle(img, (200, 200), (600, 600), colour, -1)
    elif shape == "ellipse":
        cv2.ellipse(img, (400, 400), (300, 200), 0, 0, 360, colour, -1)
    else:
        cv2.fillPoly(img, [np.array([[100, 700], [700, 700], [400, 100]])], colour)
    assert not detect_fov(img).found


def test_fov_not_found_for_a_disc_on_a_busy_background():
    img = drawn_fundus(1000, 800, 500, 400, 300)
    for y in range(0, 800, 40):  # a bright chequer wherever it keeps clear of the disc
        for x in range(0, 1000, 40):
            if np.hypot(x + 10 - 500, y + 10 - 400) > 330:
                img[y : y + 20, x : x + 20] = 230
    assert not detect_fov(img).found


def test_fov_not_found_for_a_disc_too_small_in_the_frame():
    assert not detect_fov(drawn_fundus(1600, 1200, 800, 600, 100)).found  # under 2 % of the frame
    assert detect_fov(drawn_fundus(1600, 1200, 800, 600, 250)).found  # 10 %


def test_fov_keeps_the_dim_rim_of_a_vignetted_photo(sample):
    full = detect_fov(sample)
    yy, xx = np.mgrid[0:1411, 0:1411]
    d = np.hypot(xx - full.center[0], yy - full.center[1]) / full.radius
    vignetted = (sample * np.clip(1.0 - 0.7 * d**2, 0.0, 1.0)[..., None]).astype(np.uint8)  # rim at ~30 %
    fov = detect_fov(vignetted)
    assert fov.found and fov.radius == pytest.approx(full.radius, rel=0.015)


def test_fov_needs_a_minimum_disc_to_surround_contrast(sample):
    def darkened(k: float) -> np.ndarray:
        return (sample.astype(np.float32) * k).astype(np.uint8)

    assert detect_fov(darkened(0.03)).found  # faint, but there
    assert not detect_fov(darkened(0.02)).found  # disc only ~4 grey levels above the surround
    assert not detect_fov(darkened(0.03), PreprocessSettings(fov_min_contrast=10.0)).found


def test_fov_ignores_a_bright_label_across_the_rim():
    img = drawn_fundus(1000, 800, 500, 400, 300)
    cv2.rectangle(img, (760, 200), (800, 500), (230, 120, 60), -1)  # overlaps the disc's right edge
    fov = detect_fov(img)
    assert fov.found
    assert fov.center[0] == pytest.approx(500, abs=2.5) and fov.center[1] == pytest.approx(400, abs=2.5)
    assert fov.radius == pytest.approx(300, abs=2.5)


def test_fov_found_despite_burned_in_text_in_the_surround():
    img = drawn_fundus(1000, 800, 500, 400, 300)
    cv2.putText(img, "2024-01-01 OS", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    cv2.putText(img, "Patient 12345", (20, 760), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    fov = detect_fov(img)
    assert fov.found and fov.radius == pytest.approx(300, rel=0.015)


def test_fov_rejects_non_rgb_input():
    with pytest.raises(ValueError):
        detect_fov(np.zeros((100, 100), np.uint8))
    with pytest.raises(ValueError):
        detect_fov(np.zeros((100, 100, 3), np.float32))


# --- crop, resize -----------------------------------------------------------------------------------------


def test_crop_is_the_disc_square_black_outside(sample):
    fov = detect_fov(sample)
    square = crop_to_fov(sample, fov)
    x0, y0, side = fov_square(fov)
    assert square.shape == (side, side, 3) and square.dtype == np.uint8
    assert 2 * fov.radius < side < 2 * fov.radius * 1.05
    assert not square[:5, :5].any() and not square[-5:, -5:].any()  # corners lie outside the disc
    np.testing.assert_array_equal(square[side // 2, side // 2], sample[y0 + side // 2, x0 + side // 2])


@pytest.mark.parametrize("margin", [0.0, 0.02, 0.1])
def test_crop_is_centred_on_the_disc_with_the_margin_asked_for(margin):
    img = drawn_fundus(1200, 900, 610, 440, 380)
    settings = PreprocessSettings(fov_margin=margin)
    fov = detect_fov(img, settings)
    square = crop_to_fov(img, fov, settings)
    side = square.shape[0]
    assert side == round(2 * fov.radius * (1 + margin))
    rows = np.flatnonzero(square.any(axis=(1, 2)))
    cols = np.flatnonzero(square.any(axis=(0, 2)))
    # Equal black borders on opposite sides: the disc sits in the middle.
    assert abs(rows[0] - (side - 1 - rows[-1])) <= 1 and abs(cols[0] - (side - 1 - cols[-1])) <= 1
    assert cols[0] == pytest.approx(margin * fov.radius, abs=1.5)


def test_crop_pads_a_clipped_disc_with_black(sample):
    cut = np.ascontiguousarray(sample[250:1161])
    fov = detect_fov(cut)
    square = crop_to_fov(cut, fov)
    _, y0, side = fov_square(fov)
    assert y0 < 0 and side > cut.shape[0]
    assert not square[: -y0 - 1].any()  # rows above the frame are padding
    assert square[-y0 + 5, side // 2].any()  # the first image row inside the disc is not


def test_crop_without_fov_centre_pads_to_square():
    coffee = data.coffee()  # 400 x 600
    fov = detect_fov(coffee)
    square = crop_to_fov(coffee, fov)
    assert square.shape == (600, 600, 3)
    assert not square[:100].any() and not square[500:].any()
    np.testing.assert_array_equal(square[100:500], coffee)


def test_preprocess_gives_input_size_square(sample):
    for size in (224, 96):
        result = preprocess(sample, PreprocessSettings(input_size=size))
        assert result.tensor.shape == (3, size, size) and result.tensor.dtype == np.float32
    assert preprocess(data.coffee()).tensor.shape == (3, 224, 224)


def test_resize_square_shrinks_enlarges_and_refuses_non_square(sample):
    assert resize_square(sample, 224).shape == (224, 224, 3)
    small = resize_square(sample, 64)
    assert resize_square(small, 300).shape == (300, 300, 3)
    with pytest.raises(ValueError):
        resize_square(data.coffee(), 224)


# --- CLAHE, standardisation, display ------------------------------------------------------------------------


def _local_contrast(rgb: np.ndarray) -> float:
    lum = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(lum, cv2.CV_32F).std())


def test_clahe_raises_local_contrast_of_a_flat_copy(sample):
    small = resize_square(crop_to_fov(sample, detect_fov(sample)), 224)
    flat = (small.astype(np.float32) * 0.4 + 60).astype(np.uint8)  # washed-out copy
    enhanced = apply_clahe(flat)
    assert enhanced.shape == flat.shape and enhanced.dtype == np.uint8
    assert _local_contrast(enhanced) > 1.5 * _local_contrast(flat)
    # The clip limit is honoured: a higher limit lifts contrast further.
    stronger = apply_clahe(flat, PreprocessSettings(clahe_clip_limit=4.0))
    assert _local_contrast(stronger) > _local_contrast(enhanced)


def test_standardise_gives_zero_mean_unit_std_chw(sample):
    small = resize_square(crop_to_fov(sample, detect_fov(sample)), 224)
    t = standardise(small)
    assert t.shape == (3, 224, 224) and t.dtype == np.float32
    np.testing.assert_allclose(t.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(t.std(axis=(1, 2)), 1.0, atol=1e-3)
    # Channels keep their own statistics: red and blue are standardised separately.
    assert not np.allclose(t[0], t[2])


def test_standardise_within_a_mask(sample):
    small = resize_square(crop_to_fov(sample, detect_fov(sample)), 224)
    mask = np.zeros((224, 224), bool)
    cv2.circle(mask.view(np.uint8), (112, 112), 100, 1, -1)
    t = standardise(small, mask)
    np.testing.assert_allclose(t[:, mask].mean(axis=1), 0.0, atol=1e-4)
    np.testing.assert_allclose(t[:, mask].std(axis=1), 1.0, atol=1e-3)
    with pytest.raises(ValueError):
        standardise(small, np.zeros((10, 10), bool))


def test_flat_image_gives_no_nan():
    grey = np.full((224, 224, 3), 77, np.uint8)
    t = standardise(grey)
    assert np.isfinite(t).all() and not t.any()
    assert np.isfinite(preprocess(grey).tensor).all()
    assert np.isfinite(preprocess(np.zeros((300, 200, 3), np.uint8)).tensor).all()


def test_to_display_maps_plus_minus_three_sd_to_uint8():
    t = np.zeros((3, 4, 4), np.float32)
    t[:, 0, 0], t[:, 0, 1], t[:, 0, 2] = -3.0, 3.0, 50.0
    img = to_display(t)
    assert img.shape == (4, 4, 3) and img.dtype == np.uint8
    assert (img[0, 0] == 0).all() and (img[0, 1] == 255).all() and (img[0, 2] == 255).all()
    assert (img[1, 1] == 128).all()


def test_keep_stages_returns_four_uint8_rgb_images(sample):
    result = preprocess(sample, keep_stages=True)
    assert set(result.stages) == {"original", "field_of_view", "clahe", "normalised"}
    for name, img in result.stages.items():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
    assert result.stages["original"] is sample
    assert result.stages["clahe"].shape == (224, 224, 3)
    assert result.stages["normalised"].shape == (224, 224, 3)
    fov_img = result.stages["field_of_view"]
    assert fov_img.shape[0] == fov_img.shape[1] >= 224
    np.testing.assert_array_equal(result.stages["normalised"], to_display(result.tensor))
    assert preprocess(sample).stages == {}


def test_stage_clahe_is_plain_resize_when_clahe_is_off(sample):
    on = preprocess(sample, keep_stages=True)
    off = preprocess(sample, PreprocessSettings(clahe=False), keep_stages=True)
    fov = detect_fov(sample)
    np.testing.assert_array_equal(off.stages["clahe"], resize_square(crop_to_fov(sample, fov), 224))
    assert not np.array_equal(on.tensor, off.tensor)


def test_draw_fov_outlines_the_disc(sample):
    fov = detect_fov(sample)
    drawn = draw_fov(sample, fov)
    assert drawn.shape == sample.shape and not np.array_equal(drawn, sample)
    x = int(round(fov.center[0] + fov.radius))
    assert tuple(drawn[int(round(fov.center[1])), x]) == (0, 255, 0)
    coffee = data.coffee()
    np.testing.assert_array_equal(draw_fov(coffee, detect_fov(coffee)), coffee)


# --- settings, determinism, resolution --------------------------------------------------------------------


def test_settings_round_trip_through_json():
    custom = PreprocessSettings(input_size=256, clahe=False, clahe_clip_limit=3.0, fov_margin=0.05)
    assert PreprocessSettings.from_dict(json.loads(json.dumps(custom.to_dict()))) == custom
    assert PreprocessSettings.from_dict(DEFAULT_SETTINGS.to_dict()) == DEFAULT_SETTINGS
    assert PreprocessSettings.from_dict({"clahe_clip_limit": 2}).clahe_clip_limit == 2.0


@pytest.mark.parametrize(
    "bad",
    [{"gamma": 1.0}, {"input_size": "224"}, {"input_size": True}, {"clahe": 1}, {"fov_threshold": 1.5}],
)
def test_settings_reject_unknown_keys_and_bad_values(bad):
    with pytest.raises(ValueError):
        PreprocessSettings.from_dict(bad)


def test_same_input_gives_bit_identical_output(sample):
    a = preprocess(sample, keep_stages=True)
    b = preprocess(sample.copy(), keep_stages=True)
    assert a.tensor.tobytes() == b.tensor.tobytes()
    for name in a.stages:
        np.testing.assert_array_equal(a.stages[name], b.stages[name])
    assert a.fov.center == b.fov.center and a.fov.radius == b.fov.radius


def test_given_fov_is_used_and_must_match_the_image(sample):
    no_disc = detect_fov(np.zeros(sample.shape, np.uint8))
    padded = preprocess(sample, fov=no_disc)
    assert padded.fov is no_disc
    assert not np.array_equal(padded.tensor, preprocess(sample).tensor)
    with pytest.raises(ValueError):
        preprocess(sample, fov=detect_fov(data.coffee()))


def test_half_size_decode_gives_nearly_the_same_tensor(sample):
    half = cv2.resize(sample, (706, 706), interpolation=cv2.INTER_AREA)
    full_t = preprocess(sample).tensor
    half_t = preprocess(half).tensor
    assert np.corrcoef(full_t.ravel(), half_t.ravel())[0, 1] > 0.98


def test_a_non_contiguous_view_gives_the_same_tensor(sample):
    view = sample[:, 50:1361]  # what slicing a decoded image hands over
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(preprocess(view).tensor, preprocess(np.ascontiguousarray(view)).tensor)


def test_preprocessing_and_quality_load_neither_torch_nor_qt():
    code = (
        "import sys, ran_desktop.engine.imaging.preprocess, ran_desktop.engine.imaging.quality; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'PyQt5', 'PyQt6')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("cut", [100, 250])
@pytest.mark.parametrize("where", ["top_bottom", "sides"])
@pytest.mark.parametrize("padded", [False, True])
def test_fov_with_the_circle_cut_by_black_bars_inside_the_frame(sample, cut, where, padded):
    """Many cameras mask the top and bottom of the circle with black bars inside the frame: the straight cuts
    must not pull the circle; the arcs decide."""
    full = detect_fov(sample)
    image = sample.copy()
    if where == "top_bottom":
        image[:cut] = 0
        image[-cut:] = 0
    else:
        image[:, :cut] = 0
        image[:, -cut:] = 0
    offset = (0, 0)
    if padded:
        frame = np.zeros((image.shape[0] + 200, image.shape[1] + 300, 3), np.uint8)
        frame[100:-100, 150:-150] = image
        image, offset = frame, (150, 100)
    fov = detect_fov(image)
    assert fov.found
    assert abs(fov.center[0] - offset[0] - full.center[0]) < 3 and abs(fov.center[1] - offset[1] - full.center[1]) < 3
    assert abs(fov.radius - full.radius) < 0.01 * full.radius
