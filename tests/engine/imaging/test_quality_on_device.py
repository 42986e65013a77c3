"""The quality gate's detail as tensor operations (quality_on_device.py, what a GPU workstation runs): the same
sharpness and vessel contrast as the CPU's OpenCV measurement, and so the same decisions, on the sample and what
cameras do to it, generated photographs of every grade, IDRiD's real photographs, and frames with nothing to measure.
Run here on the CPU device; tests/engine/model/test_cuda.py runs it on a GPU."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from locations import REPO_ROOT

from ran_desktop.engine.imaging.field_of_view import detect_fov
from ran_desktop.engine.imaging.loading import load_images
from ran_desktop.engine.imaging.quality import assess_quality, detail, judge, measure
from ran_desktop.engine.imaging.quality_on_device import details
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions, default_prepare_on_device
from training.quality_eval import crescent, defocus, hazy_lens, pale, shade, small_pupil
from training.synthetic import generate_fundus

IDRID = REPO_ROOT.parent / "shared" / "data" / "idrid-segmentation" / "A. Segmentation" / "1. Original Images"
RELATIVE, ABSOLUTE = 1e-5, 1e-6  # scores agree to this (only the order of additions differs); thresholds are 1e-2


def photographs(sample_path: Path) -> dict[str, np.ndarray]:
    sample = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    found = {"sample": sample, "defocused": defocus(sample), "crescent": crescent(sample), "hazy": hazy_lens(sample),
             "pale": pale(sample), "shadowed": shade(sample, 0.3, 0.2), "small pupil": small_pupil(sample),
             "dark": (sample * 0.1).astype(np.uint8), "black": np.zeros((600, 800, 3), np.uint8),
             "flat grey": np.full((600, 600, 3), 128, np.uint8)}
    for grade in range(5):
        found[f"grade {grade}"] = generate_fundus(500 + grade, dr=grade, size=768,
                                                  background="real" if grade % 2 else "synthetic").image
    for path in sorted(IDRID.rglob("*.jpg"))[::9]:  # every ninth of the 81, where the shared data are here
        found[path.stem] = load_images(path, min_side=640)[0].pixels
    return found


def test_the_detail_on_the_device_is_the_cpus(sample_path):
    pictures = photographs(sample_path)
    measured = {name: measure(rgb, detect_fov(rgb), (rgb.shape[1], rgb.shape[0])) for name, rgb in pictures.items()}
    on_device = dict(zip(measured, details(list(measured.values()), "cpu"), strict=True))
    for name, m in measured.items():
        expected = detail(m)
        assert on_device[name] == pytest.approx(expected, rel=RELATIVE, abs=ABSOLUTE), name
        ours, theirs = judge(m, on_device[name]), judge(m, expected)
        assert (ours.gradable, ours.reasons) == (theirs.gradable, theirs.reasons), name  # the same decision
    decisions = {name: judge(m, on_device[name]).gradable for name, m in measured.items()}
    assert decisions["sample"] and not decisions["defocused"] and not decisions["black"]  # the set has both kinds
    assert len(pictures) >= 15


def test_the_screener_on_the_device_decides_and_grades_as_on_the_cpu(tiny_bundle, sample_path, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, rgb in photographs(sample_path).items():
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (folder / "letter.jpg").write_text("not a photograph", encoding="utf-8")
    loaded = load_bundle(tiny_bundle, device="cpu")
    on_cpu = list(Screener(loaded, ScreeningOptions(batch_size=4)).screen([folder]))
    screener = Screener(loaded, ScreeningOptions(batch_size=4, prepare_on_device=True))
    assert screener.prepare_on_device and not Screener(loaded).prepare_on_device  # the CPU's default: not
    on_device = list(screener.screen([folder]))
    assert [(r.key, r.status, r.error) for r in on_device] == [(r.key, r.status, r.error) for r in on_cpu]
    for a, b in zip(on_device, on_cpu, strict=True):
        if b.quality is not None:
            assert a.quality.gradable == b.quality.gradable and a.quality.reasons == b.quality.reasons
            assert a.quality.scores == pytest.approx(b.quality.scores, rel=RELATIVE, abs=ABSOLUTE)
            assert (a.dr_probs, a.dme_probs, a.suspicion) == (b.dr_probs, b.dme_probs, b.suspicion)
    assert {r.status.value for r in on_cpu} == {"screened", "ungradable", "error"}


def test_the_detail_moves_to_the_device_on_a_gpu_only():
    assert default_prepare_on_device("cuda") and not default_prepare_on_device("cpu")


def test_assess_quality_is_measure_detail_and_judge(sample_path):
    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    fov = detect_fov(rgb)
    m = measure(rgb, fov, (rgb.shape[1], rgb.shape[0]))
    assert judge(m, detail(m)) == assess_quality(rgb, fov, (rgb.shape[1], rgb.shape[0]))


def test_previews_and_heat_maps_are_the_same_when_prepared_on_the_device(tiny_bundle, sample_path, tmp_path):
    """The GUI's previews (keep_stages) and heat maps from a batch finished on the device equal the CPU's."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, rgb in list(photographs(sample_path).items())[:8]:
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    loaded = load_bundle(tiny_bundle, device="cpu")
    options = dict(batch_size=3, heatmaps=True, keep_stages=True)
    on_cpu = list(Screener(loaded, ScreeningOptions(**options)).screen([folder]))
    on_device = list(Screener(loaded, ScreeningOptions(**options, prepare_on_device=True)).screen([folder]))
    shown = 0
    for a, b in zip(on_device, on_cpu, strict=True):
        assert a.key == b.key and set(a.stages or {}) == set(b.stages or {})
        for stage, picture in (b.stages or {}).items():
            np.testing.assert_array_equal(a.stages[stage], picture, err_msg=f"{b.key} {stage}")
        if b.heatmap is not None:
            np.testing.assert_array_equal(a.heatmap, b.heatmap)
            shown += 1
        assert "on device" in a.timings_ms or a.stages is None
    assert shown >= 3


def test_worker_processes_send_back_what_the_device_finishes(tiny_bundle, sample_path, tmp_path):
    """On a GPU workstation with many cores preparation runs in worker processes: the measurements and squares they
    send back for the device give the same results as threads."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, rgb in list(photographs(sample_path).items())[:6]:
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    loaded = load_bundle(tiny_bundle, device="cpu")
    options = dict(batch_size=4, workers=2, prepare_on_device=True)
    in_threads = list(Screener(loaded, ScreeningOptions(**options, processes=False)).screen([folder]))
    in_processes = list(Screener(loaded, ScreeningOptions(**options, processes=True)).screen([folder]))
    assert [(r.key, r.status, r.quality.scores if r.quality else None, r.dr_probs) for r in in_processes] == \
        [(r.key, r.status, r.quality.scores if r.quality else None, r.dr_probs) for r in in_threads]
    assert len(in_threads) == 6
