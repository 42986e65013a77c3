"""The photograph at its full resolution when the grader zooms past the preview's own pixels: decoded in a worker,
cut into tiles laid over the preview, so Qt draws only the tiles on screen and a 12-megapixel photograph pans
smoothly. The preview (decoded at reduced size, as the model's input is) stays underneath; the tiles follow the
view (original, red-free, or the grid's) and the grader's brightness, contrast and gamma.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from ran_desktop import gui
from ran_desktop.engine import imaging
from ran_desktop.engine.imaging.views import MACULA, ORIGINAL, RED_FREE
from ran_desktop.gui.tasks import Report, TaskRunner

if TYPE_CHECKING:
    from ran_desktop.engine.records.review import ImageRecord
    from ran_desktop.gui.display_controls import Setting
    from ran_desktop.gui.image_view import ImageView

TILE = 512  # pixels of the photograph per tile
SHOWN_IN = (ORIGINAL, RED_FREE, MACULA)  # the views of the whole photograph
ZOOM_FROM = 1.0  # preview pixels per screen pixel beyond which the full photograph is worth decoding

Tiles = list[tuple[int, int, QImage]]  # (x, y) of each tile's corner in the photograph's pixels


def full_tiles(_report: Report, record: ImageRecord, mode: str, setting: Setting) -> tuple[int, Tiles]:
    """The photograph decoded whole (red-free for that view, the display setting applied), as tiles."""
    meta = record.result.metadata
    loaded = imaging.loading.load_screened_frame(record.result.path, meta.frame_index if meta else None,
                                                 meta.content_sha256 if meta else None)
    pixels = loaded.pixels
    if mode == RED_FREE:
        pixels = imaging.grading_views.red_free(pixels)
    if setting != (0.0, 1.0, 1.0):
        pixels = imaging.grading_views.adjusted(pixels, imaging.grading_views.Display(*setting))
    height, width = pixels.shape[:2]
    tiles = [(x, y, gui.pixel_arrays.qimage_for_display(pixels[y:y + TILE, x:x + TILE]))
             for y in range(0, height, TILE) for x in range(0, width, TILE)]
    return width, tiles


class FullResolution(QObject):
    def __init__(self, view: ImageView, parent: QObject | None = None):
        super().__init__(parent)
        self.view = view
        self._runner = TaskRunner("ran-full-resolution", 1, self)
        self._record: ImageRecord | None = None
        self._mode = ORIGINAL
        self._setting: Setting = (0.0, 1.0, 1.0)
        self._wanted: tuple[str, str, Setting] | None = None  # what the tiles shown (or on their way) are of
        view.zoomChanged.connect(lambda _zoom: self._maybe_load())

    def picture_changed(self, record: ImageRecord | None, mode: str, setting: Setting) -> None:
        """Another photograph, view or display setting: the tiles shown no longer fit."""
        self._record, self._mode, self._setting = record, mode, setting
        if self._wanted != self._identity():
            self.view.clear_tiles()
            self._wanted = None
        self._maybe_load()

    def _identity(self) -> tuple[str, str, Setting] | None:
        return (self._record.key, self._mode, self._setting) if self._record is not None else None

    def _maybe_load(self) -> None:
        record, preview = self._record, self.view.base.pixmap()
        meta = record.result.metadata if record is not None else None
        if record is None or meta is None or preview.isNull() or self._mode not in SHOWN_IN:
            return
        if self.view.zoom <= ZOOM_FROM or meta.original_size[0] <= preview.width():
            return  # the preview has every pixel the screen can show now
        if self._wanted == self._identity():
            return
        self._wanted = identity = self._identity()
        self._runner.submit(full_tiles, record, self._mode, self._setting,
                            on_done=lambda found: self._show(identity, found))

    def _show(self, identity: tuple[str, str, Setting] | None, found: tuple[int, Tiles]) -> None:
        if identity != self._identity() or self._wanted != identity:
            return  # the grader moved on meanwhile
        width, tiles = found
        self.view.set_tiles(tiles, self.view.base.pixmap().width() / width)

    def shutdown(self) -> None:
        self._runner.shutdown()
