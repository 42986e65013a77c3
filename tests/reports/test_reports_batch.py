"""The batch summary PDF: every patient and image, the counts, referable patients highlighted."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader
from report_fixtures import GRADER, Batch, batch_fixture, page_texts, pdf_text  # noqa: F401 (fixtures)
from reportlab.lib.rl_accel import fp_str

from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES, Outcome
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import GraderDecision
from ran_desktop.reports import ReportContext, batch_counts, build_batch_summary
from ran_desktop.reports.layout import REFERABLE_BG

WHEN = datetime(2024, 1, 17, 9, 30, tzinfo=UTC)
REFERABLE_FILL = f"{fp_str(*REFERABLE_BG.rgb())} rg"


def context(batch: Batch) -> ReportContext:
    return ReportContext.for_model(batch.loaded, clinic_name="Eye Clinic North", grader=GRADER, generated_at=WHEN)


def fills(data: bytes) -> str:
    return "".join(page.get_contents().get_data().decode("latin-1") for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture(scope="module")
def summary(batch: Batch) -> bytes:
    return build_batch_summary(batch.groups, context(batch))


def test_counts_match_the_records(batch: Batch) -> None:
    # Counted here independently of the report code, from the records themselves.
    readable = [r for r in batch.records if r.status is not Status.ERROR]
    graded = [r.grades for r in readable if r.grades[0] is not None]
    counts = batch_counts(batch.groups)
    assert counts.patients == 5  # P-0042, P-0043, P-0044 and two unidentified files, each on its own
    assert counts.images == 6
    assert counts.unreadable == 1
    assert counts.ungradable == 1
    assert counts.reviewed == 2
    assert counts.overridden == 1
    assert counts.dr == tuple(sum(1 for dr, _ in graded if dr == g) for g in range(len(DR_GRADE_NAMES)))
    assert counts.dme == tuple(sum(1 for _, dme in graded if dme == g) for g in range(len(DME_GRADE_NAMES)))
    assert sum(counts.dr) == 4
    outcomes = dict(counts.outcomes)
    assert outcomes[Outcome.URGENT_REFERRAL] >= 1  # P-0042, by the grader's severe grade
    assert outcomes[Outcome.UNGRADABLE] >= 1  # P-0043
    assert counts.no_outcome_patients == 1  # the letter
    assert sum(outcomes.values()) + counts.no_outcome_patients == counts.patients


def test_summary_lists_every_patient_and_image(batch: Batch, summary: bytes) -> None:
    text = pdf_text(summary)
    for expected in ("P-0042 · Ødegård, Åse", "P-0043 · Иванова, Мария", "P-0044 · 山田, 太郎",
                     "Unidentified (walkin_OS.jpg)", "Unidentified (letter.jpg)"):
        assert expected in text, expected
    for record in batch.records:
        assert record.result.path.name in text
    assert "Eye Clinic North" in text and GRADER in text
    assert batch.loaded.manifest.clinical_warning in text


def test_summary_prints_the_counts(batch: Batch, summary: bytes) -> None:
    counts = batch_counts(batch.groups)
    text = pdf_text(summary)
    overview = re.search(r"Changed by the grader (\d+) (\d+) (\d+) (\d+) (\d+) (\d+ of \d+) (\d+)", text)
    assert overview is not None
    assert overview.groups() == (
        str(counts.patients), str(counts.referable_patients), str(counts.images), str(counts.ungradable),
        str(counts.unreadable), f"{counts.reviewed} of {counts.readable}", str(counts.overridden),
    )
    dr = re.search(r"4 – Proliferative DR count (\d+) (\d+) (\d+) (\d+) (\d+)", text)
    assert dr is not None and tuple(int(n) for n in dr.groups()) == counts.dr
    dme = re.search(r"2 – DME at or near the fovea count (\d+) (\d+) (\d+)", text)
    assert dme is not None and tuple(int(n) for n in dme.groups()) == counts.dme


def test_referable_patients_are_highlighted(batch: Batch, summary: bytes) -> None:
    counts = batch_counts(batch.groups)
    assert counts.referable_patients >= 1
    text = pdf_text(summary)
    assert text.count("REFERABLE") == counts.referable_patients
    assert re.search(r"P-0042 · Ødegård, Åse REFERABLE Outcome: urgent referral", text)
    assert REFERABLE_FILL in fills(summary)


def test_nothing_is_highlighted_when_nobody_is_referable(batch: Batch) -> None:
    # Every readable image graded "no DR, no DME" by the grader.
    nothing = GraderDecision(0, 0, kind="overridden", grader=GRADER)
    records = [r if r.status is Status.ERROR else r.with_decision(nothing) for r in batch.records]
    data = build_batch_summary(group_by_patient(records), context(batch))
    assert batch_counts(group_by_patient(records)).referable_patients == 0
    assert "REFERABLE" not in pdf_text(data)
    assert REFERABLE_FILL not in fills(data)


def test_long_batches_continue_over_numbered_pages_with_every_patient(batch: Batch) -> None:
    template = batch.record("p42_left.dcm")
    records = []
    for i in range(60):
        assert template.decision is not None
        decision = replace(template.decision, patient_id=f"B-{i:03d}", patient_name=f"Patient {i}")
        records.append(replace(template, image_id=1000 + i, decision=decision,
                               result=replace(template.result, key=f"{template.key}#{i}")))
    groups = group_by_patient(records)
    assert len(groups) == 60
    pages = page_texts(build_batch_summary(groups, context(batch)))
    assert len(pages) >= 3
    joined = " ".join(pages)
    for i in range(60):
        assert f"B-{i:03d} · Patient {i}" in joined
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
    # the column headings repeat on every page the table continues on
    table_pages = [text for text in pages if "B-0" in text]
    assert len(table_pages) >= 2
    assert all("DR: grader" in text for text in table_pages)
