"""One batch of the desktop app: screen files into the session database and report each stored image.

Every result is committed before it is reported, so whatever a user has seen survives a crash. Only small things
leave the batch (the stored record and its ~5 KB thumbnail), never the decoded pixels, so thousands of images
keep memory flat. Runs in a worker thread; `cancel()` may be called from any other thread. Imports no Qt;
torch is imported only when `run` starts (the model is loaded by then).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

# The screener (torch), the thumbnails (OpenCV) and the local threshold load on first use, through their packages'
# lazy names: the window imports this module at start, and a batch first runs in a worker.
from ran_desktop.engine import imaging, records, screening, validation
from ran_desktop.engine.imaging.loading import iter_image_files
from ran_desktop.engine.records.database import Target, is_url
from ran_desktop.engine.records.results import ScreeningResult
from ran_desktop.engine.records.review import ImageRecord

if TYPE_CHECKING:
    from ran_desktop.engine.model.bundle import LoadedModel
    from ran_desktop.engine.screening.screener import Screener

OnPlanned = Callable[[int], None]  # number of files found
OnRecord = Callable[[ImageRecord, int, int], None]  # the stored record, files done, files in the batch
OnChanged = Callable[[str], None]  # a message: a file now holds another photograph than when it was screened


class BatchRun:
    def __init__(self, loaded: LoadedModel, database: Target, session_id: int, paths: Iterable[str | Path],
                 data_dir: Path | None = None):
        """`database`: the session database (a file, or a server's URL); `data_dir`: the data folder with the clinic's
        adopted operating point (default: the database file's folder)."""
        self.loaded = loaded
        self.database = database if is_url(database) else Path(database)
        self.data_dir = data_dir if data_dir is not None else Path(database).parent
        self.session_id = session_id
        self.paths = [Path(p) for p in paths]
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._screener: Screener | None = None

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            if self._screener is not None:
                self._screener.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def run(self, on_planned: OnPlanned, on_record: OnRecord, on_changed: OnChanged | None = None) -> int:
        """Screen everything (folders recursively); returns the number of images stored. A file that held another
        photograph when it was screened before in this session is stored as a new image (the earlier one keeps its
        decision) and `on_changed` is told in words."""
        files: Sequence[Path] = list(iter_image_files(self.paths))
        on_planned(len(files))
        # keep_stages: the decoded photograph is needed once, for the thumbnail, then dropped. A threshold the clinic
        # adopted for these weights (kept beside the session database) is the operating point.
        local = validation.current(self.data_dir, self.loaded.manifest.weights["sha256"])
        options = screening.ScreeningOptions(keep_stages=True, local_operating_point=local)
        screener = screening.Screener(self.loaded, options)
        with self._lock:
            self._screener = screener
        stored = done = 0
        with records.storage.Storage(self.database) as storage:
            for result in screener.screen_files(files):
                # Screener.screen clears its own flag when it starts: a cancel that came earlier is honoured here.
                if self._cancelled.is_set():
                    screener.cancel()
                    break
                record = storage.save_result(self.session_id, _slim(result), _thumbnail(result))
                if on_changed is not None:
                    message = changed_file_message(record, storage.earlier_contents(record))
                    if message:
                        on_changed(message)
                stored += 1
                if result.metadata is None or result.metadata.frame_index in (None, 0):
                    done += 1
                on_record(record, done, len(files))
        return stored


def changed_file_message(record: ImageRecord, earlier: list[ImageRecord]) -> str:
    """What the grader must know when `record`'s file was screened before holding another photograph."""
    if not earlier or record.result.metadata is None or record.result.metadata.content_sha256 is None:
        return ""
    decided = [e for e in earlier if e.decision is not None]
    name = record.result.path.name
    frame = record.result.metadata.frame_index
    where = name if frame is None else f"{name}, frame {frame + 1}"
    text = (f"{where} now holds another photograph than when it was screened at {earlier[-1].screened_at}: it is "
            "listed as a new, unreviewed image")
    if decided:
        text += (f"; the earlier photograph keeps its decision ({len(decided)} decided), marked 'file replaced', "
                 "and is not shown from the new file")
    return text + "."


def _thumbnail(result: ScreeningResult) -> bytes | None:
    picture = (result.stages or {}).get("original")
    if picture is None:
        picture = result.view
    return imaging.make_thumbnail(picture) if picture is not None else None


def _slim(result: ScreeningResult) -> ScreeningResult:
    return replace(result, heatmap=None, view=None, stages=None)
