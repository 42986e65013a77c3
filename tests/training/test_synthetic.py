"""The synthetic fundus generator: determinism, labels that follow the ICDR / DME rules, anatomy, cameras, and
the data-set writer, CLI and contact sheet. Everything runs the real generator at small sizes."""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.fundus import rules as R
from training.synthetic import (
    LABEL_COLUMNS,
    SEVERE_CRITERIA,
    derive_dme_grade,
    derive_icdr_grade,
    generate_fundus,
    haemorrhage_counts,
    plan_dataset,
    sample_camera,
    severe_criteria,
    write_contact_sheet,
    write_dataset,
)
from training.synthetic.cli import main as cli_main

SIZE = 256  # small and fast; the generator scales everything with the disc diameter


def _dists(sample) -> list[float]:
    g = sample.geometry
    return [R.exudate_distance_dd(les, g.fovea, g.dd_px) for les in sample.lesions if les.kind == R.HARD_EXUDATE]


@pytest.mark.parametrize("background", ["synthetic", "real"])
def test_same_seed_gives_identical_bytes(background):
    a = generate_fundus(11, dr=3, size=SIZE, background=background)
    b = generate_fundus(11, dr=3, size=SIZE, background=background)
    c = generate_fundus(12, dr=3, size=SIZE, background=background)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.lesions == b.lesions and a.camera == b.camera
    assert a.image.shape != c.image.shape or a.image.tobytes() != c.image.tobytes()


@pytest.mark.parametrize("dr", range(5))
def test_generated_grade_equals_grade_derived_from_annotations(dr):
    for seed in range(14):
        s = generate_fundus(1000 * dr + seed, dr=dr, size=SIZE, background="real" if seed % 4 == 3 else "synthetic")
        kinds = Counter(les.kind for les in s.lesions)
        assert derive_icdr_grade(s.lesions) == dr == s.dr, (seed, kinds)
        assert derive_dme_grade(s.lesions, s.geometry.fovea, s.geometry.dd_px) == s.dme, (seed, _dists(s))
        proliferative = set(kinds) & R.PROLIFERATIVE
        if dr == 0:
            assert not s.lesions
        elif dr == 1:
            assert set(kinds) == {R.MICROANEURYSM}
        elif dr == 2:
            assert set(kinds) - {R.MICROANEURYSM} and not severe_criteria(s.lesions) and not proliferative
        elif dr == 3:
            assert severe_criteria(s.lesions) and not proliferative
        else:
            assert proliferative, kinds


@pytest.mark.parametrize("criterion", SEVERE_CRITERIA)
def test_each_4_2_1_criterion_can_make_grade_3(criterion):
    for seed in range(4):
        s = generate_fundus(50 + seed, dr=3, size=SIZE, severe_criterion=criterion)
        assert criterion in s.severe_criteria
        if criterion == R.CRITERION_HAEMORRHAGES:
            assert min(haemorrhage_counts(s.lesions).values()) > 20
        elif criterion == R.CRITERION_BEADING:
            assert len({les.quadrant for les in s.lesions if les.kind == R.VENOUS_BEADING}) >= 2
        else:
            assert any(les.kind == R.IRMA for les in s.lesions)


def test_grade_2_stays_below_every_severe_threshold():
    for seed in range(30):
        s = generate_fundus(7000 + seed, dr=2, size=SIZE)
        counts = haemorrhage_counts(s.lesions)
        assert min(counts.values()) <= 20
        assert len({les.quadrant for les in s.lesions if les.kind == R.VENOUS_BEADING}) <= 1
        assert not any(les.kind == R.IRMA for les in s.lesions)


@pytest.mark.parametrize("dme", range(3))
def test_dme_grade_follows_exudate_distance_from_fovea(dme):
    for seed in range(10):
        s = generate_fundus(300 + seed, dr=2 + seed % 3, dme=dme, size=SIZE)
        d = _dists(s)
        if dme == 2:
            assert min(d) <= R.FOVEA_ZONE_DD
        elif dme == 1:
            assert min(d) > R.FOVEA_ZONE_DD and min(d) <= R.POSTERIOR_POLE_DD
        else:
            assert all(x > R.POSTERIOR_POLE_DD for x in d)


def test_dme_needs_diabetic_retinopathy():
    with pytest.raises(ValueError):
        generate_fundus(1, dr=1, dme=1, size=SIZE)
    for seed in range(10):
        s = generate_fundus(seed, dr=seed % 2, size=SIZE)
        assert s.dme == 0 and not any(les.kind == R.HARD_EXUDATE for les in s.lesions)


def test_lesions_lie_in_the_field_of_view_and_in_their_quadrant():
    for seed in range(6):
        s = generate_fundus(900 + seed, dr=3 + seed % 2, size=SIZE, background="real" if seed % 2 else "synthetic")
        g = s.geometry
        mask = g.aperture_mask()
        centres = np.array([les.center for les in s.lesions])
        xi, yi = np.round(centres).astype(int).T
        assert np.all(mask[yi, xi] > 0.5)
        assert [les.quadrant for les in s.lesions] == g.quadrants_of(centres)


