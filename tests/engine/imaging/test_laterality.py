"""Laterality from file names: the conventions of common fundus data sets and clinics, and no false hits."""

from __future__ import annotations

import pytest

from ran_desktop.engine.imaging.loading import Eye, laterality_from_filename


@pytest.mark.parametrize(
    "name",
    [
        "123_L.jpg",
        "10_left.jpeg",  # EyePACS
        "IMG_0042_left.tif",
        "patient-OS-2.png",
        "scan os.bmp",
        "LE_0001.dcm",
        "Left.JPG",
        "normal_fundus_OS.jpg",
        "2024-01-15.L.png",
        "/data/clinic/RIGHT/patient_L.jpg",  # only the file name counts, not the folders
        r"C:\scans\right\0001_l.jpg",
    ],
)
def test_left_eye_names(name: str) -> None:
    assert laterality_from_filename(name) is Eye.LEFT


@pytest.mark.parametrize(
    "name",
    ["20_right.jpeg", "patient-R-2.png", "OD.png", "0001_od_macula.tif", "re-scan_RE.jpg", "x_Right.bmp"],
)
def test_right_eye_names(name: str) -> None:
    assert laterality_from_filename(name) is Eye.RIGHT


@pytest.mark.parametrize(
    "name",
    [
        "IDRiD_001.jpg",  # no laterality in the name
        "ROSA.jpg",  # letters inside words never count
        "old.png",
        "Lobby_Retina.tif",
        "cross_section.png",
        "model.jpg",
        "OU_both.jpg",  # both eyes
        "left_and_right.png",  # contradictory
        "123_L_R.jpg",
        "",
        "Ødegård_Åse.jpg",  # non-ASCII letters stay inside their word: no stray "d" or "se" tokens
        "Åle.png",
    ],
)
def test_unknown_names(name: str) -> None:
    assert laterality_from_filename(name) is Eye.UNKNOWN
