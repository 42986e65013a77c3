"""The per-patient PDF, read back with pypdf: patient data, both eyes' grades, outcome, provenance, pictures."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader
from report_fixtures import (  # noqa: F401 (fixtures)
    GRADER,
    Batch,
    batch_fixture,
    fundus,
    image_count,
    images,
    page_texts,
    pdf_text,
    with_identity,
)

from ran_desktop.engine.grading import GUIDELINE
from ran_desktop.engine.imaging.thumbnails import make_thumbnail
from ran_desktop.engine.records.patient_groups import PatientGroup, group_by_patient
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.reports import ReportContext, ReportError, build_patient_report, export_patient_reports
from ran_desktop.reports.facts import grade_label

WHEN = datetime(2024, 1, 17, 14, 5, tzinfo=timezone(timedelta(hours=1)))


def context(batch: Batch, **values: object) -> ReportContext:
    values = {"clinic_name": "Augenklinik Süd", "grader": GRADER, "generated_at": WHEN, **values}
    return ReportContext.for_model(batch.loaded, **values)


@pytest.fixture(scope="module")
def p42_pdf(batch: Batch) -> bytes:
    return build_patient_report(batch.group("id:P-0042"), context(batch))


def test_report_names_the_patient_the_exam_and_who_made_it(batch: Batch, p42_pdf: bytes) -> None:
    text = pdf_text(p42_pdf)
    for expected in ("Augenklinik Süd", "P-0042", "Ødegård, Åse", "1960-01-31", "Female", "2024-01-15", GRADER,
                     "Generated 2024-01-17 14:05 (UTC+01:00)"):
        assert expected in text, expected


def test_both_eyes_show_model_and_grader_grades_with_the_override_marked(batch: Batch, p42_pdf: bytes) -> None:
    text = pdf_text(p42_pdf)
    right, left = batch.record("p42_right.dcm"), batch.record("p42_left.dcm")
    assert "Right eye (OD)" in text and "Left eye (OS)" in text
    assert text.index("Right eye (OD)") < text.index("Left eye (OS)")
    right_part = text[text.index("Right eye (OD)"):text.index("Left eye (OS)")]
    left_part = text[text.index("Left eye (OS)"):]
    assert right.decision is not None
    # the model's proposal and the grader's changed DR grade, marked, for the right eye
    assert grade_label("dr", right.result.dr_grade) in right_part
    assert f"{grade_label('dr', right.decision.dr_grade)} (OVERRIDDEN by grader)" in right_part
    assert f"{grade_label('dme', right.decision.dme_grade)} (confirmed)" in right_part
    # the left eye was confirmed as the model graded it: nothing is marked overridden there
    assert f"{grade_label('dr', left.result.dr_grade)} (confirmed)" in left_part
    assert "OVERRIDDEN" not in left_part
    assert text.count("OVERRIDDEN by grader") == 1
    assert "Blot haemorrhages in four quadrants" in right_part


def test_outcome_follows_the_worse_eye_with_the_guideline(batch: Batch, p42_pdf: bytes) -> None:
    group = batch.group("id:P-0042")
    assert group.decision is not None
    recommendation = group.decision.recommendation
    text = pdf_text(p42_pdf)
    assert f"Outcome: {recommendation.outcome.value.upper()}" in text
    assert recommendation.follow_up in text
    assert GUIDELINE in text
    # the grader's severe grade decides: an urgent referral whatever the model proposed
    assert "URGENT REFERRAL" in text


def test_model_provenance_and_its_warning_are_printed(batch: Batch, p42_pdf: bytes) -> None:
    manifest = batch.loaded.manifest
    text = pdf_text(p42_pdf)
    assert f"{manifest.name} {manifest.version}" in text
    assert manifest.training_data["description"] in text
    assert manifest.clinical_warning and manifest.clinical_warning in text
    assert "NOT VALIDATED FOR CLINICAL USE" in text
    assert "What the heat map shows" in text and "not a map of lesions" in text
    assert "Signature" in text


def test_every_page_is_numbered_and_carries_the_warning(p42_pdf: bytes) -> None:
    pages = page_texts(p42_pdf)
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert "NOT VALIDATED FOR CLINICAL USE" in text
        assert "P-0042" in text  # a page separated from the others still says whose it is


def test_photograph_and_heat_map_are_embedded_side_by_side(p42_pdf: bytes) -> None:
    pictures = images(p42_pdf)
    assert len(pictures) == 4  # per eye: the photograph and its Grad-CAM overlay
    photo, overlay = pictures[0], pictures[1]
    assert photo.shape == overlay.shape
    # the overlay is the photograph with colour blended in: same frame, visibly different pixels
    assert np.abs(photo.astype(int) - overlay.astype(int)).mean() > 10


def test_ungradable_eye_says_reimage_or_refer_never_no_dr(batch: Batch) -> None:
    data = build_patient_report(batch.group("id:P-0043"), context(batch))
    text = pdf_text(data)
    assert "Иванова, Мария" in text
    assert "re-image or refer" in text.lower()
    assert "too dark" in text
    assert "No apparent DR" not in text
    assert "No heat map: the model does not grade an ungradable image" in text
    assert image_count(data) == 1  # the photograph only


def test_unreadable_file_gives_a_report_that_asks_for_new_images(batch: Batch) -> None:
    group = next(g for g in batch.groups if g.records[0].result.path.name == "letter.jpg")
    text = pdf_text(build_patient_report(group, context(batch)))
    assert "NO IMAGE COULD BE READ: RE-IMAGE OR REFER" in text
    assert "Unidentified (letter.jpg)" in text
    assert "No apparent DR" not in text


@pytest.mark.parametrize(
    "name",
    ["Ødegård, Åse", "Иванова Мария", "山田太郎", "김민준", "Σοφία Παπαδοπούλου", "Nguyễn Thị Minh Khai",
     "Müller-Lüdenscheidt, Jörg 王小明"],
)
def test_patient_names_in_any_script_round_trip(batch: Batch, name: str) -> None:
    record = with_identity(batch.record("letter.jpg"), "X-1", name)
    data = build_patient_report(alone(record), context(batch))
    assert name in pdf_text(data)


def test_cjk_and_latin_fonts_are_embedded_as_subsets(batch: Batch) -> None:
    data = build_patient_report(batch.group("id:P-0044"), context(batch))
    fonts = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any(f.endswith("+DejaVuSans") for f in fonts)
    assert any(f.endswith("+DroidSansFallback") for f in fonts)
    assert not any("Helvetica" in f for f in fonts)  # nothing falls back to a font the PDF does not carry
    assert "山田, 太郎" in pdf_text(data)


def test_text_that_looks_like_markup_is_printed_as_written(batch: Batch) -> None:
    name = "O'Brien <b>&amp; \"Jr\"</b>"
    record = with_identity(batch.record("letter.jpg"), "<i>ID</i>", name)
    text = pdf_text(build_patient_report(alone(record), context(batch, clinic_name="A & B <Eye> Clinic")))
    assert name in text and "<i>ID</i>" in text and "A & B <Eye> Clinic" in text


def test_clinic_logo_is_embedded(batch: Batch, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    rgba = np.zeros((60, 180, 4), np.uint8)
    rgba[10:50, 10:170] = (20, 90, 160, 255)  # a blue bar on a transparent background
    Image.fromarray(rgba, "RGBA").save(logo)
    data = build_patient_report(batch.group("id:P-0043"), context(batch, clinic_logo=logo))
    assert image_count(data) == 2  # the logo and the ungradable eye's photograph
    (logo_image,) = [img for img in images(data) if img.shape[:2] == (60, 180)]
    assert logo_image[0, 0].tolist() == [255, 255, 255]  # transparency flattened onto white, not black
    assert logo_image[30, 90].tolist() == [20, 90, 160]


def test_unreadable_logo_stops_the_export_before_anything_is_written(batch: Batch, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_text("not a picture", encoding="utf-8")
    out = tmp_path / "reports"
    with pytest.raises(ReportError, match="clinic logo .*logo.png cannot be read"):
        export_patient_reports(batch.groups, out, context(batch, clinic_logo=logo))
    assert not out.exists() or not any(out.iterdir())


def test_a_replaced_file_is_not_shown_as_this_patients_photograph(batch: Batch, tmp_path: Path) -> None:
    original = batch.record("walkin_OS.jpg")
    moved = tmp_path / "walkin_OS.jpg"
    cv2.imwrite(str(moved), cv2.cvtColor(fundus(600), cv2.COLOR_RGB2BGR))  # same name, another photograph
    stored = make_thumbnail(fundus(640))
    record = replace(original, result=replace(original.result, path=moved), thumbnail=stored)
    data = build_patient_report(alone(record), context(batch))
    assert "has changed since it was screened" in pdf_text(data)
    assert [img.shape[:2] for img in images(data)] == [(128, 128)]  # the thumbnail stored when screened


def test_a_file_that_no_longer_gives_the_screened_result_is_caught(batch: Batch) -> None:
    original = batch.record("walkin_OS.jpg")
    probs = original.result.dr_probs
    assert probs is not None
    other = tuple(np.roll(np.asarray(probs), 1).tolist())  # what a different photograph would have scored
    record = replace(original, result=replace(original.result, dr_probs=other))
    data = build_patient_report(alone(record), context(batch))
    assert "no longer gives the screened result" in pdf_text(data)
    assert image_count(data) == 0  # no thumbnail in this record: nothing shown rather than the wrong picture


def test_missing_file_falls_back_to_the_stored_thumbnail(batch: Batch, tmp_path: Path) -> None:
    original = batch.record("walkin_OS.jpg")
    record = replace(original, result=replace(original.result, path=tmp_path / "gone.jpg"),
                     thumbnail=make_thumbnail(fundus(200)))
    data = build_patient_report(alone(record), context(batch))
    assert "can no longer be read" in pdf_text(data)
    assert image_count(data) == 1


def test_no_heat_map_from_a_model_that_did_not_grade_the_image(batch: Batch) -> None:
    original = batch.record("walkin_OS.jpg")
    older = replace(original.result.model, version="0.9-older")
    record = replace(original, result=replace(original.result, model=older))
    data = build_patient_report(alone(record), context(batch))
    assert "which is not the model loaded now" in pdf_text(data)
    assert image_count(data) == 1  # the photograph, without another model's explanation over it


def alone(record: ImageRecord) -> PatientGroup:
    """The record as its own patient, grouped the way the app groups it."""
    (group,) = group_by_patient([record])
    return group


def test_footer_warning_is_never_cut_short() -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import Paragraph

    from ran_desktop.engine.records.results import ModelInfo
    from ran_desktop.reports.blocks import short_warning
    from ran_desktop.reports.layout import PageDecor, build_pdf

    def info(trained: bool, synthetic: bool) -> ModelInfo:
        return ModelInfo("m", "1", "data", synthetic=synthetic, trained=trained, warning="not validated", device="CPU")

    kinds = [info(False, False), info(True, True), info(True, False)]
    for models in ([kinds[0]], [kinds[1]], [kinds[2]], kinds):  # one model each, and the longest it gets
        warning = short_warning(models)
        pdf = build_pdf([Paragraph("body")], PageDecor("header", "footer", warning), pagesize=A4, title="t",
                        subject="s", author="a", creator="c", what="test")
        (text,) = page_texts(pdf)
        assert warning.endswith("must confirm.") and " ".join(warning.split()) in " ".join(text.split())
