"""Write results onto a disk that is full, then read-only, and report what happened (run by test_atomic_writes).

    python disk_trouble.py MOUNT_POINT MODEL_FOLDER PHOTO

MOUNT_POINT must be a small file system of its own (a tmpfs in a private mount namespace) that this process may
fill and remount read-only. Prints one JSON object.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

from ran_desktop.cli.screen import main as screen_main
from ran_desktop.engine.errors import WriteError
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status, write_results
from ran_desktop.engine.records.review import GraderDecision, ImageRecord
from ran_desktop.engine.records.session_export import write_session
from ran_desktop.engine.records.storage import Storage, StorageError

OLD = "the results written yesterday\n"


def main() -> int:
    mount, model, photo = (Path(a) for a in sys.argv[1:4])
    folder = mount / "exports"
    folder.mkdir()
    info = ModelInfo("ran18", "1.0", "data", False, True, "", "CPU")
    results = [ScreeningResult(f"/clinic/eye{i}.jpg", Path(f"/clinic/eye{i}.jpg"), Status.ERROR, info,
                               error="x" * 400) for i in range(200)]
    records = [ImageRecord(image_id=i, result=r) for i, r in enumerate(results)]
    report: dict[str, object] = {}
    for name in ("results.csv", "session.json", "cli.csv"):
        (folder / name).write_text(OLD, encoding="utf-8")
    (mount / "heatmaps").mkdir()
    store = Storage(mount / "db.sqlite3")
    session = store.new_session()
    first = store.save_result(session, results[0])
    store.save_decision(first.image_id, GraderDecision(dr_grade=2, dme_grade=0, grader="Dr Full"))

    _fill(mount / "filler")
    report["database_full"] = _fill_database(store, session, results)
    store.close()
    report["full"] = {
        "results": _attempt(lambda: write_results(results, folder / "results.csv")),
        "session": _attempt(lambda: write_session(records, folder / "session.json")),
        "cli": _cli([str(photo), "--out", str(folder / "cli.csv"), "--model", str(model), "--device", "cpu",
                     "--quiet", "--heatmaps", str(mount / "heatmaps")]),
        "files": _files(folder),
        "heatmaps": sorted(p.name for p in (mount / "heatmaps").iterdir()),
    }
    (mount / "filler").unlink()
    with Storage(mount / "db.sqlite3") as reopened:
        kept = reopened.load_session(session)
        report["database_full"]["kept"] = len(kept)
        report["database_full"]["decision_kept"] = kept[0].decision is not None and kept[0].decision.dr_grade == 2
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    report["read_only"] = {
        "results": _attempt(lambda: write_results(results, folder / "results.csv")),
        "session": _attempt(lambda: write_session(records, folder / "session.json")),
        "cli": _cli([str(photo), "--out", str(folder / "cli.csv"), "--model", str(model), "--device", "cpu",
                     "--quiet"]),
        "files": _files(folder),
    }
    print(json.dumps(report))
    return 0


def _fill(path: Path) -> None:
    """Write until the file system has no byte left."""
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0")
        except OSError:
            pass


def _fill_database(store: Storage, session: int, results: list) -> dict[str, object]:
    """Save results with 16 KB thumbnails until the full disk refuses one; what the user would be told."""
    saved = 0
    for result in results[1:]:
        try:
            store.save_result(session, result, thumbnail=bytes(16384))
        except StorageError as exc:
            return {"saved_after_full": saved, "error": f"StorageError: {exc}"}
        except Exception as exc:  # what the grader once saw as a crash dialog
            return {"saved_after_full": saved, "error": f"{type(exc).__name__}: {exc}"}
        saved += 1
    return {"saved_after_full": saved, "error": None}


def _attempt(write) -> str:
    try:
        write()
    except WriteError as exc:
        return f"WriteError: {exc.reason}"
    return "written"


def _cli(argv: list[str]) -> dict[str, object]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = screen_main(argv)
    return {"code": code, "stderr": err.getvalue()}


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


if __name__ == "__main__":
    sys.exit(main())
