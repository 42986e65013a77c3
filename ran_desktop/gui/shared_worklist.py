"""The worklist on its database, shared with other windows and workstations: the image this window shows is
claimed (renewed while it stays open, released when the grader moves on), images other graders have open are marked
in the list and in the review form, and decisions saved elsewhere appear in the list within seconds. A session is
listed without its thumbnails; the rows that are painted fetch theirs here (a long worklist opens without reading
every picture).

All database work runs on one worker thread with a connection of its own; the GUI thread only hands over ids and
receives records (`TaskRunner`). A lost server or a busy file costs a missed poll, said once in the status bar.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QImage

from ran_desktop import gui
from ran_desktop.engine import imaging, records
from ran_desktop.engine.records.conflicts import RENEW_SECONDS
from ran_desktop.gui.tasks import TaskFailure, TaskRunner

if TYPE_CHECKING:
    from ran_desktop.engine.records.claims import Claim
    from ran_desktop.engine.records.database import Target
    from ran_desktop.engine.records.review import ImageRecord
    from ran_desktop.engine.records.review_session import ReviewSession
    from ran_desktop.gui.results_model import ResultsTableModel
    from ran_desktop.gui.settings import AppSettings
    from ran_desktop.gui.status_bar import AppStatusBar
    from ran_desktop.gui.worklist import Worklist
    from ran_desktop.gui.workspace import Workspace

POLL_MS = 3000  # how soon another workstation's decision shows here


class _WorkerDatabase:
    """The worker thread's own connection, opened on first use there (a connection belongs to its thread)."""

    def __init__(self, target: Target):
        self.target = target
        self.storage: records.storage.Storage | None = None

    def get(self) -> records.storage.Storage:
        if self.storage is None:
            self.storage = records.storage.Storage(self.target)
        return self.storage

    def close(self) -> None:
        if self.storage is not None:
            self.storage.close()
            self.storage = None


class SharedWorklist(QObject):
    def __init__(self, target: Target, session: ReviewSession, settings: AppSettings, results: ResultsTableModel,
                 worklist: Worklist, workspace: Callable[[], Workspace | None], status: AppStatusBar,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._session = session
        self._settings = settings
        self._results = results
        self._worklist = worklist
        self._workspace = workspace
        self._status = status
        self._database = _WorkerDatabase(target)
        self._runner = TaskRunner("ran-shared-worklist", 1, self)
        self._mark = session.storage.latest_change()  # decisions up to here are in the list already
        self._claimed: int | None = None  # the image this window holds
        self._polling = False
        self._failed_once = False
        self.others: dict[int, str] = {}  # image id -> who else has it open
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self.poll)
        self._poll.start()
        self._renew = QTimer(self)
        self._renew.setInterval(int(RENEW_SECONDS * 1000))
        self._renew.timeout.connect(self._renew_claim)
        results.thumbnailsWanted.connect(self.fetch_thumbnails)

    @property
    def holder(self) -> str:
        """Who this window is, for other graders: the grader's name and the workstation."""
        return f"{self._settings.grader_name.strip() or 'A grader'} on {platform.node()}"

    # --- claims ---------------------------------------------------------------------------------------------------

    def show(self, record: ImageRecord | None) -> None:
        """The grader now looks at `record` (None: at nothing): claim it, and let go of the one before."""
        image_id = record.image_id if record is not None else None
        if image_id == self._claimed:
            return
        previous, self._claimed = self._claimed, image_id
        self._runner.submit(self._swap_claims, previous, image_id, self._session.token, self.holder,
                            on_done=self._on_claimed, on_failed=self._on_failed)
        if image_id is None:
            self._renew.stop()
        else:
            self._renew.start()

    def _swap_claims(self, _report: Any, previous: int | None, image_id: int | None, token: str,
                     holder: str) -> Claim | None:
        storage = self._database.get()
        if previous is not None:
            storage.release(previous, token)
        return storage.claim(image_id, token, holder) if image_id is not None else None

    def _renew_claim(self) -> None:
        if self._claimed is not None:
            self._runner.submit(self._swap_claims, None, self._claimed, self._session.token, self.holder,
                                on_done=self._on_claimed, on_failed=self._on_failed)

    def _on_claimed(self, claim: Claim | None) -> None:
        if claim is None or claim.image_id != self._claimed:
            return  # the grader has moved on meanwhile
        self._tell_form(claim.image_id, None if claim.mine else claim.holder)

    def _tell_form(self, image_id: int, holder: str | None) -> None:
        ws = self._workspace()
        shown = ws.review.record if ws is not None else None
        if ws is not None and shown is not None and shown.image_id == image_id:
            ws.review.show_holder(holder)

    # --- what changed elsewhere -------------------------------------------------------------------------------

    def poll(self) -> None:
        if self._polling:
            return  # the last one is still out (a slow server): one at a time
        self._polling = True
        self._runner.submit(self._changes, self._session.session_id, self._mark, self._session.token,
                            on_done=self._on_changes, on_failed=self._on_failed)

    def _changes(self, _report: Any, session_id: int, mark: int,
                 token: str) -> tuple[int, int, list[ImageRecord], dict[int, str]]:
        storage = self._database.get()
        latest, changed = storage.changed_since(session_id, mark)
        return session_id, latest, changed, storage.claimed_by_others(session_id, token)

    def _on_changes(self, found: tuple[int, int, list[ImageRecord], dict[int, str]]) -> None:
        self._polling = False
        self._failed_once = False
        session_id, self._mark, changed, others = found
        if session_id != self._session.session_id:
            return  # another session was opened meanwhile: the next poll asks for it
        current = self._worklist.current_record()
        for record in changed:
            row = self._results.row_of(record.key)
            if row is not None and self._results.record(row).decision_version != record.decision_version:
                self._results.update_record(record)
                if current is not None and current.key == record.key and record.decision is not None:
                    self._status.showMessage(
                        f"{record.result.path.name}: {record.decision.grader} saved a decision on another "
                        "workstation; yours would be refused until you have looked at theirs", 8000)
        if others != self.others:
            self.others = others
            self._results.set_claims(others)
        if self._claimed is not None:
            self._tell_form(self._claimed, others.get(self._claimed))

    def _on_failed(self, failure: TaskFailure) -> None:
        self._polling = False
        if not self._failed_once:  # said once, not every three seconds while a server is down
            self._failed_once = True
            self._status.showMessage(f"The shared worklist could not be read: {failure.message}", 10000)

    # --- thumbnails of the rows on screen -----------------------------------------------------------------------

    def fetch_thumbnails(self, image_ids: list[int]) -> None:
        self._runner.submit(self._thumbnails, image_ids, on_done=self._results.add_stored_thumbnails,
                            on_failed=self._on_failed)

    def _thumbnails(self, _report: Any, image_ids: list[int]) -> dict[int, QImage]:
        stored = self._database.get().thumbnails(image_ids)
        pictures = {}
        for image_id, data in stored.items():
            pixels = imaging.thumbnails.decode_thumbnail(data)  # OpenCV, off the interpreter lock (see there)
            if pixels is not None:
                pictures[image_id] = gui.pixel_arrays.qimage_from_array(pixels)
        return pictures

    def shutdown(self) -> None:
        """Stop polling and let go of this window's claim (another grader need not wait for it to expire)."""
        self._poll.stop()
        self._renew.stop()
        claimed, self._claimed = self._claimed, None
        self._runner.submit(self._swap_claims, claimed, None, self._session.token, self.holder)
        self._runner.submit(lambda _report: self._database.close())
        self._runner.shutdown(drain=True)
