"""The Qt binding keeps Python's reference counts.

PySide6 6.12.0 on Python 3.11 lost a reference to None on every call returning None; the worklist, which Qt asks
for data thousands of times a second while it scrolls, then aborted the app ("none_dealloc"). These drive the
worklist's data paths and the binding's void calls many thousands of times in a child process (a binding with the
defect aborts the interpreter there, not the test run) and check that None's reference count does not fall.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from ran_desktop.gui.binding_check import binding_problem, none_references_lost

WORKLIST = textwrap.dedent(
    r"""
    import dataclasses, os, sys
    from pathlib import Path
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from ran_desktop.engine.model.bundle import load_bundle
    from ran_desktop.engine.records.review import ImageRecord
    from ran_desktop.engine.screening.screener import Screener
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QTableView
    from ran_desktop.gui.results_filter import ResultsFilterProxy
    from ran_desktop.gui.results_model import ResultsTableModel

    app = QApplication([])
    bundle, sample = Path(sys.argv[1]), Path(sys.argv[2])
    result = next(iter(Screener(load_bundle(bundle, device="cpu")).screen([sample])))
    records = [ImageRecord(i, dataclasses.replace(result, key=f"k{i}", path=Path(f"/photos/eye{i:04d}_OD.jpg")))
               for i in range(2000)]
    model = ResultsTableModel()
    model.set_records(records)
    proxy = ResultsFilterProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    view.setModel(proxy)
    view.resize(1280, 800)
    view.show()
    roles = [Qt.ItemDataRole(r) for r in (0, 1, 3, 4, 6, 7, 8, 9, 10, 13)] + [Qt.ItemDataRole.UserRole + 1]
    before = sys.getrefcount(None)
    calls = 0
    for step in range(40):  # every paint asks multiData for each visible cell's roles
        view.scrollTo(proxy.index(step * 50, 1))
        view.viewport().grab()
        calls += 1
    for row in range(0, 2000, 4):  # and the plain data path, role by role
        for column in range(proxy.columnCount()):
            index = proxy.index(row, column)
            for role in roles:
                proxy.data(index, role)
                calls += 1
    print("lost", before - sys.getrefcount(None), "calls", calls, flush=True)
    """
)


def test_the_worklists_data_paths_keep_none_alive(tiny_bundle, sample_path):
    run = subprocess.run([sys.executable, "-c", WORKLIST, str(tiny_bundle), str(sample_path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"the child died (rc {run.returncode}):\n{run.stderr[-3000:]}"
    words = run.stdout.split()
    lost, calls = int(words[words.index("lost") + 1]), int(words[words.index("calls") + 1])
    assert calls > 40_000
    # A sound binding may keep a handful more references (caches); the defect loses one per call.
    assert lost < 100, f"{lost} references to None lost in {calls} calls"


def test_void_calls_keep_none_alive():
    run = subprocess.run(
        [sys.executable, "-c", "from ran_desktop.gui.binding_check import none_references_lost as n; "
                               "print(n(20_000))"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert int(run.stdout) < 100


def test_the_installed_binding_passes_the_start_up_check():
    assert none_references_lost() < 10
    assert binding_problem() is None
