"""The app's own session database as training data: every image a grader reviewed, labelled with the grader's grades.

    root/                  the app's data folder (or the database file itself)
        ran-screening.sqlite3  (or the PostgreSQL server that RAN_DATABASE_URL names)

Ungradable and unreviewed images are left out, and so is a file that no longer holds the photograph that was
graded (the label belongs to that photograph, not to whatever is at the path now). The patient is the one the app
grouped the image under (ID, else name, else the file's own key), so the split keeps a patient's eyes together; no
identifier leaves this module except as that grouping key. A fine-tune on fewer than `min_images` reviewed images is
refused: it would fit noise and could only make the model worse for this clinic.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ran_desktop.engine.errors import ImageChangedError, ImageLoadError
from ran_desktop.engine.imaging.loading import load_screened_frame
from ran_desktop.engine.records import database
from ran_desktop.engine.records.patient_groups import patient_key
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.storage import DATABASE_NAME, Storage
from ran_desktop.engine.validation.finetune_policy import MIN_IMAGES
from training.datasets.records import LoadedRecords, Record

SOURCE = "session"


def database_path(root: Path) -> Path:
    return root if root.is_file() else root / DATABASE_NAME


def detect(root: Path) -> bool:
    return database_path(root).is_file() and database_path(root).name == DATABASE_NAME


def load(root: Path, min_images: int | None = None, verify: bool = True) -> LoadedRecords:
    """Records of every reviewed, gradable image in every session of the database at (or in) `root`. `verify`
    decodes each file to check it still holds the graded photograph."""
    root = Path(root)
    target = root if root.is_file() else database.resolve(root)
    if not database.is_url(target) and not Path(target).is_file():
        raise ValueError(f"{root}: no session database ({DATABASE_NAME}) here")
    out = LoadedRecords(SOURCE)
    with Storage(target) as storage:
        records = [r for s in storage.sessions() for r in storage.load_session(s.id)]
    for record in records:
        where = f"session database image {record.image_id}"
        decision, meta = record.decision, record.result.metadata
        if record.status is Status.ERROR or decision is None:
            continue
        if decision.ungradable:
            continue
        if meta is not None and meta.frame_index is not None:
            out.skip(where, "a frame of a multi-frame file (training reads whole files)")
            continue
        path = record.result.path
        if verify:
            try:
                load_screened_frame(path, None, meta.content_sha256 if meta is not None else None, min_side=64)
            except ImageChangedError:
                out.skip(where, f"{path.name} no longer holds the photograph that was graded")
                continue
            except ImageLoadError as exc:
                out.skip(where, f"{path.name} cannot be read ({exc.reason})")
                continue
        # The grouping key, hashed: it keeps a patient's eyes on one side of the split without carrying the
        # patient's ID or name into run folders and logs.
        patient = hashlib.sha256(patient_key(record).encode("utf-8")).hexdigest()[:16]
        assert decision.dr_grade is not None and decision.dme_grade is not None
        out.add(Record(image=path.resolve(), dr=decision.dr_grade, dme=decision.dme_grade, patient=patient,
                       eye=record.eye, source=SOURCE), where)
    min_images = MIN_IMAGES if min_images is None else min_images
    if len(out) < min_images:
        raise ValueError(f"{database.describe(target)}: only {len(out)} reviewed, gradable image(s); a fine-tune "
                         f"needs at least {min_images} (fewer would fit noise and could make the model worse here)")
    return out
