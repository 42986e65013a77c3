"""Review > Grade patients on a 100,000-image session: how long the window's GUI thread is held when the form opens
and at each "Save and next patient", against what it did before (every full record read, grouped and queued on the
GUI thread), measured in the same process on the same session.

    .venv/bin/python -m bench.patient_form [--images 100000]

Now: the queue is made from the rows' list entries in a worker thread, and only the patient shown has full records
read. Reported: the GUI thread's share of opening the form (its constructor, then showing the patient when the queue
arrives) and the wall time until the patient is shown.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from bench.worklist import fill, large_session_arguments
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.patient_queue import to_grade
from ran_desktop.engine.records.review_session import ReviewSession
from ran_desktop.engine.records.storage import Storage
from ran_desktop.gui.patient_form import PatientForm
from ran_desktop.gui.results_model import ResultsTableModel


def before(results: ResultsTableModel) -> float:
    """Finding the next patient as it was: every full record read, grouped and queued on the GUI thread."""
    started = time.perf_counter()
    waiting = to_grade(group_by_patient(results.records()))
    assert waiting
    return time.perf_counter() - started


def now(results: ResultsTableModel, store: Storage, session: int, target: Path) -> tuple[float, float]:
    """(GUI-thread seconds, wall seconds until the form shows the first patient)."""
    held = [0.0]
    constructing = [True]  # a small list is queued inside the constructor, whose time is counted whole
    original = PatientForm._show_found

    def timed_show(form: PatientForm, asked: int, found: object) -> None:
        t0 = time.perf_counter()
        original(form, asked, found)  # type: ignore[arg-type]  # the queue's answer, passed on unchanged
        if not constructing[0]:
            held[0] += time.perf_counter() - t0

    PatientForm._show_found = timed_show  # type: ignore[method-assign]  # the GUI thread's part, timed
    try:
        started = time.perf_counter()
        form = PatientForm(results.entries, results.records_of, (), ReviewSession(store, session), lambda: "Dr Bench",
                           "open", lambda _record: None, target)
        held[0] += time.perf_counter() - started
        constructing[0] = False
        while form.group is None:
            QApplication.processEvents()
            time.sleep(0.001)
        wall = time.perf_counter() - started
        form.done(0)
    finally:
        PatientForm._show_found = original  # type: ignore[method-assign]
    return held[0], wall


def main() -> None:
    args = large_session_arguments(__doc__.split("\n")[0])
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "bench.sqlite3"
        with Storage(target) as store:
            session = fill(store, args.images)
            fresh = ResultsTableModel()
            fresh.set_records(store.list_session(session))
            held, wall = now(fresh, store, session, target)  # on a list whose records are unread, as when opened
            read_now = fresh.records_read()
            old = ResultsTableModel()
            old.set_records(store.list_session(session))
            reference = before(old)
    print(json.dumps({"images": args.images, "before: GUI thread held (s)": round(reference, 2),
                      "now: GUI thread held (s)": round(held, 3), "now: until shown (s)": round(wall, 2),
                      "now: records read": read_now, "held, now / before": round(held / reference, 3)}, indent=1))


if __name__ == "__main__":
    main()
