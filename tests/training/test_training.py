import csv
import json
import math

import numpy as np
import pytest
import torch
from locations import REPO_ROOT
from torch.utils.data import DataLoader
from training_data import write_dotted_dataset

from ran_desktop.engine.imaging.loading import load_images
from ran_desktop.engine.imaging.preprocess import PreprocessSettings, decode_min_side, finish, preprocess
from ran_desktop.engine.model.bundle import load_bundle
from training.data import MISSING, AugmentSettings, FundusDataset, SquareCache, augment, labels_of
from training.datasets import load_dataset
from training.evaluate import main as evaluate_main
from training.export import export_run
from training.losses import TwoHeadLoss
from training.predict import predict
from training.sampling import EpochSampler
from training.train import TrainConfig, Trainer
from training.train import main as train_main


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dotted_dataset(tmp_path_factory.mktemp("data") / "dots", count=40)


def test_training_tensor_is_exactly_what_the_clinic_sees(dataset, tmp_path):
    settings = PreprocessSettings(input_size=64)
    records = load_dataset("csv", dataset)[:3]
    ds = FundusDataset(SquareCache(records, settings, tmp_path, workers=1))
    for i, record in enumerate(records):
        image = load_images(record.image, min_side=decode_min_side(settings))[0]
        clinic = preprocess(image.pixels, settings).tensor
        x, dr, dme = ds[i]
        assert np.array_equal(x.numpy(), clinic)
        assert (dr, dme) == (record.dr, record.dme)


def test_cache_is_reused_and_keyed_by_settings(dataset, tmp_path):
    records = load_dataset("csv", dataset)[:4]
    first = SquareCache(records, PreprocessSettings(input_size=64), tmp_path, workers=1)
    stamp = first.path.stat().st_mtime_ns
    again = SquareCache(records, PreprocessSettings(input_size=64), tmp_path, workers=1)
    assert again.path == first.path and again.path.stat().st_mtime_ns == stamp
    other = SquareCache(records, PreprocessSettings(input_size=64, clahe_clip_limit=3.0), tmp_path, workers=1)
    assert other.path != first.path


def test_unreadable_files_are_left_out(dataset, tmp_path):
    records = load_dataset("csv", dataset)[:3]
    records[1].image.write_bytes(b"not an image")  # the module's data set is regenerated per module
    try:
        cache = SquareCache(records, PreprocessSettings(input_size=64), tmp_path, workers=1)
        assert cache.failed == [1] and cache.usable() == [0, 2]
        assert len(FundusDataset(cache)) == 2
    finally:
        write_dotted_dataset(dataset, count=40)


def test_augmentation_is_seeded_and_keeps_the_surround_black(sample_path):
    import cv2

    square = cv2.resize(cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB), (128, 128))
    aug = AugmentSettings()
    a = augment(square, np.random.default_rng([0, 1, 5]), aug)
    b = augment(square, np.random.default_rng([0, 1, 5]), aug)
    c = augment(square, np.random.default_rng([0, 2, 5]), aug)
    assert a.dtype == np.uint8 and a.shape == square.shape
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a[0, 0].max() == 0 and a[-1, -1].max() == 0  # corners stay surround
    assert not np.array_equal(a, square)


def test_missing_labels_are_masked():
    from pathlib import Path

    from ran_desktop.engine.imaging.loading import Eye
    from training.datasets import Record

    records = [
        Record(Path("/x/a.jpg"), 2, None, "a", Eye.UNKNOWN, "eyepacs"),
        Record(Path("/x/b.jpg"), 3, 1, "b", Eye.UNKNOWN, "messidor", dr_scale="messidor"),
        Record(Path("/x/c.jpg"), 1, 0, "c", Eye.UNKNOWN, "messidor", dr_scale="messidor"),
    ]
    dr, dme = labels_of(records)
    assert dr.tolist() == [2, MISSING, 1] and dme.tolist() == [MISSING, 1, 0]
    loss = TwoHeadLoss(gamma=2.0)
    out = type("Out", (), {"dr": torch.zeros(3, 5, requires_grad=True), "dme": torch.zeros(3, 3, requires_grad=True)})
    value = loss(out, torch.tensor(dr), torch.tensor(dme))
    value.backward()
    assert torch.isfinite(value) and out.dr.grad[1].abs().sum() == 0 and out.dme.grad[0].abs().sum() == 0


