"""The model's lesion layer for the detail view: the lesion head's probabilities drawn in one colour per kind, only
where a kind is likely, never outside the field of view, and counted as regions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ran_desktop.engine.imaging.preprocess import PreprocessSettings, preprocess
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.model.explanation import (
    LESION_COLOURS,
    has_lesion_head,
    lesion_counts,
    lesion_layer,
    lesion_maps,
)
from ran_desktop.engine.model.lesion_head import LESION_KINDS
from ran_desktop.engine.model.untrained import create_untrained_bundle


def _maps() -> np.ndarray:
    """A 40 x 40 map: two haemorrhages, one hard exudate beside a weaker microaneurysm signal, nothing else."""
    maps = np.zeros((4, 40, 40), np.float32)
    maps[1, 2:6, 2:6] = 0.9
    maps[1, 30:34, 30:34] = 0.8
    maps[2, 20:24, 4:8] = 0.95
    maps[0, 20:24, 4:8] = 0.6  # the same pixels: the stronger kind is drawn
    maps[0, 10:12, 10:12] = 0.3  # below the threshold: not drawn
    return maps


def test_each_kind_is_drawn_in_its_colour_only_where_it_is_likely():
    layer = lesion_layer(_maps(), LESION_KINDS, (40, 40))
    assert layer.shape == (40, 40, 4) and layer.dtype == np.uint8
    assert tuple(layer[3, 3, :3]) == LESION_COLOURS["haemorrhages"] and layer[3, 3, 3] == 255
    assert tuple(layer[21, 5, :3]) == LESION_COLOURS["hard_exudates"] and layer[21, 5, 3] == 255
    assert layer[11, 11, 3] == 0 and layer[15, 15, 3] == 0
    assert int((layer[..., 3] > 0).sum()) == 3 * 16


def test_nothing_is_drawn_outside_the_field_of_view_and_the_layer_follows_the_view_size():
    mask = np.ones((80, 80), bool)
    mask[:, 40:] = False
    layer = lesion_layer(_maps(), LESION_KINDS, (80, 80), mask)
    assert layer[6, 6, 3] == 255  # the first haemorrhage, scaled to the 80 px view
    assert not layer[:, 40:, 3].any()  # the second one lies outside the mask


def test_regions_are_counted_per_kind():
    assert lesion_counts(_maps(), LESION_KINDS) == {"microaneurysms": 0, "haemorrhages": 2, "hard_exudates": 1,
                                                    "soft_exudates": 0}


def test_the_maps_come_from_the_bundles_lesion_head(tmp_path, sample_tensor_64):
    folder = tmp_path / "with-head"
    create_untrained_bundle(folder, seed=3, input_size=64, base_width=8, dtype="float32", lesion_head=True)
    loaded = load_bundle(folder, device="cpu")
    assert has_lesion_head(loaded)
    maps = lesion_maps(loaded, sample_tensor_64)
    assert maps.shape == (4, 16, 16) and 0.0 <= maps.min() and maps.max() <= 1.0
    plain = tmp_path / "without"
    create_untrained_bundle(plain, seed=3, input_size=64, base_width=8, dtype="float32")
    without = load_bundle(plain, device="cpu")
    assert not has_lesion_head(without)
    with pytest.raises(ValueError, match="no lesion head"):
        lesion_maps(without, sample_tensor_64)


@pytest.fixture
def sample_tensor_64(sample_path):
    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    return preprocess(rgb, PreprocessSettings(input_size=64)).tensor
