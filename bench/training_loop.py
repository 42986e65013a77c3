"""6. Training: images per second of Trainer's loop against a bare loop over tensors already in memory."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from bench.common import SAMPLE, Context, Section

TARGET = 0.9


def write_dataset(folder: Path, count: int, size: int = 512) -> Path:
    """A labelled CSV data set (the generic layout training.sources reads) from the sample photograph."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    base = cv2.resize(cv2.imread(str(SAMPLE)), (size, size), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(count):
        image = base.copy()
        for _ in range(int(rng.integers(0, 20))):
            x, y = rng.integers(size // 4, 3 * size // 4, 2)
            cv2.circle(image, (int(x), int(y)), 3, (10, 10, 90), -1)
        name = f"images/p{i // 2:03d}_{'left' if i % 2 else 'right'}.jpg"
        cv2.imwrite(str(folder / name), image)
        rows.append({"image": name, "dr": i % 5, "dme": i % 3, "patient": f"p{i // 2:03d}",
                     "eye": "OS" if i % 2 else "OD"})
    with open(folder / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def run(ctx: Context, section: Section) -> dict:
    from training.train import TrainConfig, Trainer

    m = ctx.load_model().manifest
    kwargs = m.architecture.get("kwargs") or {}
    batches = ctx.n(8, 2)
    run_epochs = TrainConfig.epochs  # the paper's 60: what a real run spreads its start-up over
    cfg = TrainConfig(data=[f"csv:{write_dataset(ctx.scratch / 'train_data', ctx.n(120, 24))}"],
                      out=ctx.scratch / "train_run", variant=m.architecture["variant"],
                      base_width=int(kwargs.get("base_width", 64)), input_size=m.input_size, epochs=run_epochs,
                      max_batches_per_epoch=batches, device="cpu" if not torch.cuda.is_available() else None)
    trainer = Trainer(cfg)
    bs = cfg.batch_size

    def trainer_epoch() -> tuple[int, float]:
        # Trainer.train_epoch is what fit runs each epoch: the run's persistent loader, its sampler set to the epoch.
        trainer.batch_in_epoch, trainer._epoch_loss = 0, (0.0, 0)
        t0 = time.perf_counter()
        _, seen = trainer.train_epoch()
        elapsed = time.perf_counter() - t0
        trainer.epoch += 1
        return seen, elapsed

    # The bare loop: same model, loss and optimiser, the same batches already stacked in memory.
    xs = [torch.stack([trainer.train_set[(b * bs + i) % len(trainer.train_set)][0] for i in range(bs)])
          for b in range(batches)]
    dr = torch.tensor([i % 5 for i in range(bs)], device=trainer.device)
    dme = torch.tensor([i % 3 for i in range(bs)], device=trainer.device)
    xs = [x.to(trainer.device).contiguous(memory_format=torch.channels_last) for x in xs]

    def bare_epoch() -> tuple[int, float]:
        trainer.model.train()
        t0 = time.perf_counter()
        for x in xs:
            loss = trainer.criterion(trainer.model(x), dr, dme)
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            trainer.optimizer.step()
            float(loss.detach())
        return len(xs) * bs, time.perf_counter() - t0

    try:
        # As in fit, the run's first epoch comes first: it starts the loader workers before any step has grown the
        # process, and pays the first-call costs once. Its extra time over a later epoch is the run's start-up.
        _, first = trainer_epoch()
        bare_epoch()  # warm-up for the bare loop: first-call allocations and kernel selection
        bare, real = [], []
        for _ in range(ctx.n(5, 1)):  # interleaved, so a slow spell on the machine hits both alike
            n, s = bare_epoch()
            bare.append(n / s)
            images, s = trainer_epoch()  # the same count every epoch: the sampler's limit, whole batches
            real.append(s)
    finally:
        trainer.close_loaders()
    bare_ips = float(np.median(bare))
    epoch_s = float(np.median(real))
    startup = max(0.0, first - epoch_s)
    steady_ips = images / epoch_s
    real_ips = images / (epoch_s + startup / run_epochs)
    section.add("bare loop (tensors in memory)", bare_ips, "img/s")
    section.add("Trainer loop, an epoch after the first (workers already running)", steady_ips, "img/s",
                baseline=bare_ips, ratio=steady_ips / bare_ips)
    section.add("Trainer run start-up, once per run (first epoch's extra time)", startup, "s")
    section.add("Trainer loop (DataLoader, augmentation, CLAHE, standardise)", real_ips, "img/s",
                baseline=bare_ips, ratio=real_ips / bare_ips, target=f">= {TARGET}x",
                passed=real_ips / bare_ips >= TARGET)
    listed = lambda values: ", ".join(f"{v:.2f}" for v in values)  # noqa: E731
    section.notes.append(f"{m.architecture['variant']} {kwargs or 'full width'} at {m.input_size} px, batch {bs}, "
                         f"{images // bs} batches per epoch, {trainer.workers} DataLoader workers; median of "
                         f"interleaved passes (a bare pass, then a Trainer epoch): bare img/s per pass "
                         f"{listed(bare)}; Trainer epoch seconds {listed(real)}, the run's first epoch {first:.2f}")
    section.notes.append(f"the Trainer's epochs are one run's, through Trainer.train_epoch as fit calls it, on the "
                         f"loader whose workers live for the run; the judged row adds the run's start-up (worker "
                         f"start, first batches, first-call allocations: the first epoch's time over a later "
                         f"epoch's) spread over a {run_epochs}-epoch run of these {images // bs}-batch epochs. Not "
                         f"covered: validation between epochs, checkpoints, and epochs as long as a real data "
                         f"set's, over which the start-up would weigh less still")
    return {"ratio": real_ips / bare_ips, "steady_ratio": steady_ips / bare_ips, "startup_s": startup}
