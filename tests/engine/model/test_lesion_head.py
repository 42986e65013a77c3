"""The lesion head: masks written by the generator and by ran-real, cut like their photographs, trained, exported and
measured (pixel AUPR) through the bundle."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
import torch
from idrid_tree import write_tree

from ran_desktop.engine.imaging.preprocess import PreprocessSettings, crop_to_fov, detect_fov, resize_square
from ran_desktop.engine.model import LESION_KINDS, ran18
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.model.bundle_writer import save_bundle
from training import lesion_masks
from training.fundus import rules as R
from training.losses import LesionLoss, lesion_targets
from training.synthetic.generate import generate_fundus

TINY = dict(base_width=8, nominal_input_size=64)


def test_bits_pack_unpack_and_shrinking_keeps_a_one_pixel_lesion():
    ma = np.zeros((400, 400), bool)
    ma[101, 203] = True  # one pixel in a 400 px photograph
    ex = np.zeros((400, 400), bool)
    ex[300:340, 40:90] = True
    bits = lesion_masks.pack({"MA": ma, "EX": ex}, ma.shape)
    assert np.array_equal(lesion_masks.unpack(bits)[0], ma) and np.array_equal(lesion_masks.unpack(bits)[2], ex)
    assert not lesion_masks.unpack(bits)[1].any() and not lesion_masks.unpack(bits)[3].any()
    small = lesion_masks.resize(bits, (40, 40))
    assert lesion_masks.unpack(small)[0].sum() == 1  # a nearest-neighbour shrink would most likely have lost it
    assert lesion_masks.unpack(small)[0][10, 20]
    assert lesion_masks.unpack(small)[2][30:34, 4:9].all()


def test_a_mask_is_cut_exactly_like_its_photograph(tmp_path):
    """A marked spot painted into a photograph lands on its mask after field-of-view crop and resize."""
    sample = generate_fundus(7, dr=0, dme=0, size=600)
    rgb = sample.image.copy()
    h, w = rgb.shape[:2]
    marks = [(int(w * 0.35), int(h * 0.4)), (int(w * 0.62), int(h * 0.55))]
    ma = np.zeros((h, w), bool)
    for x, y in marks:
        cv2.circle(rgb, (x, y), 4, (0, 255, 0), -1)  # pure green: found again after resizing
        ma[y - 4 : y + 5, x - 4 : x + 5] = True
    settings = PreprocessSettings(input_size=128)
    fov = detect_fov(rgb, settings)
    square = resize_square(crop_to_fov(rgb, fov, settings), 128)
    cut = lesion_masks.unpack(lesion_masks.square(lesion_masks.pack({"MA": ma}, (h, w)), rgb.shape, fov, settings))[0]
    green = (square[..., 1].astype(int) - square[..., 0] > 120) & (square[..., 1].astype(int) - square[..., 2] > 120)
    assert green.sum() >= 2 and cut[green].all()
    assert cut.sum() < 40  # only the two marks, not a smear


def test_the_generator_masks_the_lesions_it_paints():
    healthy = generate_fundus(11, dr=0, dme=0, size=384)
    assert healthy.lesion_bits.shape == healthy.image.shape[:2] and not healthy.lesion_bits.any()
    mild = generate_fundus(12, dr=1, dme=0, size=384)
    kinds = lesion_masks.unpack(mild.lesion_bits)
    assert kinds[0].any() and not kinds[1:].any()  # microaneurysms only
    for lesion in mild.lesions:
        x, y = (int(round(c)) for c in lesion.center)
        assert kinds[0][y, x], f"microaneurysm at {(x, y)} is not in the mask"
    severe = generate_fundus(13, dr=3, dme=2, size=384)
    kinds = lesion_masks.unpack(severe.lesion_bits)
    assert kinds[1].any() and kinds[2].any()
    for lesion in severe.lesions:
        if lesion.kind == R.HARD_EXUDATE:
            x, y = (int(round(c)) for c in lesion.center)
            assert kinds[2][max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2].any()


def test_ran_real_writes_each_photographs_masks_and_none_for_its_lesion_free_copy(tmp_path):
    from training.datasets.idrid_segmentation import load_cases, read_case
    from training.real.prepare import prepare_case, write_pair_set

    idrid = write_tree(tmp_path / "idrid", with_se=True)
    case = prepare_case(read_case(load_cases(idrid, "train")[0]), 0)
    write_pair_set(tmp_path / "train", [case], [case], 0)
    rows = list(csv.DictReader(open(tmp_path / "train" / "labels.csv")))
    original = next(r for r in rows if r["kind"] == "original")
    clean = next(r for r in rows if r["kind"] == "lesion-free")
    kinds = lesion_masks.unpack(lesion_masks.read(tmp_path / "train" / original["lesion_mask"]))
    assert kinds[0][200, 600] and kinds[1][420, 700] and kinds[2][330, 520] and kinds[3][150, 480]
    assert not kinds[0][420, 700] and not kinds[:, 500, 100].any()
    assert not lesion_masks.read(tmp_path / "train" / clean["lesion_mask"]).any()  # lesion-free: no lesion
    from training.datasets import load_dataset

    records = load_dataset("csv", tmp_path / "train")
    assert all(r.lesion_mask is not None and r.lesion_mask.is_file() for r in records)


def test_pasted_real_lesions_are_masked_where_they_land(tmp_path):
    from idrid_tree import lesioned as _lesioned

    from training.datasets.idrid_segmentation import CaseImages, SegmentationCase
    from training.real.inpaint import lesion_free
    from training.real.lesion_bank import LesionBank, cut_lesions

    _, img, masks = _lesioned(7)
    lesions = masks["MA"] | masks["HE"] | masks["EX"]
    clean = lesion_free(img, lesions, 100.0, np.random.default_rng(0))
    case = CaseImages(SegmentationCase("X", "train", tmp_path / "x.jpg", {}), img, masks, 1.0)
    bank = cut_lesions(case, clean, 100.0)
    LesionBank(bank).save(tmp_path / "assets" / "lesion-bank.npz")
    assets = str(tmp_path / "assets")
    sample = generate_fundus(41, dr=2, dme=2, lesion_source="real", real_assets=assets, size=384)
    kinds = lesion_masks.unpack(sample.lesion_bits)
    assert kinds[0].any() or kinds[1].any()
    bare = generate_fundus(41, dr=2, dme=2, lesion_source="painted", size=384)
    pasted_only = sample.lesion_bits & ~bare.lesion_bits
    assert pasted_only.any()  # masks follow the pasted lesions, not the painted ones they replace
    for lesion in sample.lesions:
        if lesion.kind in (R.MICROANEURYSM, R.HARD_EXUDATE):
            x, y = (int(round(c)) for c in lesion.center)
            bit = 0 if lesion.kind == R.MICROANEURYSM else 2
            assert kinds[bit][max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3].any(), (lesion.kind, x, y)


def test_the_head_leaves_the_grading_heads_unchanged_and_outputs_a_quarter_size_map():
    torch.manual_seed(0)
    with_head = ran18(lesion_head=True, **TINY).eval()
    without = ran18(**TINY).eval()
    without.load_state_dict({k: v for k, v in with_head.state_dict().items() if not k.startswith("lesion_head.")})
    x = torch.randn(2, 3, 64, 64)
    grades, lesions = with_head.forward_with_lesions(x)
    assert lesions.shape == (2, len(LESION_KINDS), 16, 16)
    assert torch.allclose(grades.dr, without(x).dr) and torch.allclose(with_head(x).dme, without(x).dme)
    with pytest.raises(ValueError, match="without a lesion head"):
        without.forward_with_lesions(x)


def test_lesion_targets_keep_small_lesions_and_the_loss_ignores_unknown_masks():
    bits = torch.zeros(2, 64, 64, dtype=torch.uint8)
    bits[0, 10, 21] = 1  # one microaneurysm pixel
    bits[0, 40:48, 40:48] = 4  # hard exudates
    target = lesion_targets(bits)
    assert target.shape == (2, 4, 16, 16) and target[0, 0, 2, 5] == 1 and target[0, 0].sum() == 1
    assert target[0, 2, 10:12, 10:12].all() and target[1].sum() == 0
    loss = LesionLoss()
    good = torch.where(target > 0, 8.0, -8.0)
    bad = -good
    known = torch.tensor([True, False])
    assert loss(good, bits, known) < 0.05 < loss(bad, bits, known)
    assert loss(bad, bits, torch.tensor([False, False])) == 0  # nothing known: nothing learned
    # the unknown image's logits do not matter
    shuffled = good.clone()
    shuffled[1] = torch.randn_like(shuffled[1]) * 10
    assert torch.isclose(loss(good, bits, known), loss(shuffled, bits, known))


def test_a_bundle_with_a_lesion_head_round_trips(tmp_path):
    model = ran18(lesion_head=True, **TINY)
    save_bundle(model, tmp_path / "b", name="tiny-lesions", version="0.0.1", variant="ran18",
                architecture_kwargs={**TINY, "lesion_head": True}, preprocessing=PreprocessSettings(input_size=64),
                training_data={"description": "test", "synthetic": True}, trained=False, metrics={},
                intended_use="tests")
    loaded = load_bundle(tmp_path / "b", device="cpu")
    assert loaded.manifest.heads["lesions"] == list(LESION_KINDS)
    assert loaded.model.lesion_head is not None
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest["architecture"]["kwargs"]["lesion_head"] = "yes"
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(Exception, match="lesion_head"):
        load_bundle(tmp_path / "b", device="cpu")


def test_training_with_the_head_then_measuring_its_aupr(tmp_path):
    """ran-train --lesion-weight on generated images with masks, fine-tuned from a bundle without a head, exported,
    then ran-lesion-eval on a tiny tree in IDRiD's layout."""
    from training.export import export_run
    from training.lesion_eval import evaluate_lesions, format_lesion_table
    from training.synthetic import write_dataset
    from training.train import TrainConfig, Trainer

    data = tmp_path / "syn"
    write_dataset(data, 24, seed=5, size=256)
    start = ran18(base_width=8)  # as ran-train builds it
    save_bundle(start, tmp_path / "start", name="start", version="0.0.1", variant="ran18",
                architecture_kwargs={"base_width": 8, "dropout": 0.2}, preprocessing=PreprocessSettings(input_size=64),
                training_data={"description": "test", "synthetic": True}, trained=False, metrics={},
                intended_use="tests")
    cfg = TrainConfig(data=[f"csv:{data}"], out=tmp_path / "run", base_width=8, input_size=64, epochs=1,
                      lesion_weight=1.0, workers=0, finetune=tmp_path / "start")
    cfg.extra = {}
    trainer = Trainer(cfg)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert torch.allclose(before["conv1.weight"], start.state_dict()["conv1.weight"], atol=1e-3)  # fp16 bundle
    trainer.fit()
    after = trainer.model.state_dict()
    assert not torch.equal(before["lesion_head.classify.weight"], after["lesion_head.classify.weight"])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lesion_weight"] == 1.0
    idrid = write_tree(tmp_path / "idrid", with_se=False)
    export_run(tmp_path / "run", tmp_path / "bundle", name="tiny", version="0.0.1", workers=0, lesion_validation=idrid)
    bundle = load_bundle(tmp_path / "bundle", device="cpu")
    assert bundle.model.lesion_head is not None
    result = evaluate_lesions(bundle, idrid, log=lambda *_: None)
    assert bundle.manifest.metrics["lesions"] == json.loads(json.dumps(result))  # the export measured the same
    card = (tmp_path / "bundle" / "MODEL_CARD.md").read_text()
    assert "## Lesion head" in card and "Pixel AUPR on IDRiD's 1 testing photographs" in card
    per_kind = result["per_kind"]
    assert result["photographs"] == 1 and per_kind["soft_exudates"]["aupr"] is None  # no SE mask: none there
    for kind in ("microaneurysms", "haemorrhages", "hard_exudates"):
        assert 0.0 < per_kind[kind]["aupr"] <= 1.0 and per_kind[kind]["photographs_with_lesion"] == 1
    assert "| hard exudates |" in format_lesion_table(result)
