"""The Patients tab on a 100,000-image session: how long the window's GUI thread is held when the tab regroups,
against what it did before (every full record read, grouped and every patient unfolded, all on the GUI thread),
measured in the same process on the same session.

    .venv/bin/python -m bench.patient_view [--images 100000]

Now: the rows' list entries are grouped in a worker thread and the GUI thread only resets the tree (patients
folded beyond `patient_panel.EXPAND_ALL_UP_TO`). Reported: the GUI thread's share (the refresh call, then the
tree's reset when the grouping arrives), and the wall time until the tree shows it.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from bench.worklist import fill, large_session_arguments
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.storage import Storage
from ran_desktop.gui.patient_panel import PatientPanel
from ran_desktop.gui.results_model import ResultsTableModel


def before(results: ResultsTableModel) -> float:
    """The tab's refresh as it was: full records, grouped, every patient unfolded, on the GUI thread."""
    panel = PatientPanel()
    started = time.perf_counter()
    groups = group_by_patient(results.records())
    panel.model.set_groups(groups)  # type: ignore[arg-type]  # records then, entries now: the same tree
    panel.tree.expandAll()
    QApplication.processEvents()
    return time.perf_counter() - started


def now(results: ResultsTableModel) -> tuple[float, float]:
    """(GUI-thread seconds, wall seconds until the tree shows the grouping)."""
    panel = PatientPanel()
    arrived: list[float] = []
    panel.regrouped.connect(lambda: arrived.append(time.perf_counter()))
    original = panel._show_groups
    held = [0.0]

    def timed_show(refresh: int, grouped: tuple) -> None:
        t0 = time.perf_counter()
        original(refresh, grouped)
        held[0] += time.perf_counter() - t0

    panel._show_groups = timed_show  # type: ignore[method-assign]  # the GUI thread's part, timed
    started = time.perf_counter()
    panel.refresh(results.entries(), results.record_by_key)
    held[0] += time.perf_counter() - started
    while not arrived:
        QApplication.processEvents()
        time.sleep(0.001)
    panel.shutdown()
    return held[0], arrived[0] - started


def main() -> None:
    args = large_session_arguments(__doc__.split("\n")[0])
    with tempfile.TemporaryDirectory() as scratch, Storage(Path(scratch) / "bench.sqlite3") as store:
        session = fill(store, args.images)
        fresh = ResultsTableModel()
        fresh.set_records(store.list_session(session))
        held, wall = now(fresh)  # first, on a list whose records are unread, as when a session has just opened
        old = ResultsTableModel()
        old.set_records(store.list_session(session))
        reference = before(old)
    print(json.dumps({"images": args.images, "before: GUI thread held (s)": round(reference, 2),
                      "now: GUI thread held (s)": round(held, 3), "now: until shown (s)": round(wall, 2),
                      "held, now / before": round(held / reference, 3)}, indent=1))


if __name__ == "__main__":
    main()
