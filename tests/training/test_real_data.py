"""Real photographs in training: the IDRiD segmentation adapter, grades derived from lesion masks, lesion-free
inpainting, the lesion bank, and the generator pasting real lesions."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
from idrid_tree import H, W, write_tree
from idrid_tree import lesioned as _lesioned
from locations import REPO_ROOT

from training.datasets import detect_dataset, load_dataset
from training.datasets.idrid_grading import grade_masks
from training.datasets.idrid_segmentation import LESIONS, load_cases, read_case
from training.fundus import rules as R
from training.fundus.geometry import FieldGeometry
from training.real.inpaint import decoy_region, fill, lesion_free
from training.real.lesion_bank import LesionBank, cut_lesions, paste
from training.synthetic.generate import generate_fundus

SHARED = REPO_ROOT.parent / "shared" / "data" / "idrid-segmentation"
def test_the_adapter_reads_the_distributed_layout(tmp_path):
    root = write_tree(tmp_path / "IDRiD", with_se=True)
    cases = load_cases(root)
    assert [c.id for c in cases] == ["train/IDRiD_01", "test/IDRiD_55"]
    assert cases[0].masks["SE"] is not None and cases[1].masks["SE"] is None  # a missing file means none
    images = read_case(cases[1], width=480)
    assert images.rgb.shape == (320, 480, 3) and images.scale == pytest.approx(0.5)
    assert not images.masks["SE"].any() and images.masks["OD"].any() and images.masks["MA"].any()
    assert detect_dataset(root) == "idrid-seg" and detect_dataset(root / "A. Segmentation") == "idrid-seg"
    records = load_dataset("idrid-seg", root)
    assert [(r.dr, r.dme, r.split_hint) for r in records] == [(2, 2, "train"), (2, 2, "test")]


def test_a_tree_without_photographs_is_refused_by_name(tmp_path):
    (tmp_path / "A. Segmentation" / "1. Original Images").mkdir(parents=True)
    (tmp_path / "A. Segmentation" / "2. All Segmentation Groundtruths").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="IDRiD_"):
        load_cases(tmp_path)


# --- grades from masks -------------------------------------------------------------------------------------

GEOM = FieldGeometry(W, H, "OS", (W / 2, H / 2), 300.0, None, (560.0, 330.0), 100.0, 0.0, (-2.5, 0.3))


def _masks(**drawn: list[tuple[int, int, int]]) -> dict[str, np.ndarray]:
    out = {k: np.zeros((H, W), bool) for k in (*LESIONS, "OD")}
    for kind, circles in drawn.items():
        canvas = np.zeros((H, W), np.uint8)
        for x, y, r in circles:
            cv2.circle(canvas, (x, y), r, 1, -1)
        out[kind] = canvas.astype(bool)
    return out


def _grid(quadrant_centre: tuple[int, int], n: int) -> list[tuple[int, int, int]]:
    cx, cy = quadrant_centre
    return [(cx - 60 + 15 * (i % 7), cy - 50 + 15 * (i // 7), 3) for i in range(n)]


def test_microaneurysms_only_is_grade_1():
    graded = grade_masks(_masks(MA=[(400, 200, 2), (650, 450, 2)]), GEOM)
    assert (graded.dr, graded.dme) == (1, 0)


def test_any_haemorrhage_makes_grade_2_and_more_than_20_in_every_quadrant_grade_3():
    assert grade_masks(_masks(HE=[(400, 200, 8)]), GEOM).dr == 2
    centres = [(600, 200), (360, 200), (600, 440), (360, 440)]  # one per quadrant about the field's centre
    twenty_one = _masks(HE=[c for q in centres for c in _grid(q, 21)])
    graded = grade_masks(twenty_one, GEOM)
    assert all(n == 21 for n in graded.haemorrhages_per_quadrant.values()), graded.haemorrhages_per_quadrant
    assert graded.dr == 3
    twenty = _masks(HE=[c for q in centres for c in _grid(q, 20)])  # "more than 20": 20 is not enough
    assert grade_masks(twenty, GEOM).dr == 2


def test_dme_follows_the_nearest_exudate_to_the_fovea():
    fx, fy = (560, 330)
    assert grade_masks(_masks(EX=[(fx + 80, fy, 5)]), GEOM).dme == 2  # 0.75 DD: within one disc diameter
    assert grade_masks(_masks(EX=[(fx + 200, fy, 5)]), GEOM).dme == 1  # 1.95 DD: in the posterior pole
    assert grade_masks(_masks(EX=[(fx + 380, fy - 20, 5)]), GEOM).dme == 0  # beyond 3 DD
    near = grade_masks(_masks(EX=[(fx + 200, fy, 5), (fx + 60, fy + 40, 3)]), GEOM)
    assert near.dme == 2 and near.exudate_distance_dd == pytest.approx(0.69, abs=0.03)


def test_soft_exudates_alone_are_more_than_microaneurysms():
    graded = grade_masks(_masks(SE=[(400, 200, 12)]), GEOM)
    assert graded.dr == 2 and graded.dme == 0
    assert {les.kind for les in graded.lesions} == {R.COTTON_WOOL_SPOT}


# --- inpainting and the lesion bank ------------------------------------------------------------------------

def test_inpainting_leaves_no_masked_pixel():
    base, img, masks = _lesioned()
    lesions = masks["MA"] | masks["HE"] | masks["EX"]
    clean = lesion_free(img, lesions, 100.0, np.random.default_rng(0))
    painted_error = np.abs(img.astype(float) - base)[lesions].mean()
    clean_error = np.abs(clean.astype(float) - base)[lesions].mean()
    assert painted_error > 60
    assert clean_error < 12, clean_error  # the lesions are gone: what is left is the retina around them
    assert np.array_equal(clean[~cv2.dilate(lesions.astype(np.uint8), np.ones((31, 31))).astype(bool)],
                          img[~cv2.dilate(lesions.astype(np.uint8), np.ones((31, 31))).astype(bool)])


def test_decoys_land_only_where_there_is_no_lesion():
    _, img, masks = _lesioned()
    lesions = masks["MA"] | masks["HE"] | masks["EX"]
    fov = np.zeros((H, W), bool)
    cv2.circle(fov.view(np.uint8), (W // 2, H // 2), 300, 1, -1)
    donor = np.zeros((H, W), bool)
    donor[200:260, 300:700] = True
    region = decoy_region(donor, fov, lesions | masks["OD"], np.random.default_rng(3), 100.0)
    assert region.any() and not (region & lesions).any() and not (region & ~fov).any()
    filled = fill(img, region, 100.0, np.random.default_rng(4), keep_out=lesions)
    assert np.array_equal(filled[lesions], img[lesions])  # the real lesions are untouched


def test_a_cut_lesion_pasted_back_lands_where_its_mask_says(tmp_path):
    base, img, masks = _lesioned(7)
    from training.datasets.idrid_segmentation import CaseImages, SegmentationCase

    case = SegmentationCase("X", "train", tmp_path / "x.jpg", {})
    images = CaseImages(case, img, masks, 1.0)
    lesions = masks["MA"] | masks["HE"] | masks["EX"]
    clean = lesion_free(img, lesions, 100.0, np.random.default_rng(0))
    bank = cut_lesions(images, clean, 100.0)
    assert {les.kind for les in bank} == {"MA", "HE", "EX"}
    target = clean.astype(np.float32) / 255
    landed = np.zeros((H, W), bool)
    for kind in ("MA", "HE", "EX"):
        count, labels, stats, centroids = cv2.connectedComponentsWithStats(masks[kind].astype(np.uint8))
        mine = [les for les in bank if les.kind == kind]
        assert len(mine) == count - 1
        for les, i in zip(mine, range(1, count), strict=True):
            landed |= paste(target, les, tuple(centroids[i]), les.radius_px)
    assert (landed & lesions).sum() / (landed | lesions).sum() > 0.9
    restored = np.abs(target * 255 - img.astype(np.float32))[lesions].mean()
    assert restored < 0.3 * np.abs(clean.astype(np.float32) - img)[lesions].mean()
    saved = tmp_path / "bank.npz"
    LesionBank(bank).save(saved)
    again = LesionBank.load(saved)
    assert again.counts() == LesionBank(bank).counts()
    first = again.by_kind["EX"][0]
    assert np.allclose(first.contrast, LesionBank(bank).by_kind["EX"][0].contrast, atol=2e-3)


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared IDRiD segmentation photographs")
def test_the_generator_pastes_real_lesions_and_keeps_the_labels(tmp_path):
    from training.real.prepare import prepare

    out = tmp_path / "real"
    summary = prepare(SHARED, out, width=712, calibration=50, log=lambda *_: None)  # 4 photographs to train on
    assert len(summary["train"]) == 4 and len(summary["validation"]) == 27
    assert "CC BY 4.0" == summary["licence"] and "Porwal" in summary["credit"]
    rows = list(csv.DictReader(open(out / "validation" / "labels.csv")))
    assert len(rows) == 54 and {r["kind"] for r in rows} == {"original", "lesion-free"}
    assert all(r["dr"] == "0" and r["dme"] == "0" for r in rows if r["kind"] == "lesion-free")
    for dr, dme, background in ((2, 2, "idrid"), (1, 0, "synthetic"), (3, 1, "idrid")):
        sample = generate_fundus(40 + dr, dr=dr, dme=dme, background=background, lesion_source="real",
                                 real_assets=str(out), size=384)
        assert R.derive_icdr_grade(sample.lesions) == dr
        assert R.derive_dme_grade(sample.lesions, sample.geometry.fovea, sample.geometry.dd_px) == dme
        painted = generate_fundus(40 + dr, dr=dr, dme=dme, background=background, lesion_source="painted",
                                  real_assets=str(out), size=384)
        assert not np.array_equal(sample.image, painted.image)  # the lesions differ: pasted, not painted
    healthy = generate_fundus(9, dr=0, dme=0, background="idrid", lesion_source="real", real_assets=str(out),
                              size=384)
    assert healthy.lesions == []


def test_real_photographs_are_credited_and_mixed_weights_are_never_called_validated(tmp_path):
    import json

    from training.model_card import MIXED_USE, SYNTHETIC_USE, intended_use
    from training.sources import credits, describe, has_real, is_synthetic

    synthetic = {"kind": "csv", "root": str(tmp_path / "syn"), "images": 10, "synthetic": True,
                 "generator": "training.synthetic v1"}
    real = {"kind": "csv", "root": str(tmp_path / "real"), "images": 4, "dataset": "IDRiD lesion segmentation",
            "licence": "CC BY 4.0", "credit": "Porwal et al., IDRiD"}
    assert is_synthetic([synthetic, real]) and has_real([synthetic, real])  # any generated data: not validated
    assert intended_use([synthetic, real]) == MIXED_USE and intended_use([synthetic]) == SYNTHETIC_USE
    assert credits([synthetic, real, real]) == ["Porwal et al., IDRiD"]
    assert "4 images made from IDRiD lesion segmentation (CC BY 4.0)" in describe([synthetic, real])
    # ran-real's provenance file is what marks a folder as real photographs with a licence
    from training.real.prepare import write_provenance
    from training.sources import _marker

    write_provenance(tmp_path, ["train/IDRiD_01"])
    assert _marker(tmp_path)["licence"] == "CC BY 4.0" and "Porwal" in _marker(tmp_path)["credit"]
    assert json.loads((tmp_path / "real.json").read_text())["photographs"] == ["train/IDRiD_01"]
