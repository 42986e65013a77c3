"""ran-camera-shift: each change does to a real photograph what it says, the referable flag's metrics count what the
app decided (gradable photographs only, the gate's turn-aways apart), and the model card gets one section, replaced
on a second run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.records.results import ModelInfo, ScreeningResult, Status
from training import camera_shift
from training.camera_shift import CARD_END, CARD_START, SHIFTS, put_section, shift_metrics, write_shifted
from training.datasets import Record

INFO = ModelInfo("m", "1", "none", False, True, "", "CPU", referable_threshold=0.5)


def _shift(name: str) -> camera_shift.Shift:
    return next(s for s in SHIFTS if s.name == name)


@pytest.fixture(scope="module")
def photograph(sample_path) -> np.ndarray:
    image = cv2.imread(str(sample_path), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_each_change_does_what_it_says_to_a_real_photograph(photograph):
    lit = photograph > 20  # inside the field of view
    mean = photograph[lit].mean()
    assert _shift("darker").change(photograph)[lit].mean() < mean * 0.8
    assert _shift("brighter").change(photograph)[lit].mean() > mean * 1.15
    dim = _shift("dim").change(photograph)
    assert dim[lit].mean() == pytest.approx(mean * 0.55, rel=0.02)
    yellow = _shift("yellow_cast").change(photograph).astype(float)
    assert yellow[..., 0][lit[..., 0]].mean() == pytest.approx(photograph[..., 0][lit[..., 0]].mean() * 0.7, rel=0.02)
    small = _shift("small_jpeg").change(photograph)
    assert small.shape[1] == 1000 and small.shape[0] == round(photograph.shape[0] * 1000 / photograph.shape[1])
    assert _shift("low_resolution").change(photograph).shape[1] == 640
    sharpness = cv2.Laplacian(cv2.cvtColor(photograph, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
    blurred = cv2.cvtColor(_shift("defocus").change(photograph), cv2.COLOR_BGR2GRAY)
    assert cv2.Laplacian(blurred, cv2.CV_64F).var() < sharpness * 0.3
    noisy = _shift("noise").change(photograph).astype(float)
    assert 5 < np.std(noisy[lit] - photograph[lit]) < 9 and np.array_equal(noisy, _shift("noise").change(photograph))
    cut = _shift("cut_field").change(photograph)
    assert cut.shape[1] == photograph.shape[1] and cut.shape[0] == pytest.approx(photograph.shape[0] * 0.76, abs=2)


def test_changed_copies_are_written_and_the_photographs_as_taken_are_the_files_themselves(sample_path, tmp_path):
    records = [Record(sample_path, 2, 0, "p1", Eye.LEFT, "csv"), Record(sample_path, 0, 0, "p2", Eye.LEFT, "csv")]
    assert write_shifted(records, _shift("as_taken"), tmp_path / "as_taken") == [sample_path, sample_path]
    written = write_shifted(records, _shift("darker"), tmp_path / "darker")
    assert [p.parent for p in written] == [tmp_path / "darker"] * 2 and len(set(written)) == 2
    assert all(cv2.imread(str(p)) is not None for p in written)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photograph")
    with pytest.raises(ValueError, match="notes.jpg: cannot be read"):
        write_shifted([Record(bad, 0, 0, "p3", Eye.LEFT, "csv")], _shift("darker"), tmp_path / "bad")


def _result(status: Status, referable_probability: float) -> ScreeningResult:
    p = referable_probability
    gradable = status is Status.SCREENED
    return ScreeningResult("k", Path("/x.jpg"), status, INFO, dr_probs=(1 - p, 0, p, 0, 0) if gradable else None,
                           dme_probs=(1.0, 0.0, 0.0) if gradable else None)


def test_metrics_count_the_apps_flag_on_gradable_photographs_and_the_gate_apart():
    truth = [True, True, True, False, False, False, True]
    results = [_result(Status.SCREENED, 0.9), _result(Status.SCREENED, 0.7), _result(Status.SCREENED, 0.2),
               _result(Status.SCREENED, 0.1), _result(Status.SCREENED, 0.6), _result(Status.UNGRADABLE, 0),
               _result(Status.ERROR, 0)]
    m = shift_metrics(truth, results)
    assert (m["images"], m["ungradable"], m["unreadable"], m["referable"], m["not_referable"]) == (7, 1, 1, 3, 2)
    assert m["sensitivity"] == pytest.approx(2 / 3) and m["specificity"] == pytest.approx(0.5)
    assert m["auc"] == pytest.approx(5 / 6)  # 0.9 and 0.7 above both negatives, 0.2 above 0.1 only
    everything_ungradable = shift_metrics([True, False], [_result(Status.UNGRADABLE, 0)] * 2)
    assert everything_ungradable["sensitivity"] is None and everything_ungradable["auc"] is None


def test_the_card_section_is_added_before_limits_and_replaced_on_a_second_run():
    card = "# Model card\n\n## Real validation set\nnumbers\n\n## Limits\n- one camera\n"
    first = put_section(card, f"{CARD_START}\nfirst\n{CARD_END}\n")
    assert first.index("first") < first.index("## Limits") and first.count(CARD_START) == 1
    second = put_section(first, f"{CARD_START}\nsecond\n{CARD_END}\n")
    assert "first" not in second and second.count(CARD_START) == 1 and second.endswith("- one camera\n")
    assert put_section("# card\n", "section\n") == "# card\n\nsection\n"  # no Limits: at the end


def test_the_command_screens_every_change_through_the_app_and_writes_json_and_card(tiny_bundle, sample_path,
                                                                                     tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [("a_OD.jpg", 2, 1), ("b_OD.jpg", 0, 0), ("c_OS.jpg", 3, 0), ("d_OS.jpg", 0, 0)]
    for name, _dr, _dme in rows:
        (data / name).write_bytes(sample_path.read_bytes())
    with open(data / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "dr", "dme"])
        writer.writerows(rows)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for file in tiny_bundle.iterdir():
        (bundle / file.name).write_bytes(file.read_bytes())
    (bundle / "MODEL_CARD.md").write_text("# card\n\n## Limits\n- tiny\n")
    args = ["--model", str(bundle), "--data", f"csv:{data}", "--out", str(tmp_path / "out"), "--card",
            "--shift", "as_taken", "--shift", "darker", "--shift", "defocus"]
    assert camera_shift.main(args) == 0
    measured = json.loads((tmp_path / "out" / "camera-shift.json").read_text())["shifts"]
    assert list(measured) == ["as_taken", "darker", "defocus"]
    for m in measured.values():
        assert (m["images"], m["referable"] + m["not_referable"] + m["ungradable"] + m["unreadable"]) == (4, 4)
    assert measured["as_taken"]["ungradable"] == 0 and measured["as_taken"]["referable"] == 2
    assert measured["darker"]["auc"] is not None and measured["defocus"]["description"].startswith("defocus")
    assert camera_shift.main(args) == 0
    card = (bundle / "MODEL_CARD.md").read_text()
    assert card.count("## Camera differences") == 1 and card.index("## Camera differences") < card.index("## Limits")
    assert "| the photographs as they are |" in card and "4 images from csv (data)" in card
    assert camera_shift.main(["--model", str(bundle), "--data", f"csv:{tmp_path / 'nothing'}",
                              "--out", str(tmp_path / "o2")]) == 2
