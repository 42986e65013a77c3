"""The magnifier (View > Magnifier): a loupe that follows the pointer and shows the picture's own pixels enlarged,
hidden off the picture and when turned off."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest

from ran_desktop.gui.image_view import ImageView
from ran_desktop.gui.magnifier import SIZE


def _picture() -> QImage:
    """A dark photograph-sized picture with one bright 3x3 dot (a 'microaneurysm' the fitted view shrinks away)."""
    image = QImage(1600, 1200, QImage.Format.Format_RGB32)
    image.fill(QColor(40, 20, 10))
    for dx in range(3):
        for dy in range(3):
            image.setPixelColor(800 + dx, 600 + dy, QColor(255, 255, 255))
    return image


def test_the_loupe_follows_the_pointer_and_shows_the_pictures_own_pixels(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(800, 400)  # wider than the picture's 4:3: dark bars left and right of it
    view.show()
    view.set_image(_picture())
    view.fit()
    assert view.zoom < 0.5  # fitted: the dot is less than two screen pixels wide
    view.set_magnifier(True)
    over_dot = view.mapFromScene(QPointF(801.5, 601.5))
    QTest.mouseMove(view.viewport(), over_dot)
    qtbot.waitUntil(view.magnifier.isVisible, timeout=2000)
    loupe = view.magnifier._picture.toImage()
    centre = loupe.pixelColor(SIZE // 2, SIZE // 2)
    assert centre.red() > 200 and centre.green() > 200  # the dot, enlarged under the cross
    assert loupe.pixelColor(10, SIZE // 2).red() < 80  # the dark picture around it
    bright = sum(loupe.pixelColor(x, SIZE // 2).green() > 200 for x in range(SIZE))
    assert bright >= 3 * 3  # 3 picture pixels at >= 3 screen pixels each: bigger than the fitted view shows
    QTest.mouseMove(view.viewport(), QPoint(3, 200))  # beside the picture: no loupe
    assert view.mapToScene(QPoint(3, 200)).x() < 0 and not view.magnifier.isVisible()
    QTest.mouseMove(view.viewport(), over_dot)
    view.magnify_at(over_dot)
    assert view.magnifier.isVisible()
    view.set_magnifier(False)
    assert not view.magnifier.isVisible()
    view.magnify_at(over_dot)
    assert not view.magnifier.isVisible()


def test_the_menu_command_turns_the_loupe_on_in_the_window(open_window, sample_path, qtbot):
    from gui_helpers import TIMEOUT_MS, wait_idle

    window = open_window([sample_path])
    wait_idle(qtbot, window, 1)
    qtbot.waitUntil(lambda: window.workspace.detail.view.has_image, timeout=TIMEOUT_MS)
    window.commands.magnifier.trigger()
    assert window.commands.magnifier.isChecked() and window.workspace.detail.view.magnifying
    view = window.workspace.detail.view
    centre = view.mapFromScene(view.base.boundingRect().center())
    view.magnify_at(centre)
    assert view.magnifier.isVisible()
    window.commands.magnifier.trigger()
    assert not view.magnifying and not view.magnifier.isVisible()
    assert [k.toString() for k in window.commands.magnifier.shortcuts()] == ["Ctrl+M"]
