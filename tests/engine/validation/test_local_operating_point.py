"""Adopting a local operating point (issue 19, item 2): a sealed file beside the data, bound to the bundle's weights,
logged with who did it; used by every batch screened afterwards and named on results and reports; results screened
before keep their threshold; one call goes back."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.patient_groups import group_by_patient
from ran_desktop.engine.records.storage import DATABASE_NAME, Storage
from ran_desktop.engine.screening.batch import BatchRun
from ran_desktop.engine.validation import operating_point as lop
from ran_desktop.engine.validation.calibration import propose_threshold
from ran_desktop.reports import ReportContext, build_patient_report

SHA = "ab" * 32


@pytest.fixture
def proposal():
    return propose_threshold([(k / 10, True) for k in range(1, 11)] + [(k / 20, False) for k in range(1, 11)], 0.9)


def test_adopt_read_back_and_revert_are_logged(tmp_path, proposal):
    point = lop.adopt(tmp_path, proposal, "ran18-test 1.0", SHA, "Dr A")
    assert lop.current(tmp_path, SHA) == point and point.threshold == pytest.approx(0.2)
    assert point.words().startswith("threshold set locally on 20 reviewed images on ") and point.words().endswith(
        " by Dr A")
    assert lop.current(tmp_path, "cd" * 32) is None  # other weights: the bundle's own threshold
    lop.revert(tmp_path, "Dr B")
    assert lop.current(tmp_path, SHA) is None
    assert [e["action"] for e in lop.history(tmp_path)] == ["adopted", "reverted to the bundle's threshold"]
    assert lop.history(tmp_path)[1]["by"] == "Dr B"


def test_nobody_adopts_anonymously(tmp_path, proposal):
    with pytest.raises(ValueError, match="log records who"):
        lop.adopt(tmp_path, proposal, "b", SHA, " ")
    assert lop.current(tmp_path, SHA) is None and lop.history(tmp_path) == []


def test_an_edited_file_is_not_used(tmp_path, proposal):
    lop.adopt(tmp_path, proposal, "b", SHA, "Dr A")
    path = tmp_path / lop.FILE_NAME
    data = json.loads(path.read_text())
    data["threshold"] = 0.99  # within any plausible range, but not what was adopted
    path.write_text(json.dumps(data))
    assert lop.current(tmp_path, SHA) is None


def test_batches_use_it_and_results_and_reports_say_so(tmp_path, hesitant_bundle, sample_path, proposal):
    loaded = load_bundle(hesitant_bundle, device="cpu")
    sha = loaded.manifest.weights["sha256"]
    database = tmp_path / DATABASE_NAME
    with Storage(database) as storage:
        session = storage.current_session()

    def screen() -> list:
        stored = []
        BatchRun(loaded, database, session, [sample_path]).run(lambda n: None, lambda r, d, t: stored.append(r))
        return stored

    (before,) = screen()
    assert before.result.model.referable_threshold is None and before.result.model.threshold_source == ""
    lop.adopt(tmp_path, proposal, loaded.manifest.title, sha, "Dr A")
    copy = tmp_path / "again"
    copy.mkdir()
    (copy / "same_OS.jpg").write_bytes(sample_path.read_bytes())
    stored = []
    BatchRun(loaded, database, session, [copy]).run(lambda n: None, lambda r, d, t: stored.append(r))
    (after,) = stored
    assert after.result.model.referable_threshold == pytest.approx(0.2)
    assert "threshold set locally on 20 reviewed images" in after.result.model.threshold_source
    with Storage(database) as storage:
        kept = {r.key: r for r in storage.load_session(session)}
    assert kept[before.key].result.model.referable_threshold is None  # screened before: keeps its threshold
    assert kept[after.key].result.model.threshold_source == after.result.model.threshold_source
    group = group_by_patient([kept[after.key]])[0]
    pdf = build_patient_report(group, ReportContext.for_model(loaded, clinic_name="Clinic", grader="G"))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "threshold set locally on 20 reviewed images" in text and "by Dr A, not the bundle's own" in text