def test_epoch_sampler_resumes_part_way():
    sampler = EpochSampler(20, seed=3)
    sampler.set_epoch(2)
    full = list(sampler)
    assert {epoch for epoch, _ in full} == {2}  # the epoch travels with every request, to the loader's workers
    sampler.set_epoch(2, start=8)
    assert list(sampler) == full[8:] and len(sampler) == 12
    sampler.set_epoch(3)
    assert list(sampler) != full and sorted(i for _, i in full) == list(range(20))


def test_epoch_sampler_deals_distributed_shares_and_limits():
    shares = [EpochSampler(21, seed=3, replicas=2, rank=r) for r in (0, 1)]
    for share in shares:
        share.set_epoch(1)
    a, b = ([i for _, i in share] for share in shares)
    assert len(a) == len(b) == len(shares[0]) == 10 and not set(a) & set(b)  # as DistributedSampler(drop_last=True)
    shares[1].set_epoch(1, start=4)
    assert [i for _, i in shares[1]] == b[4:] and len(shares[1]) == 6
    limited = EpochSampler(20, seed=3, limit=8)
    limited.set_epoch(1, start=2)
    whole = EpochSampler(20, seed=3)
    whole.set_epoch(1)
    assert list(limited) == list(whole)[2:8] and len(limited) == 6


def _config(dataset, out, **kw):
    base = dict(data=[f"csv:{dataset}"], out=out, base_width=8, input_size=64, epochs=2, batch_size=8, workers=0,
                augment=False, seed=1, checkpoint_minutes=60.0)
    base.update(kw)
    return TrainConfig(**base)


def _epoch_batches(trainer, epoch, start_batch=0):
    """The image batches the Trainer's own loader gives `train_epoch` for one epoch, from `start_batch` on."""
    got = []

    def record(loader):
        got.extend(x.clone() for x, _, _ in loader)
        return 0.0, 0

    trainer._train_epoch = record
    trainer.epoch, trainer.batch_in_epoch = epoch, start_batch
    trainer.train_epoch()
    return got


def _same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_persistent_workers_augment_each_epoch_as_a_fresh_run_does(dataset, tmp_path):
    """Loader workers outlive the epoch, and their dataset copies never see the main process's later changes: the
    augmentation must still follow the epoch, match a run without workers, and resume part-way identically."""
    def config(workers):
        return _config(dataset, tmp_path / f"run{workers}", augment=True, workers=workers, batch_size=4,
                       cache_dir=tmp_path / "cache")

    trainer = Trainer(config(2))
    try:
        first = _epoch_batches(trainer, 0)
        workers = [w.pid for w in trainer._run_loader("train")._iterator._workers]
        second = _epoch_batches(trainer, 1)
        resumed = _epoch_batches(trainer, 1, start_batch=2)
        assert [w.pid for w in trainer._run_loader("train")._iterator._workers] == workers  # the same processes
    finally:
        trainer.close_loaders()
    assert len(first) == len(second) >= 3 and not _same(first, second)
    assert _same(resumed, second[2:])
    data = trainer.train_set
    for epoch, batches in ((0, first), (1, second)):  # the workers used each epoch's own augmentation seed
        index = data.indices[np.random.default_rng([1, epoch]).permutation(len(data))[0]]
        rng = np.random.default_rng([1, epoch, index])  # _config's seed is 1
        square = augment(np.asarray(data.cache.array[index]), rng, AugmentSettings())
        assert np.array_equal(batches[0][0].numpy(), finish(square, data.cache.settings)[1])

    fresh = Trainer(config(0))
    assert _same(_epoch_batches(fresh, 0), first) and _same(_epoch_batches(fresh, 1), second)


def test_fit_with_workers_keeps_them_for_the_run_and_stops_them(dataset, tmp_path):
    import multiprocessing

    before = set(multiprocessing.active_children())
    run = tmp_path / "run"
    trainer = Trainer(_config(dataset, run, augment=True, workers=2, epochs=2, max_batches_per_epoch=2))
    trainer.fit()
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2] and all(float(r["val_loss"]) > 0 for r in rows)
    assert torch.load(run / "last.pt", weights_only=True)["epoch_loss"][1] == 0  # reset after the epoch
    assert not trainer._loaders and set(multiprocessing.active_children()) <= before


