"""Preparation in worker processes (engine.screening.preparation): the same results as threads on every kind of
photograph, in the same order with the same errors, and a worker process that dies takes no other file with it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from dicom_factory import write_dicom
from locations import REPO_ROOT

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.screening.preparation import CRASHED, PreparationPool, prepare_file
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions, default_processes
from ran_desktop.engine.screening.shared_arrays import SharedArray
from training.synthetic import generate_fundus

IDRID = REPO_ROOT.parent / "shared" / "data" / "idrid-segmentation" / "A. Segmentation" / "1. Original Images"


@pytest.fixture(scope="module")
def loaded(tiny_bundle):
    return load_bundle(tiny_bundle, device="cpu")


@pytest.fixture(scope="module")
def photographs(sample_path, tmp_path_factory) -> list[Path]:
    """The sample, generated photographs of every DR grade (synthetic and real backgrounds), a DICOM, a black frame,
    a file that is not an image, and two of IDRiD's real photographs where the shared data are here."""
    folder = tmp_path_factory.mktemp("photographs")
    files = [sample_path]
    for grade in range(5):
        sample = generate_fundus(700 + grade, dr=grade, size=768, background="real" if grade % 2 else "synthetic")
        files.append(folder / f"grade{grade}.jpg")
        cv2.imwrite(str(files[-1]), cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    files.append(folder / "eye.dcm")
    write_dicom(files[-1], rgb)
    files.append(folder / "black_OD.png")
    cv2.imwrite(str(files[-1]), np.zeros((600, 600, 3), np.uint8))
    files.append(folder / "notes.jpg")
    files[-1].write_text("not a photograph", encoding="utf-8")
    files += sorted(IDRID.rglob("*.jpg"))[:2]
    return files


def _comparable(result) -> tuple:
    """What must be identical: the image, its status and error, the gate's verdict, the model's grades."""
    quality = result.quality
    return (result.key, result.status, result.error, quality.gradable if quality else None, result.dr_grade,
            result.dme_grade)


def _assert_same(found, expected) -> None:
    """Identical where it decides anything; the gate's scores within 1e-9 (relative) and the probabilities within
    1e-6 (OpenCV's threads may sum some measurements in another order; batches of another size take other kernels).
    """
    assert [_comparable(r) for r in found] == [_comparable(r) for r in expected]
    for a, b in zip(found, expected, strict=True):
        if a.quality is not None:
            assert a.quality.scores.keys() == b.quality.scores.keys()
            for name, value in a.quality.scores.items():
                assert value == pytest.approx(b.quality.scores[name], rel=1e-9, abs=1e-12), name
        for mine, theirs in ((a.dr_probs, b.dr_probs), (a.dme_probs, b.dme_probs)):
            assert (mine is None) == (theirs is None)
            if mine is not None:
                assert np.allclose(mine, theirs, rtol=0, atol=1e-6)


def test_processes_give_what_threads_give(loaded, photographs):
    threads = list(Screener(loaded, ScreeningOptions(processes=False, workers=2)).screen_files(photographs))
    processes = list(Screener(loaded, ScreeningOptions(processes=True, workers=2)).screen_files(photographs))
    _assert_same(processes, threads)
    statuses = [r.status for r in processes]
    assert statuses.count(Status.ERROR) == 1 and Status.UNGRADABLE in statuses and Status.SCREENED in statuses
    assert len(processes) == len(photographs)


def _workers_of_this_process() -> list[int]:
    """This test's preparation processes: spawned children of this process (Linux: /proc)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip()) == os.getpid() and b"spawn_main" in cmdline:  # not the tracker
            found.append(int(status.parent.name))
    return found


def test_a_killed_worker_process_takes_no_other_file_with_it(loaded, photographs):
    expected = list(Screener(loaded, ScreeningOptions(processes=False)).screen_files(photographs))
    screener = Screener(loaded, ScreeningOptions(processes=True, workers=2, batch_size=1, lookahead=4))
    results, killed = [], []
    for result in screener.screen_files(photographs):
        results.append(result)
        if not killed and (workers := _workers_of_this_process()):
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])
    assert killed
    _assert_same(results, expected)  # every file prepared again, none reported crashed


def crash_on_some(path: Path, plan):
    """A decoder that kills its process on files named crash*: a damaged file that crashes a native library."""
    if path.name.startswith("crash"):
        os._exit(3)
    return prepare_file(path, plan)


def test_a_file_that_kills_its_worker_twice_is_reported_and_the_rest_are_prepared(loaded, sample_path, tmp_path):
    files = []
    for i in range(6):
        files.append(tmp_path / (f"crash{i}.jpg" if i == 2 else f"eye{i}.jpg"))
        files[-1].write_bytes(sample_path.read_bytes() + bytes([i]))
    plan = Screener(loaded)._plan
    pool = PreparationPool(plan, workers=2, processes=True, prepare=crash_on_some)
    pending = [(path, pool.submit(path)) for path in files]

    def resubmit(broken):
        for i, (path, future) in enumerate(pending):
            if future is not broken:
                pending[i] = (path, pool.submit(path))

    entries = {}
    try:
        while pending:
            path, future = pending[0]
            found = pool.result(future, path, resubmit)
            pending.pop(0)
            entries[path.name] = found
    finally:
        pool.shutdown()
    assert [e.reason for e in entries["crash2.jpg"]] == [CRASHED]
    assert all(type(e).__name__ == "Prepared" for name, found in entries.items() if name != "crash2.jpg"
               for e in found)
    assert len(entries) == 6


def test_processes_are_chosen_where_a_gpu_leaves_many_cores_free():
    assert default_processes("cuda", cores=16) and not default_processes("cuda", cores=4)
    assert not default_processes("cpu", cores=64)  # on a CPU the model needs the cores


def _blocks() -> set[str]:
    """Shared-memory blocks on this machine (POSIX: /dev/shm), as multiprocessing names them."""
    return {p.name for p in Path("/dev/shm").glob("psm_*")}


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="POSIX shared memory is listed in /dev/shm")
def test_worker_processes_send_arrays_through_shared_memory_and_leave_none_behind(loaded, photographs):
    before = _blocks()
    plan = Screener(loaded, ScreeningOptions(keep_stages=True))._plan
    pool = PreparationPool(plan, workers=2, processes=True)
    future = pool.submit(photographs[0])
    sent = future.result()  # what came through the pipe: names of shared memory, not pixels
    assert all(isinstance(v, SharedArray) for v in (sent[0].tensor, *sent[0].stages.values()))
    assert {v.name for v in sent[0].stages.values()} <= _blocks()
    entries = pool.result(future, photographs[0], lambda broken: None)
    expected = prepare_file(photographs[0], plan)
    assert np.array_equal(entries[0].tensor, expected[0].tensor) and entries[0].tensor.dtype == np.float32
    assert all(np.array_equal(entries[0].stages[k], expected[0].stages[k]) for k in expected[0].stages)
    # results prepared but never asked for (a run cancelled, or left early) are freed too
    for path in photographs:
        pool.submit(path)
    pool.shutdown()
    assert _blocks() <= before

    screener = Screener(loaded, ScreeningOptions(processes=True, workers=2, batch_size=2, lookahead=6))
    run = screener.screen_files(photographs)
    next(run)
    run.close()  # the consumer stops after one result: what was prepared ahead is dropped
    assert _blocks() <= before
