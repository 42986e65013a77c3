"""10. A local fine-tune (issue 19): the bundle under test fine-tuned on 500 reviewed images at its own input size, as
`ran-finetune` and the app's fine-tune window run it, within 30 minutes on the 2-core CPU.

The reviewed images are synthetic photographs with known grades (the generator's, at 1024 px), screened into a
session database by the app's own batch and decided by "a grader" through the review service, exactly as a clinic's
would be. The baseline is screening the same images with the same bundle (what the clinic already waited for).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from bench.common import Context, Section

TARGET_S = 30 * 60.0


def reviewed_clinic(ctx: Context, count: int, size: int) -> tuple[Path, float]:
    """A data folder whose session database holds `count` screened and reviewed images; and the screening's seconds."""
    from ran_desktop.engine.model.bundle import load_bundle
    from ran_desktop.engine.records.review import GraderDecision
    from ran_desktop.engine.records.review_session import ReviewSession
    from ran_desktop.engine.records.storage import DATABASE_NAME, Storage
    from ran_desktop.engine.screening.batch import BatchRun
    from training.synthetic import write_dataset

    photos = ctx.scratch / f"finetune_photos_{count}_{size}"
    if not (photos / "labels.csv").is_file():
        write_dataset(photos, count, seed=19, size=size, workers=2)
    truth = {Path(row["image"]).name: (int(row["dr"]), int(row["dme"]), row["patient"])
             for row in csv.DictReader(open(photos / "labels.csv", encoding="utf-8"))}
    clinic = ctx.scratch / f"finetune_clinic_{count}"
    clinic.mkdir(exist_ok=True)
    database = clinic / DATABASE_NAME
    database.unlink(missing_ok=True)
    storage = Storage(database)
    session = ReviewSession(storage, storage.current_session())
    stored: list = []
    started = time.perf_counter()
    BatchRun(load_bundle(ctx.model_dir, device="cpu"), database, session.session_id,
             [photos / "images"]).run(lambda n: None, lambda r, done, total: stored.append(r))
    screening = time.perf_counter() - started
    for record in stored:
        dr, dme, patient = truth[record.result.path.name]
        session.record_decision(record, GraderDecision(dr, dme, patient_id=patient), "Dr Bench")
    storage.close()
    return clinic, screening


def run(ctx: Context, section: Section) -> dict:
    from training.local_bundle import finetune_local

    count = ctx.n(500, 16)
    clinic, screening = reviewed_clinic(ctx, count, ctx.n(1024, 320))
    epochs = ctx.n(8, 1)
    stages: dict[str, float] = {}
    last = [time.perf_counter(), "checking"]

    def report(event: dict) -> None:  # the time spent in each stage, as the app's window would show them
        now = time.perf_counter()
        stages[str(last[1])] = stages.get(str(last[1]), 0.0) + now - float(last[0])
        last[0], last[1] = now, event["stage"]

    started = time.perf_counter()
    result = finetune_local(clinic, ctx.model_dir, epochs=epochs, max_batches_per_epoch=2 if ctx.quick else None,
                            min_images=4 if ctx.quick else None, report=report)
    seconds = time.perf_counter() - started
    section.add(f"fine-tune on {count} reviewed images, {epochs} epochs, export and comparison", seconds, "s",
                baseline=screening, ratio=seconds / screening, target=f"< {TARGET_S / 60:.0f} min",
                passed=seconds < TARGET_S)
    section.add(f"screening the same {count} images (baseline)", screening, "s")
    for stage, spent in stages.items():
        section.add(f"  stage: {stage}", spent, "s")
    held = result["held_out"]
    for who in ("parent", "local"):
        referable = held[who].get("referable", {})
        section.add(f"held-out referable sensitivity / AUC, {who}",
                    f"{referable.get('sensitivity', float('nan')):.3f} / {referable.get('auc', float('nan')):.3f}", "")
    section.add("worse than its parent on the held-out images", str(result["worse_than_parent"]), "")
    section.notes.append(f"synthetic photographs (the generator's, {ctx.n(1024, 320)} px, grades known) screened by "
                         "the app's batch into a session database and decided through the review service; then "
                         "training.local_bundle.finetune_local as ran-finetune runs it, at the bundle's own input size")
    return {"seconds": seconds, "screening_s": screening}
