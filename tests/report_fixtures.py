"""Shared fixtures for the report tests: a small real batch screened by the tiny seeded model, and helpers to read
PDFs back. No tests here; test modules import what they need (the fixture as `batch_fixture`, used as `batch`)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from dicom_factory import write_dicom
from locations import REPO_ROOT
from pypdf import PdfReader

from ran_desktop.engine.model.bundle import LoadedModel, load_bundle
from ran_desktop.engine.records.patient_groups import PatientGroup, group_by_patient
from ran_desktop.engine.records.review import (
    CONFIRMED,
    OVERRIDDEN,
    GraderDecision,
    ImageRecord,
)
from ran_desktop.engine.screening.screener import Screener

GRADER = "Dr Åse Grader"


@dataclass(frozen=True)
class Batch:
    """Five files: patient P-0042 (both eyes, both reviewed, one grade overridden), P-0043 (one ungradable eye),
    P-0044 (a CJK name, not reviewed), an unidentified JPEG and a file that is not an image."""

    folder: Path
    loaded: LoadedModel
    records: tuple[ImageRecord, ...]

    @property
    def groups(self) -> list[PatientGroup]:
        return group_by_patient(self.records)

    def group(self, key: str) -> PatientGroup:
        return next(g for g in self.groups if g.key == key)

    def record(self, file_name: str) -> ImageRecord:
        return next(r for r in self.records if r.result.path.name == file_name)


def fundus(side: int = 640) -> np.ndarray:
    """The bundled sample photograph, smaller: still gradable, cheaper to screen."""
    sample = REPO_ROOT / "resources" / "samples" / "normal_fundus_OS.jpg"
    bgr = cv2.imread(str(sample))
    assert bgr is not None, sample
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)


def write_batch_files(folder: Path) -> None:
    rgb = fundus()
    folder.mkdir(parents=True, exist_ok=True)
    p42: dict[str, Any] = dict(patient_id="P-0042", patient_name="Ødegård^Åse", birth_date="19600131", sex="F",
                               study_date="20240115")
    write_dicom(folder / "p42_right.dcm", np.ascontiguousarray(rgb[:, ::-1]), image_laterality="R", **p42)
    write_dicom(folder / "p42_left.dcm", rgb, image_laterality="L", **p42)
    dark = (rgb.astype(np.float32) * 0.08).astype(np.uint8)
    write_dicom(folder / "p43_right_dark.dcm", dark, image_laterality="R", patient_id="P-0043",
                patient_name="Иванова^Мария", birth_date="19721103", sex="F", study_date="20240116")
    write_dicom(folder / "p44_left.dcm", rgb, image_laterality="L", patient_id="P-0044", patient_name="山田^太郎",
                birth_date="19550505", sex="M", study_date="20240116")
    cv2.imwrite(str(folder / "walkin_OS.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (folder / "letter.jpg").write_text("Dear colleague, this is not a photograph.", encoding="utf-8")


def screen_records(folder: Path, loaded: LoadedModel) -> list[ImageRecord]:
    return [ImageRecord(image_id=i, result=r) for i, r in enumerate(Screener(loaded).screen([folder]))]


def decide(record: ImageRecord, dr: int | None, dme: int | None, **values: object) -> ImageRecord:
    kind = CONFIRMED if (dr, dme) == record.model_grades else OVERRIDDEN
    return record.with_decision(GraderDecision(dr_grade=dr, dme_grade=dme, kind=kind, grader=GRADER,
                                         decided_at="2024-01-17T10:00:00+00:00", **values))  # type: ignore[arg-type]


@pytest.fixture(scope="session", name="batch")
def batch_fixture(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    folder = tmp_path_factory.mktemp("report-batch")
    write_batch_files(folder)
    loaded = load_bundle(tiny_bundle, device="cpu")
    records = screen_records(folder, loaded)
    by_name = {r.result.path.name: r for r in records}
    right, left = by_name["p42_right.dcm"], by_name["p42_left.dcm"]
    model_dr, model_dme = right.model_grades
    assert model_dr is not None and model_dme is not None
    # The grader raises the right eye to severe NPDR (a different grade from the model's whatever it said) and
    # keeps the model's DME grade; the left eye is confirmed as the model graded it.
    grader_dr = 3 if model_dr != 3 else 4
    by_name["p42_right.dcm"] = decide(right, grader_dr, model_dme, comment="Blot haemorrhages in four quadrants")
    by_name["p42_left.dcm"] = decide(left, *left.model_grades)
    ordered = tuple(by_name[r.result.path.name] for r in records)
    return Batch(folder=folder, loaded=loaded, records=ordered)


def pdf_text(data: bytes) -> str:
    """All pages' text with runs of whitespace made one space (lines wrap wherever the layout put them)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def page_texts(data: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def image_count(data: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(data)).pages)


def images(data: bytes) -> list[np.ndarray]:
    pages = PdfReader(io.BytesIO(data)).pages
    return [np.asarray(img.image.convert("RGB")) for page in pages for img in page.images if img.image is not None]


def with_identity(record: ImageRecord, patient_id: str | None, patient_name: str | None) -> ImageRecord:
    """The record as the grader filled in its patient (what the GUI stores for files without one)."""
    decision = record.decision or GraderDecision(dr_grade=record.model_grades[0], dme_grade=record.model_grades[1],
                                           grader=GRADER)
    return record.with_decision(replace(decision, patient_id=patient_id, patient_name=patient_name))


@contextmanager
def tmpfs(mount_point: Path, size_bytes: int, *, read_only: bool = False) -> Iterator[Path]:
    """A real, small file system at `mount_point`: a full disk or a read-only drive that even root cannot write.

    Skips the test where mounting is not permitted (not root, or a container without CAP_SYS_ADMIN).
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root on Linux; this run is not")
    mount_point.mkdir(parents=True, exist_ok=True)
    options = f"size={size_bytes}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
