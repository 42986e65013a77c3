"""9. Local validation: the performance view's figures over many reviewed images (issue 19: 100,000 in under 1 s)."""

from __future__ import annotations

import random
from pathlib import Path

from bench.common import Context, Section, median_time

TARGET_MS = 1000.0


def reviewed_records(count: int, seed: int = 0) -> list:
    """`count` reviewed images as the database gives them back: a model's probabilities and a grader's decision."""
    from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
    from ran_desktop.engine.records.review import GraderDecision, ImageRecord

    rng = random.Random(seed)
    info = ModelInfo("ran18-bench", "1.0", "bench", False, True, "", "CPU", referable_threshold=0.47)
    out = []
    for i in range(count):
        dr = [rng.random() for _ in range(5)]
        dme = [rng.random() for _ in range(3)]
        result = ScreeningResult(f"k{i}", Path(f"/photos/{i}.jpg"), Status.SCREENED, info,
                                 dr_probs=tuple(p / sum(dr) for p in dr), dme_probs=tuple(p / sum(dme) for p in dme))
        decision = GraderDecision(rng.randrange(5), rng.randrange(3), grader="G",
                            decided_at=f"2026-{rng.randrange(1, 13):02d}-01T00:00:00+00:00")
        out.append(ImageRecord(i, result, decision=decision))
    return out


def run(ctx: Context, section: Section) -> dict:
    from ran_desktop.engine.validation.agreement import local_validation
    from ran_desktop.engine.validation.calibration import fit_temperature, labelled_scores, propose_threshold

    count = ctx.n(100_000, 2_000)
    records = reviewed_records(count)
    repeats = ctx.n(3, 1)
    # The baseline: one pass that only reads every record's grades (what any view of them costs at least).
    baseline = median_time(lambda: sum(1 for r in records if r.result.grades and r.decision), repeats=repeats)
    figures = median_time(lambda: local_validation(records), repeats=repeats)

    def proposal() -> None:
        scores = labelled_scores(records)
        propose_threshold(scores)
        fit_temperature(scores)

    proposing = median_time(proposal, repeats=repeats)
    section.add(f"agreement figures over {count} reviewed images", figures * 1000, "ms", baseline=baseline * 1000,
                ratio=figures / baseline, target=f"< {TARGET_MS:.0f} ms", passed=figures * 1000 < TARGET_MS)
    section.add(f"threshold proposal and temperature fit over {count}", proposing * 1000, "ms",
                baseline=baseline * 1000, ratio=proposing / baseline)
    section.notes.append("records built in memory as the database returns them; the baseline reads every record's "
                         "grades once. Loading them from the database is not included.")
    return {"figures_ms": figures * 1000, "proposal_ms": proposing * 1000}
