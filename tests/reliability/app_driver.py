"""Drive the real desktop app in its own process, as a user would: drop files, wait, review, export, quit.

    python app_driver.py RESULT.json PATH...

Starts the app through `ran_desktop.app.main` (so logging, the crash reporter and the data folder are set up as in
production; RAN_DATA_DIR, RAN_MODELS_DIR and RAN_DEVICE come from the environment), drops PATHs on the window with
real Qt drag-and-drop events, waits for the batch, saves a grader decision on the first image that has grades and
writes RESULT.json with what the window shows. Optional environment:

    RAN_DRIVER_EXPORT=FILE   export the session (CSV or JSON) through the window's export
    RAN_DRIVER_FAULT=TEXT    then raise an unforeseen error carrying TEXT inside a Qt slot (the crash-report path)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "gui"), str(HERE.parents[1])]

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

LIMIT_S = 120


def main() -> int:
    out, *paths = sys.argv[1:]
    # created here rather than by app.main, so the timer below exists before main's event loop starts; main then
    # only warns that it is too late to set the high-DPI rounding policy, which offscreen does not use anyway
    app = QApplication(["ran-desktop"])
    state = {"started": time.monotonic(), "step": "model"}

    def finish(result: dict) -> None:
        Path(out).write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
        for widget in app.topLevelWidgets():
            widget.close()
        app.quit()

    def tick() -> None:
        from gui_helpers import drop

        from ran_desktop.engine.records.results import Status
        from ran_desktop.engine.records.review import OVERRIDDEN, GraderDecision
        from ran_desktop.gui.main_window import MainWindow

        if time.monotonic() - state["started"] > LIMIT_S:
            finish({"timeout": state["step"]})
            return
        window = next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow)), None)
        step = state["step"]
        if window is None or (step == "model" and window.controller.model_state == "loading"):
            return
        if step == "model":
            if window.controller.model_state == "failed":
                finish({"model_error": window.controller.model_error})
                return
            drop(window, [Path(p) for p in paths])
            state["step"] = "batch"
        elif step == "batch" and not window.controller.running and not window.controller.queued:
            records = window.results.records()
            graded = next((r for r in records if r.result.status is Status.SCREENED), None)
            if graded is not None:
                window.storage.save_decision(graded.image_id, GraderDecision(2, 1, kind=OVERRIDDEN, grader="Dr Driver"))
            export = os.environ.get("RAN_DRIVER_EXPORT")
            state["exported"] = None
            if export:  # written by a worker: the report step waits for it
                window.sessions.exported.connect(lambda path, written: state.update(exported=written))
                window.export_results(Path(export))
            fault = os.environ.get("RAN_DRIVER_FAULT")
            if fault:
                QTimer.singleShot(0, lambda: _raise(fault))  # from a slot: sys.excepthook, i.e. the crash reporter
            state["step"] = "report"
            state["records"] = [
                {"path": str(r.result.path), "status": r.result.status.value, "error": r.result.error}
                for r in records
            ]
        elif step == "report" and (state["exported"] is not None or not os.environ.get("RAN_DRIVER_EXPORT")):
            finish({
                "records": state["records"],
                "exported": state["exported"],
                "crash_dialog": window.reporter.dialog is not None and window.reporter.dialog.isVisible(),
                "qt_network_loaded": "PySide6.QtNetwork" in sys.modules,
            })

    def _raise(text: str) -> None:
        raise RuntimeError(text)

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(50)

    from ran_desktop.app import main as app_main

    return app_main([])


if __name__ == "__main__":
    sys.exit(main())