def test_short_run_lowers_the_loss_exports_and_evaluates(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    trainer = Trainer(_config(dataset, run, epochs=6, lr=3e-3))
    loader = DataLoader(trainer.train_set, batch_size=16)
    before = predict(trainer.model, loader, trainer.device, trainer.criterion).loss
    summary = trainer.fit()
    after = predict(trainer.model, loader, trainer.device, trainer.criterion).loss
    assert after < 0.7 * before
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
    assert {"val_kappa", "val_auc_referable_dr", "val_auc_dme"} <= set(rows[0])
    assert summary["split_sizes"]["train"] > summary["split_sizes"]["val"] > 0
    assert "test" in summary and (run / "split.json").exists() and (run / "best.safetensors").exists()

    bundle = tmp_path / "bundle"
    metrics = export_run(run, bundle, name="dots-test", version="0.1.0", workers=0)
    loaded = load_bundle(bundle, device="cpu")
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["trained"] is True and manifest["training_data"]["synthetic"] is False
    assert manifest["metrics"]["test"]["dr"]["quadratic_kappa"] == metrics["dr"]["quadratic_kappa"]
    assert {"MODEL_CARD.md", "roc.png", "confusion_dr.png", "confusion_dme.png"} <= {p.name for p in bundle.iterdir()}
    assert "Test metrics" in (bundle / "MODEL_CARD.md").read_text()
    assert loaded.manifest.input_size == 64

    # ran-evaluate reproduces the model card's numbers from the bundle and the run's split.
    out = tmp_path / "eval"
    assert evaluate_main(["--model", str(bundle), "--data", f"csv:{dataset}", "--split-file", str(run / "split.json"),
                          "--out", str(out), "--workers", "0"]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["dr"]["quadratic_kappa"] == pytest.approx(metrics["dr"]["quadratic_kappa"])
    assert again["referable_dr"]["auc"] == pytest.approx(metrics["referable_dr"]["auc"])
    assert "kappa" in capsys.readouterr().out


def test_interrupted_run_resumes_where_it_stopped(dataset, tmp_path):
    run = tmp_path / "run"
    Trainer(_config(dataset, run, epochs=1)).fit()
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["epoch"] == 1
    resumed = Trainer(_config(dataset, run, epochs=2))
    assert resumed.epoch == 1
    resumed.fit()
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    # The same split is kept on resume, even with another seed.
    assert Trainer(_config(dataset, run, epochs=2, seed=99)).splits["test"] == resumed.splits["test"]


def test_mid_epoch_checkpoint_resumes_at_the_next_batch(dataset, tmp_path):
    run = tmp_path / "run"
    Trainer(_config(dataset, run, epochs=1, max_batches_per_epoch=1)).fit()  # one batch per epoch
    trainer = Trainer(_config(dataset, run, epochs=3))
    trainer.batch_in_epoch = 2  # as if stopped after two batches of epoch 2
    trainer._save_checkpoint()
    resumed = Trainer(_config(dataset, run, epochs=3))
    assert (resumed.epoch, resumed.batch_in_epoch) == (1, 2)


def test_mid_epoch_checkpoints_carry_the_running_loss(dataset, tmp_path):
    # The loss is summed on the device between reads; a checkpoint taken part-way must still hold it.
    trainer = Trainer(_config(dataset, tmp_path / "run", epochs=1, max_batches_per_epoch=2, checkpoint_minutes=0.0))
    saved = []
    save = trainer._save_checkpoint
    trainer._save_checkpoint = lambda: saved.append((trainer.batch_in_epoch, *trainer._epoch_loss)) or save()
    trainer.fit()
    mid = [s for s in saved if s[0] > 0]
    assert [(b, n) for b, _, n in mid] == [(1, 8), (2, 16)] and 0 < mid[0][1] < mid[1][1]
    assert saved[-1] == (0, 0.0, 0)  # after the epoch


def test_cli_trains_without_dme_labels(tmp_path):
    data = write_dotted_dataset(tmp_path / "nodme", count=20, with_dme=False)
    run = tmp_path / "run"
    assert train_main(["--data", f"csv:{data}", "--out", str(run), "--base-width", "8", "--input-size", "64",
                       "--epochs", "1", "--workers", "0", "--batch-size", "4"]) == 0
    best = json.loads((run / "best.json").read_text())
    assert "dme" not in best["validation"] and "dr" in best["validation"]


def test_cli_reports_bad_data(tmp_path, capsys):
    assert train_main(["--data", f"csv:{tmp_path / 'nothing'}", "--out", str(tmp_path / "run")]) == 2
    assert "ran-train:" in capsys.readouterr().err


def test_compare_trains_each_network_on_one_split_and_prints_the_table(dataset, tmp_path, capsys):
    from training.compare import main as compare_main

    out = tmp_path / "cmp"
    assert compare_main(["--data", f"csv:{dataset}", "--out", str(out), "--networks", "ran18,efficientnet_b0",
                         "--losses", "ce,focal", "--epochs", "1", "--input-size", "64", "--base-width", "8",
                         "--workers", "0", "--max-batches-per-epoch", "1"]) == 0
    rows = json.loads((out / "comparison.json").read_text())
    assert [(r["network"], r["loss"]) for r in rows] == [
        ("ran18", "ce"), ("ran18", "focal"), ("efficientnet_b0", "ce"), ("efficientnet_b0", "focal")]
    splits = {json.dumps(json.loads((out / f"{n}-{x}" / "split.json").read_text())["splits"], sort_keys=True)
              for n, x in (("ran18", "ce"), ("efficientnet_b0", "focal"))}
    assert len(splits) == 1
    assert json.loads((out / "ran18-focal" / "config.json").read_text())["gamma"] == 2.0
    assert json.loads((out / "ran18-ce" / "config.json").read_text())["gamma"] == 0.0
    table = (out / "COMPARISON.md").read_text()
    assert "| efficientnet_b0 | focal |" in table and "kappa" in table
    assert "| ran18 | ce |" in capsys.readouterr().out


def test_distributed_run_with_torchrun(dataset, tmp_path):
    """Two CPU processes (gloo) through torch's own launcher: one split, one log, one set of weights."""
    import subprocess
    import sys
    from pathlib import Path

    torchrun = Path(sys.executable).parent / "torchrun"
    run = tmp_path / "ddp"
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node=2", "--master_port=29533", "-m", "training.train", "--data", f"csv:{dataset}",
         "--out", str(run), "--base-width", "8", "--input-size", "64", "--epochs", "2", "--batch-size", "4",
         "--workers", "0", "--device", "cpu"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert (run / "best.safetensors").exists() and json.loads((run / "summary.json").read_text())["test"]


def test_a_run_still_training_can_be_exported(dataset, tmp_path):
    run = tmp_path / "run"
    Trainer(_config(dataset, run, epochs=1)).fit()
    (run / "summary.json").unlink()  # as while the run is still going
    bundle = tmp_path / "bundle"
    export_run(run, bundle, name="in-progress", version="0.0.1", workers=0)
    assert "still running" in (bundle / "MODEL_CARD.md").read_text()
    manifest = load_bundle(bundle, device="cpu").manifest
    assert manifest.metrics["best_epoch"] == 1 and manifest.metrics["split_sizes"]["test"] > 0


def test_stop_after_epoch_keeps_the_planned_schedule_and_continues(dataset, tmp_path):
    run = tmp_path / "run"
    cfg = _config(dataset, run, epochs=3, schedule="cosine", stop_after_epoch=1)
    summary = Trainer(cfg).fit()
    assert summary["stopped_after_epoch"] == 1
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1]
    bundle = tmp_path / "bundle"
    export_run(run, bundle, name="stopped", version="0.0.1", workers=0)
    assert "Stopped (`--stop-after-epoch`) after epoch 1" in (bundle / "MODEL_CARD.md").read_text()
    finished = Trainer(_config(dataset, run, epochs=3, schedule="cosine")).fit()
    assert "stopped_after_epoch" not in finished
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    # epoch 2 ran on the 3-epoch cosine schedule, not a fresh 2-epoch one
    assert float(rows[1]["lr"]) == pytest.approx(0.5 * cfg.lr * (1 + math.cos(math.pi / 3)), abs=1e-5)


def test_loader_workers_follow_the_cores_device_and_processes(dataset, tmp_path):
    from training.sampling import default_loader_workers

    assert default_loader_workers("cpu", cores=2) == 2 and default_loader_workers("cuda", cores=2) == 2
    assert default_loader_workers("cpu", cores=32) == 8 and default_loader_workers("cuda", cores=16) == 8
    assert default_loader_workers("cuda", processes=4, cores=16) == 3  # torchrun: each process its share
    trainer = Trainer(_config(dataset, tmp_path / "a", workers=None))
    assert trainer.workers == default_loader_workers(trainer.device.type)
    assert Trainer(_config(dataset, tmp_path / "b", workers=0)).workers == 0