def _luma(img: np.ndarray, x: float, y: float, r: float) -> float:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mask = np.zeros(grey.shape, np.uint8)
    cv2.circle(mask, (round(x), round(y)), max(round(r), 1), 1, -1)
    return float(grey[mask > 0].mean())


@pytest.mark.parametrize("background", ["synthetic", "real"])
@pytest.mark.parametrize("eye", ["OD", "OS"])
def test_disc_is_on_the_correct_side_of_the_fovea(eye, background):
    for seed in range(4):
        cam = dataclasses.replace(sample_camera(np.random.default_rng(seed), "train", 384), rotation_deg=0.0)
        s = generate_fundus(seed, dr=0, eye=eye, camera=cam, background=background)
        g = s.geometry
        (dx, dy), (fx, fy) = g.disc, g.fovea
        # Right eye: disc to the viewer's right of the fovea; left eye: to the left. The fovea lies a bit lower.
        assert (dx > fx) if eye == "OD" else (dx < fx)
        assert fy > dy
        assert 2.2 * g.dd_px < np.hypot(dx - fx, dy - fy) < 2.8 * g.dd_px
        # The pixels agree: the bright disc is where the geometry says, not at its mirror position.
        mirror_x = 2 * fx - dx
        if g.visible(np.array([[mirror_x, dy]]))[0] and g.visible(np.array([[dx, dy]]))[0]:
            assert _luma(s.image, dx, dy, g.dd_px * 0.4) > 1.15 * _luma(s.image, mirror_x, dy, g.dd_px * 0.4)


def test_fields_centre_the_macula_or_the_disc():
    for seed in range(6):
        m = generate_fundus(seed, dr=0, field="macula", size=SIZE).geometry
        d = generate_fundus(seed, dr=0, field="disc", size=SIZE).geometry
        assert np.hypot(*np.subtract(m.fovea, m.fov_center)) < 0.25 * m.fov_radius
        assert np.hypot(*np.subtract(d.disc, d.fov_center)) < 0.25 * d.fov_radius
    with pytest.raises(ValueError):
        generate_fundus(0, field="disc", background="real", size=SIZE)


def test_images_have_a_dark_surround_and_the_app_finds_their_field_of_view():
    from ran_desktop.engine.imaging.preprocess import detect_fov

    for seed in range(10):
        family = "heldout" if seed > 6 else "train"
        s = generate_fundus(seed, size=384 if seed % 2 else None, camera_family=family)
        g = s.geometry
        assert s.image.dtype == np.uint8 and s.image.shape == (g.height, g.width, 3)
        assert s.image[:4, :4].mean() < 20 and s.image[-4:, -4:].mean() < 20
        fov = detect_fov(s.image)
        assert fov.found
        # The held-out camera vignettes harder, so its darker rim is found a little inside the aperture.
        assert abs(fov.radius - g.fov_radius) < (0.05 if family == "train" else 0.1) * g.fov_radius


def _ring_luma(img: np.ndarray, centre: tuple[float, float], r0: float, r1: float) -> float:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    yy, xx = np.mgrid[0 : grey.shape[0], 0 : grey.shape[1]]
    d = np.hypot(xx - centre[0], yy - centre[1])
    return float(grey[(d >= r0) & (d <= r1)].mean())


@pytest.mark.parametrize("eye", ["OD", "OS"])
def test_real_background_keeps_the_photographs_fovea_and_disc_where_the_labels_say(eye):
    for seed in range(3):
        s = generate_fundus(seed, dr=0, eye=eye, size=384, background="real")
        g = s.geometry
        assert s.background == "real" and s.field == "macula" and s.lesions == []
        # DME grades are measured from g.fovea, so the crop must put the photograph's dark fovea exactly there.
        dd = g.dd_px
        assert _ring_luma(s.image, g.fovea, 0, 0.15 * dd) < 0.85 * _ring_luma(s.image, g.fovea, 0.9 * dd, 1.2 * dd)
        assert (g.disc[0] > g.fovea[0]) == (eye == "OD")
    synth = generate_fundus(0, dr=0, eye="OS", size=384)
    real = generate_fundus(0, dr=0, eye="OS", size=384, background="real")
    assert real.image.shape != synth.image.shape or real.image.tobytes() != synth.image.tobytes()


