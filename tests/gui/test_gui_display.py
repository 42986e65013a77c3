"""Brightness, contrast and gamma of the picture shown (the detail view's Display button): the pixels on screen
change as the engine's lookup table says, follow the grader to the next image and view, and come back on Reset;
the stored result is untouched."""

from __future__ import annotations

import numpy as np
from gui_helpers import TIMEOUT_MS, wait_idle

from ran_desktop.engine.imaging.grading_views import Display, adjusted
from ran_desktop.engine.imaging.views import ORIGINAL
from ran_desktop.gui.pixel_arrays import array_from_qimage


def _shown(view) -> np.ndarray:
    return array_from_qimage(view.base.pixmap().toImage())


def test_display_settings_change_what_is_shown_and_reset_brings_it_back(open_window, photos, qtbot):
    window = open_window([photos(2, nested=False)])
    wait_idle(qtbot, window, 2)
    detail = window.workspace.detail
    window.select_key(window.results.record(0).key)
    qtbot.waitUntil(lambda: ORIGINAL in detail.images, timeout=TIMEOUT_MS)
    detail.set_mode(ORIGINAL)
    original = array_from_qimage(detail.images[ORIGINAL])
    qtbot.waitUntil(lambda: np.array_equal(_shown(detail.view), original), timeout=TIMEOUT_MS)
    probabilities = window.results.record(0).result.dr_probs

    button = detail.display_button
    button.brightness.setValue(20)
    button.gamma.setValue(150)
    expected = adjusted(original, Display(0.2, 1.0, 1.5))
    qtbot.waitUntil(lambda: np.array_equal(_shown(detail.view), expected), timeout=TIMEOUT_MS)
    assert _shown(detail.view).mean() > original.mean() + 20

    window.select_key(window.results.record(1).key)  # the next photograph is shown with the same settings
    qtbot.waitUntil(lambda: ORIGINAL in detail.images and detail.record.key == window.results.record(1).key,
                    timeout=TIMEOUT_MS)
    second = array_from_qimage(detail.images[ORIGINAL])
    qtbot.waitUntil(lambda: np.array_equal(_shown(detail.view), adjusted(second, Display(0.2, 1.0, 1.5))),
                    timeout=TIMEOUT_MS)

    button.reset()
    qtbot.waitUntil(lambda: np.array_equal(_shown(detail.view), second), timeout=TIMEOUT_MS)
    assert window.results.record(0).result.dr_probs == probabilities  # only the screen changed


def test_the_view_menu_opens_the_sliders_over_the_picture(open_window, sample_path, qtbot):
    window = open_window([sample_path])
    wait_idle(qtbot, window, 1)
    qtbot.waitUntil(lambda: window.workspace.detail.view.has_image, timeout=TIMEOUT_MS)
    menu = window.workspace.detail.display_button.menu()
    window.commands.display.trigger()
    qtbot.waitUntil(menu.isVisible, timeout=TIMEOUT_MS)
    assert [k.toString() for k in window.commands.display.shortcuts()] == ["Ctrl+B"]
    menu.close()
