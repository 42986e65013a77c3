"""A large photograph in the detail view: shown whole from a copy no larger than 2048 px, and, once the grader zooms
past that copy's own pixels, at full resolution in tiles (only those on screen are drawn), with the same views."""

from __future__ import annotations

import math

import cv2
import numpy as np
from gui_helpers import TIMEOUT_MS, wait_idle

from ran_desktop.engine.imaging.preview import DISPLAY_MAX_SIDE
from ran_desktop.engine.imaging.views import ORIGINAL, RED_FREE
from ran_desktop.gui.full_resolution import TILE
from ran_desktop.gui.pixel_arrays import array_from_qimage


def _large_photo(path, sample_path) -> np.ndarray:
    photo = cv2.resize(cv2.imread(str(sample_path)), (3000, 3000), interpolation=cv2.INTER_CUBIC)[500:2500]
    photo[1000:1010, 1500:1520:2] = 255  # a grating of one-pixel lines the 2048 px copy cannot show
    cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 100])
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)  # as decoded, JPEG and all


def test_zooming_in_brings_the_full_photograph_in_tiles(open_window, sample_path, tmp_path, qtbot):
    full = _large_photo(tmp_path / "large_OD.jpg", sample_path)
    window = open_window([tmp_path / "large_OD.jpg"])
    wait_idle(qtbot, window, 1)
    detail = window.workspace.detail
    qtbot.waitUntil(lambda: ORIGINAL in detail.images, timeout=TIMEOUT_MS)
    detail.set_mode(ORIGINAL)
    view = detail.view
    assert max(view.base.pixmap().width(), view.base.pixmap().height()) == DISPLAY_MAX_SIDE
    view.fit()
    assert view.tiles == []  # zoomed out, the copy has more pixels than the screen shows
    view.zoom_by(4 / view.zoom)  # four screen pixels per pixel of the copy
    qtbot.waitUntil(lambda: len(view.tiles) == math.ceil(3000 / TILE) * math.ceil(2000 / TILE), timeout=TIMEOUT_MS)
    corner = next(t for t in view.tiles if t.pos().x() == 0 and t.pos().y() == 0)
    tile = array_from_qimage(corner.pixmap().toImage())
    assert tile.shape == (TILE, TILE, 3) and np.array_equal(tile, full[:TILE, :TILE])
    scale = view.base.pixmap().width() / 3000
    grating = next(t for t in view.tiles if t.pos().x() <= 1500 * scale < t.pos().x() + TILE * scale
                   and t.pos().y() <= 1000 * scale < t.pos().y() + TILE * scale)
    x0, y0 = round(grating.pos().x() / scale), round(grating.pos().y() / scale)
    lines = array_from_qimage(grating.pixmap().toImage())[1004 - y0, 1500 - x0:1520 - x0, 0]
    assert (lines[::2] > 200).all() and (lines[1::2] < lines[::2] - 60).all()  # each line, apart from the next

    detail.set_mode(RED_FREE)  # the tiles follow the view
    qtbot.waitUntil(lambda: bool(view.tiles) and np.array_equal(
        array_from_qimage(view.tiles[0].pixmap().toImage())[..., 0], full[:TILE, :TILE, 1]), timeout=TIMEOUT_MS)