def test_heldout_camera_family_differs_from_train():
    rng = np.random.default_rng(0)
    train = [sample_camera(rng, "train", 512) for _ in range(200)]
    held = [sample_camera(rng, "heldout", 512) for _ in range(200)]

    def ratio(c):
        return c.white_balance[1] / c.white_balance[0]

    assert max(map(ratio, train)) < min(map(ratio, held))
    assert max(c.dd_ratio for c in held) <= min(c.dd_ratio for c in train)
    assert all(c.jpeg_quality is not None and c.jpeg_quality < 60 for c in held)
    assert all(c.jpeg_quality is None or c.jpeg_quality >= 60 for c in train)
    with pytest.raises(ValueError):
        sample_camera(rng, "other", 512)

    def green_red(family):
        vals = []
        for seed in range(6):
            s = generate_fundus(seed, dr=0, size=SIZE, camera_family=family)
            inside = s.image[s.geometry.aperture_mask() > 0.5].astype(np.float64)
            vals.append(inside[:, 1].mean() / inside[:, 0].mean())
        return np.array(vals)

    assert green_red("heldout").min() > green_red("train").max()


def test_camera_sizes_vary_when_not_fixed():
    widths = {generate_fundus(seed, dr=0, size=None).image.shape[1] for seed in range(5)}
    assert len(widths) > 1 and all(384 <= w <= 1024 for w in widths)


def test_plan_pairs_eyes_correlates_grades_and_is_prefix_stable():
    specs = plan_dataset(600, seed=4, size=SIZE)
    assert plan_dataset(250, seed=4, size=SIZE) == specs[:250]
    by_patient: dict[str, list] = {}
    for s in specs:
        by_patient.setdefault(s.patient, []).append(s)
    pairs = [v for v in by_patient.values() if len(v) == 2]
    assert len(pairs) > 100 and all(len(v) <= 2 for v in by_patient.values())
    assert all({a.eye, b.eye} == {"OD", "OS"} for a, b in pairs)
    assert np.mean([abs(a.dr - b.dr) <= 1 for a, b in pairs]) > 0.85
    grades = Counter(s.dr for s in specs)
    assert set(grades) == set(range(5)) and grades[0] == max(grades.values())
    assert all(s.dme == 0 for s in specs if s.dr < 2)
    assert {s.dme for s in specs if s.dr >= 2} == {0, 1, 2}
    with pytest.raises(ValueError):
        plan_dataset(10, seed=0, grade_distribution=[1, 1, 1])


def _read_labels(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_write_dataset_writes_labels_and_resumes(tmp_path):
    out = tmp_path / "synth"
    summary = write_dataset(out, 6, seed=2, size=SIZE, workers=2, real_background_fraction=0.5)
    assert (summary.written, summary.skipped) == (6, 0)
    rows = _read_labels(out / "labels.csv")
    assert tuple(rows[0]) == LABEL_COLUMNS == ("image", "dr", "dme", "patient", "eye", "seed", "camera_family",
                                               "background", "lesions", "lesion_mask")
    assert len(rows) == 7
    images = sorted((out / "images").iterdir())
    assert len(images) == 6
    for row in rows[1:]:
        assert (out / row[0]).is_file() and row[4] in ("OD", "OS") and row[0].endswith(f"_{row[4]}.jpg")
        assert (out / row[9]).is_file() and row[9] == f"masks/{Path(row[0]).stem}.png"  # its lesion mask
        assert 0 <= int(row[1]) <= 4 and 0 <= int(row[2]) <= 2 and row[6] == "train"
    first = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in images}
    victim = out / rows[3][0]
    victim.unlink()
    again = write_dataset(out, 6, seed=2, size=SIZE, workers=1, real_background_fraction=0.5)
    assert (again.written, again.skipped) == (1, 5)
    for p in sorted((out / "images").iterdir()):
        mtime, data = first[p.name]
        assert p.read_bytes() == data  # regenerated in another process: same bytes
        if p != victim:
            assert p.stat().st_mtime_ns == mtime
    assert _read_labels(out / "labels.csv") == rows
    with pytest.raises(ValueError):
        write_dataset(out, 6, seed=3, size=SIZE)


def test_contact_sheet_is_written(tmp_path):
    path = write_contact_sheet(tmp_path / "sheet.png", columns=3, tile=96, size=SIZE)
    sheet = cv2.imread(str(path))
    assert sheet is not None
    assert sheet.shape[0] == 6 * (96 + 26) and sheet.shape[1] > 3 * 96
    assert sheet.std() > 20


def test_cli_writes_a_data_set_and_refuses_bad_options(tmp_path, capsys):
    out = tmp_path / "cli"
    code = cli_main(["--out", str(out), "--count", "3", "--seed", "1", "--size", str(SIZE), "--workers", "1",
                     "--real-fraction", "0.3", "--camera-family", "heldout"])
    assert code == 0
    rows = _read_labels(out / "labels.csv")
    assert len(rows) == 4 and all(r[6] == "heldout" for r in rows[1:])
    assert cli_main(["--out", str(out), "--count", "3", "--real-fraction", "2"]) == 2
    with pytest.raises(SystemExit):
        cli_main(["--out", str(out), "--count", "3", "--camera-family", "nope"])
