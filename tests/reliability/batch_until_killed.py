"""Screen a folder into the session database the way the app does, and record a grader decision for each image.

    python batch_until_killed.py DATABASE MODEL_FOLDER PHOTO_FOLDER

Runs the app's own batch-to-storage path (engine.screening.batch.BatchRun: one commit per result) in this process
while a second connection, as the window has, saves a decision for every stored image. Prints "stored ID KEY" after each
result is committed and "decided ID DR DME" after each decision is committed, so whoever kills this process knows
exactly what it had been told was saved.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.review import OVERRIDDEN, GraderDecision, ImageRecord
from ran_desktop.engine.records.storage import Storage
from ran_desktop.engine.screening.batch import BatchRun


def main() -> int:
    database, model, photos = (Path(a) for a in sys.argv[1:4])
    loaded = load_bundle(model, device="cpu")
    window = Storage(database)  # the window's own connection; the batch opens another
    session = window.current_session()

    def on_record(record: ImageRecord, done: int, total: int) -> None:
        print(f"stored {record.image_id} {record.key}", flush=True)
        dr, dme = record.image_id % 5, record.image_id % 3
        window.save_decision(record.image_id, GraderDecision(dr, dme, kind=OVERRIDDEN, grader="Dr Kill"))
        print(f"decided {record.image_id} {dr} {dme}", flush=True)

    BatchRun(loaded, database, session, [photos]).run(lambda total: print(f"planned {total}", flush=True), on_record)
    print("finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
