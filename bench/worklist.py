"""Opening a large worklist: a session of 100,000 screened images (each with its thumbnail, a quarter of them
decided), read from the session database into the window's list, on SQLite and on PostgreSQL.

    .venv/bin/python -m bench.worklist [--images 100000] [--postgres URL]

"Opens" is what the window does when a session is opened: `Storage.list_session` (every row's list entry),
`ResultsTableModel.set_records` behind the window's filter proxy, and the first screenful of rows drawn (their
records read, a page at once), timed together. Two references in the same process: the bare query that fetches the
list's columns with the driver alone (the database's own share), and reading every full record
(`Storage.load_session`, what the list did before it read records as rows are shown). Thumbnails are not read when
a list opens; the rows the grader sees fetch theirs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from ran_desktop.engine.imaging.loading import Eye, ImageMetadata
from ran_desktop.engine.imaging.quality_report import QualityReport
from ran_desktop.engine.records.data_folder import utc_now
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.engine.records.rows import SELECT_ENTRIES, decision_row, result_row, to_json
from ran_desktop.engine.records.storage import Storage
from ran_desktop.engine.records.tables import audit, decisions, images, thumbnails

TARGET_SECONDS = 1.0
POSTGRES_ENV = "RAN_TEST_POSTGRES_URL"


def _result(i: int, rng: random.Random) -> ScreeningResult:
    dr = [rng.random() for _ in range(5)]
    dme = [rng.random() for _ in range(3)]
    dr = [v / sum(dr) for v in dr]
    dme = [v / sum(dme) for v in dme]
    meta = ImageMetadata(source_format="JPEG", original_size=(4288, 2848), bit_depth=8, color_model="RGB",
                         eye=Eye.RIGHT if i % 2 else Eye.LEFT, patient_id=f"P{i // 2:06d}",
                         content_sha256=f"{i:064x}")
    quality = QualityReport(gradable=True, reasons=(), scores={"focus": 0.8, "illumination": 0.9, "fov": 0.95})
    info = ModelInfo("ran18-real", "0.5.0", "IDRiD", True, True, "not validated", "CPU")
    return ScreeningResult(f"/archive/{i:06d}.jpg#{i:x}", Path(f"/archive/{i:06d}.jpg"), Status.SCREENED, info,
                           metadata=meta, quality=quality, dr_probs=tuple(dr), dme_probs=tuple(dme),
                           timings_ms={"load": round(rng.uniform(20, 80), 1),
                                       "model": round(rng.uniform(90, 200), 1)})


def fill(store: Storage, count: int, seed: int = 0) -> int:
    """A session of `count` images in bulk (one transaction), each with a 5 KB thumbnail, every fourth decided."""
    rng = random.Random(seed)
    thumbnail = bytes(rng.getrandbits(8) for _ in range(5000))
    session = store.new_session()
    now = utc_now()
    with store._transaction() as db:
        for start in range(0, count, 5000):
            rows = [{**result_row(session, _result(i, rng), now), "screen_order": i + 1}
                    for i in range(start, min(count, start + 5000))]
            db.execute(insert(images), rows)
        ids = list(db.execute(select(images.c.id).where(images.c.session_id == session).order_by(images.c.id))
                   .scalars())
        for start in range(0, len(ids), 5000):
            db.execute(insert(thumbnails), [{"image_id": i, "jpeg": thumbnail} for i in ids[start:start + 5000]])
        decided = [image_id for n, image_id in enumerate(ids) if n % 4 == 0]
        graded = GraderDecision(1, 0, grader="Dr Bench", decided_at=now)
        decision, audited = decision_row(graded), to_json(graded.to_dict())
        for start in range(0, len(decided), 5000):
            chunk = decided[start:start + 5000]
            db.execute(insert(decisions), [{"image_id": i, **decision}
                                           for i in chunk])
            db.execute(insert(audit), [{"image_id": i, "image_key": "k", "action": "decision", "previous": None,
                                        "new": audited, "grader": "Dr Bench", "at": now} for i in chunk])
    return session


def bare_query_seconds(store: Storage, session: int) -> float:
    """The driver alone fetching the list's columns: the database's own share of opening the list."""
    query = SELECT_ENTRIES.where(images.c.session_id == session).order_by(images.c.id)
    started = time.perf_counter()
    with store._read() as db:
        compiled = query.compile(db)
        rows = db.exec_driver_sql(str(compiled), _driver_parameters(compiled)).fetchall()
    assert len(rows) > 0
    return time.perf_counter() - started


def _driver_parameters(compiled: Any) -> Any:
    if compiled.positiontup is not None:  # SQLite: positional parameters (?)
        return tuple(compiled.params[name] for name in compiled.positiontup)
    return compiled.params


def large_session_arguments(description: str) -> argparse.Namespace:
    """--images (default 100,000) for a benchmark of the window's parts on a large session, Qt made offscreen."""
    from PySide6.QtWidgets import QApplication

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--images", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    QApplication.instance() or QApplication([])
    return args


def open_seconds(store: Storage, session: int, screenful: int = 40) -> float:
    """Listing the session in the window's model and proxy and drawing its first screenful of rows."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from ran_desktop.gui.results_filter import ResultsFilterProxy
    from ran_desktop.gui.results_model import ResultsTableModel

    QApplication.instance() or QApplication([])
    model = ResultsTableModel()
    proxy = ResultsFilterProxy()
    proxy.setSourceModel(model)
    started = time.perf_counter()
    model.set_records(store.list_session(session))
    for row in range(min(screenful, proxy.rowCount())):
        for column in range(proxy.columnCount()):
            proxy.data(proxy.index(row, column), Qt.ItemDataRole.DisplayRole)
    elapsed = time.perf_counter() - started
    assert proxy.rowCount() == model.rowCount() > 0
    return elapsed


def full_records_seconds(store: Storage, session: int) -> float:
    started = time.perf_counter()
    assert store.load_session(session, thumbnails=False)
    return time.perf_counter() - started


def measure(target: str | Path, count: int) -> dict[str, Any]:
    with Storage(target) as store:
        session = fill(store, count)
        if store.dialect == "postgresql":
            with store._transaction() as db:
                db.execute(text("ANALYZE"))
        opened = min(open_seconds(store, session) for _ in range(3))
        bare = min(bare_query_seconds(store, session) for _ in range(3))
        full = full_records_seconds(store, session)
    return {"images": count, "open_s": round(opened, 3), "bare_query_s": round(bare, 3),
            "open_vs_bare": round(opened / bare, 2), "full_records_s": round(full, 3),
            "full_vs_open": round(full / opened, 1), "target_s": TARGET_SECONDS, "met": opened < TARGET_SECONDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get(POSTGRES_ENV, ""),
                        help=f"a PostgreSQL URL whose role may create databases (default: ${POSTGRES_ENV})")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        results["sqlite"] = measure(Path(scratch) / "bench.sqlite3", args.images)
    if args.postgres:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"ran_bench_{os.getpid()}"
        with admin.connect() as db:
            db.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            results["postgresql"] = measure(url, args.images)
        finally:
            with admin.connect() as db:
                db.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
