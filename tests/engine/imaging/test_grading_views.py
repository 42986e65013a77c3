"""Grading views (issue 20): red-free and display settings produce the expected pixels on a constructed image; the
macular grid is placed from the disc and the dark macula, against a hand-placed disc and fovea, and on the sample."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from locations import REPO_ROOT

from ran_desktop.engine.imaging.field_of_view import detect_fov
from ran_desktop.engine.imaging.grading_views import Display, adjusted, red_free
from ran_desktop.engine.imaging.macula import (
    DISC_FOVEA_DD,
    FIELD_IN_DD,
    GRID_RADII_DD,
    MacularGrid,
    draw_grid,
    locate_grid,
)

SAMPLE = REPO_ROOT / "resources" / "samples" / "normal_fundus_OS.jpg"


def _pixels() -> np.ndarray:
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0] = [(200, 10, 30), (0, 128, 255), (255, 255, 255)]
    rgb[1] = [(90, 60, 40), (1, 2, 3), (250, 0, 5)]
    return rgb


def test_red_free_is_the_green_channel_in_grey():
    out = red_free(_pixels())
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    assert (out[..., 0] == _pixels()[..., 1]).all() and (out[..., 1] == out[..., 0]).all()
    assert (out[..., 2] == out[..., 0]).all()
    assert out[0, 1].tolist() == [128, 128, 128] and out[1, 2].tolist() == [0, 0, 0]


def test_display_settings_by_their_lookup_table():
    rgb = _pixels()
    assert (adjusted(rgb, Display()) == rgb).all()  # neutral: unchanged
    brighter = adjusted(rgb, Display(brightness=0.2))
    assert brighter[0, 0].tolist() == [251, 61, 81]  # +0.2 of 255 = +51, clipped at 255
    assert brighter[0, 2].tolist() == [255, 255, 255]
    steeper = adjusted(rgb, Display(contrast=1.5))  # 1.5 x - 63.75, around mid-grey
    assert steeper[0, 1].tolist() == [0, 128, 255] and steeper[1, 0].tolist() == [71, 26, 0]
    lifted = adjusted(rgb, Display(gamma=2.0))
    assert lifted[1, 0].tolist() == [151, 124, 101]  # 255 * (x / 255) ** 0.5: shadows lifted
    assert lifted[0, 2].tolist() == [255, 255, 255] and lifted[1, 1].tolist()[0] == 16
    with pytest.raises(ValueError):
        Display(contrast=0)


def _fundus(disc: tuple[int, int], fovea: tuple[int, int], size: int = 700) -> np.ndarray:
    """A dark frame, an orange disc of the field, a bright optic disc and a dark macula where asked."""
    rgb = np.zeros((size, size, 3), np.uint8)
    cv2.circle(rgb, (size // 2, size // 2), size // 2 - 10, (190, 90, 40), -1)
    dd = (size - 20) / FIELD_IN_DD
    cv2.circle(rgb, disc, round(dd / 2), (250, 220, 170), -1)
    macula = np.zeros((size, size), np.float32)
    cv2.circle(macula, fovea, round(dd * 0.6), 1.0, -1)
    macula = cv2.GaussianBlur(macula, (0, 0), dd / 4)
    rgb = (rgb * (1 - 0.5 * macula[..., None])).astype(np.uint8)
    return rgb


@pytest.mark.parametrize("side", [-1, 1])  # the disc on the left (a left eye) or on the right
def test_the_grid_is_centred_on_the_hand_placed_fovea(side):
    size = 700
    dd = (size - 20) / FIELD_IN_DD
    disc = (round(size / 2 + side * 1.3 * dd), 340)
    fovea = (round(disc[0] - side * 2.4 * dd), round(340 + 0.4 * dd))
    rgb = _fundus(disc, fovea, size)
    grid = locate_grid(rgb, detect_fov(rgb))
    assert np.hypot(grid.disc[0] - disc[0], grid.disc[1] - disc[1]) < 0.15 * dd
    assert np.hypot(grid.fovea[0] - fovea[0], grid.fovea[1] - fovea[1]) < 0.2 * dd
    assert grid.disc_diameter == pytest.approx(dd, rel=0.05)
    assert grid.radii == pytest.approx(tuple(r * grid.disc_diameter for r in GRID_RADII_DD))
    inside = (grid.fovea[0] + 0.9 * grid.disc_diameter, grid.fovea[1])
    assert grid.within(inside) and not grid.within((grid.fovea[0], grid.fovea[1] + 1.1 * grid.disc_diameter))


def test_a_dragged_grid_keeps_its_size_and_is_drawn_where_it_was_put():
    grid = MacularGrid((300.0, 300.0), (120.0, 280.0), 90.0).moved_to((320, 310))
    assert grid.fovea == (320.0, 310.0) and grid.disc_diameter == 90.0
    drawn = draw_grid(np.zeros((600, 600, 3), np.uint8), grid)
    ring = drawn[310, 320 + 89:320 + 92].max(axis=0)  # on the 1 DD circle, to the right of the fovea
    assert ring[0] > 200 and ring[1] > 200 and ring[2] == 0 and drawn[310, 320 + 60].tolist() == [0, 0, 0]
    assert drawn[310, 320, 0] > 200 and drawn[310, 320, 2] == 0  # the cross at the fovea


def test_on_the_sample_the_fovea_is_temporal_to_the_disc_about_two_and_a_half_disc_diameters_away():
    rgb = cv2.cvtColor(cv2.imread(str(SAMPLE)), cv2.COLOR_BGR2RGB)
    grid = locate_grid(rgb, detect_fov(rgb))
    distance = np.hypot(grid.fovea[0] - grid.disc[0], grid.fovea[1] - grid.disc[1]) / grid.disc_diameter
    assert 1.6 < distance < DISC_FOVEA_DD + 1.0
    assert grid.disc[0] < grid.fovea[0]  # a left eye (OS): the disc is to the viewer's left of the fovea
