"""Patient-aware, stratified, reproducible train/val/test splits and their save/load round trip."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from ran_desktop.engine.imaging.loading.types import Eye
from training.datasets import Record, load_split, save_split, split_records

GRADE_WEIGHTS = [50, 12, 20, 10, 8]  # roughly EyePACS-shaped, with enough grade 4 for every split


def synthetic(root: Path, patients: int = 200, seed: int = 1, source: str = "syn") -> list[Record]:
    """~300 records: each patient has one or two eyes, the fellow eye at most one grade milder."""
    rng = random.Random(seed)
    records = []
    for p in range(patients):
        grade = rng.choices(range(5), weights=GRADE_WEIGHTS)[0]
        eyes = [Eye.RIGHT, Eye.LEFT] if rng.random() < 0.5 else [rng.choice([Eye.RIGHT, Eye.LEFT])]
        for n, eye in enumerate(eyes):
            dr = grade if n == 0 else max(0, grade - rng.randint(0, 1))
            path = root / "images" / f"{p:04d}_{eye.value}.png"
            records.append(Record(path, dr, rng.choice([0, 1, 2, None]), f"P{p:04d}", eye, source))
    return records


@pytest.fixture
def records(tmp_path) -> list[Record]:
    return synthetic(tmp_path)


def shares(splits, total: int) -> list[float]:
    return [len(splits[name]) / total for name in ("train", "val", "test")]


def patients_of(split: list[Record]) -> set[str]:
    return {r.patient for r in split}


def test_fractions_are_met_and_every_record_lands_once(records):
    splits = split_records(records, seed=3)
    assert list(splits) == ["train", "val", "test"]
    assert shares(splits, len(records)) == pytest.approx([0.60, 0.15, 0.25], abs=0.03)
    assert sorted(r.image for s in splits.values() for r in s) == sorted(r.image for r in records)
    custom = split_records(records, fractions=(0.8, 0.1, 0.1))
    assert shares(custom, len(records)) == pytest.approx([0.8, 0.1, 0.1], abs=0.03)


def test_no_patient_straddles_two_splits(records):
    for seed in range(5):
        splits = split_records(records, seed=seed)
        train, val, test = (patients_of(splits[n]) for n in ("train", "val", "test"))
        assert not (train & val or train & test or val & test)


def test_each_split_has_every_grade_in_about_the_whole_proportions(records):
    whole = Counter(r.dr for r in records)
    for seed in range(3):
        splits = split_records(records, seed=seed)
        for part in splits.values():
            counts = Counter(r.dr for r in part)
            assert set(counts) == set(range(5))
            for grade in range(5):
                assert counts[grade] / len(part) == pytest.approx(whole[grade] / len(records), abs=0.07)


def test_stratifies_by_the_worse_eye(tmp_path):
    # The only grade-4 images belong to 6 patients whose other eye is grade 0. Grouped by the worse eye they form
    # their own stratum and reach every split; grouped by either eye's grade they could all end up in train.
    records = [Record(tmp_path / f"{p}.png", 0, None, f"P{p}", Eye.RIGHT, "syn") for p in range(100)]
    for p in range(6):
        for eye, dr in ((Eye.RIGHT, 0), (Eye.LEFT, 4)):
            records.append(Record(tmp_path / f"S{p}{eye.value}.png", dr, None, f"S{p}", eye, "syn"))
    for seed in range(5):
        splits = split_records(records, seed=seed)
        assert all(4 in {r.dr for r in part} for part in splits.values())


def test_a_grade_with_three_patients_reaches_every_split(tmp_path):
    records = [Record(tmp_path / f"{p}.png", 0, None, f"P{p}", Eye.RIGHT, "syn") for p in range(100)]
    records += [Record(tmp_path / f"R{p}.png", 3, None, f"R{p}", Eye.RIGHT, "syn") for p in range(3)]
    for seed in range(5):
        splits = split_records(records, seed=seed)
        assert [sum(r.dr == 3 for r in splits[n]) for n in ("train", "val", "test")] == [1, 1, 1]


def test_same_seed_same_split_whatever_the_record_order(records):
    first = split_records(records, seed=7)
    shuffled = list(records)
    random.Random(0).shuffle(shuffled)
    again = split_records(shuffled, seed=7)
    assert {n: sorted(r.image for r in part) for n, part in first.items()} == \
           {n: sorted(r.image for r in part) for n, part in again.items()}
    other = split_records(records, seed=8)
    assert patients_of(other["test"]) != patients_of(first["test"])


def test_stratify_on_dme_or_nothing(records):
    by_dme = split_records(records, stratify="dme")
    assert all({0, 1, 2} <= {r.dme for r in part} for part in by_dme.values())
    plain = split_records(records, stratify=None)
    assert shares(plain, len(records)) == pytest.approx([0.60, 0.15, 0.25], abs=0.03)
    with pytest.raises(ValueError, match="stratify"):
        split_records(records, stratify="grade")


@pytest.mark.parametrize("fractions", [(0.6, 0.2, 0.3), (0.5, 0.5), (1.2, -0.1, -0.1), (0.0, 0.5, 0.5)])
def test_bad_fractions_are_refused(records, fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_records(records, fractions=fractions)


def test_predefined_test_set_stays_test_and_val_comes_from_train(tmp_path):
    published = [
        Record(r.image, r.dr, r.dme, r.patient, r.eye, "idrid", split_hint="test" if i % 4 == 0 else "train")
        for i, r in enumerate(synthetic(tmp_path, patients=120, seed=2))
        if r.eye == Eye.RIGHT  # one image per patient, as in IDRiD
    ]
    unhinted = synthetic(tmp_path / "other", patients=60, seed=3, source="aptos")
    splits = split_records(published + unhinted, use_predefined=True, seed=1)
    hinted_test = {r.image for r in published if r.split_hint == "test"}
    assert {r.image for r in splits["test"] if r.source == "idrid"} == hinted_test
    train_val = [r for name in ("train", "val") for r in splits[name] if r.source == "idrid"]
    assert all(r.split_hint == "train" for r in train_val)
    hinted_train = len(published) - len(hinted_test)
    assert len([r for r in splits["val"] if r.source == "idrid"]) / hinted_train == pytest.approx(0.2, abs=0.04)
    assert {r.source for r in splits["test"]} == {"idrid", "aptos"}  # records without a hint are split as usual
    assert split_records(published, seed=1)["test"] != [r for r in published if r.split_hint == "test"]


def test_a_patient_in_both_predefined_sets_is_refused(tmp_path):
    a = Record(tmp_path / "a.png", 0, None, "P1", Eye.RIGHT, "eyepacs", split_hint="train")
    b = Record(tmp_path / "b.png", 0, None, "P1", Eye.LEFT, "eyepacs", split_hint="test")
    with pytest.raises(ValueError, match="P1"):
        split_records([a, b], use_predefined=True)


def test_save_and_load_round_trip_even_after_the_data_moved(records, tmp_path):
    splits = split_records(records, seed=11, fractions=(0.7, 0.1, 0.2))
    path = tmp_path / "split.json"
    save_split(splits, path)
    saved = json.loads(path.read_text())
    assert saved["settings"] == {"seed": 11, "fractions": [0.7, 0.1, 0.2], "stratify": "dr", "use_predefined": False}
    assert saved["root"] == str(tmp_path / "images")  # the images' common folder
    assert {len(saved["splits"][n]) for n in ("train", "val", "test")} == {len(splits[n]) for n in splits}

    moved = [Record(tmp_path / "elsewhere" / r.image.relative_to(tmp_path), r.dr, r.dme, r.patient, r.eye, r.source)
             for r in reversed(records)]
    for root in (None, tmp_path / "elsewhere" / "images"):
        loaded = load_split(path, moved, root=root)
        assert loaded.settings["seed"] == 11
        for name in ("train", "val", "test"):
            assert [r.image.name for r in loaded[name]] == [r.image.name for r in splits[name]]
            assert all(r.image.is_relative_to(tmp_path / "elsewhere") for r in loaded[name])


def test_loading_a_split_whose_images_are_gone_is_refused(records, tmp_path):
    path = tmp_path / "split.json"
    save_split(split_records(records), path)
    with pytest.raises(ValueError, match="1 listed images have no record"):
        load_split(path, records[1:])
