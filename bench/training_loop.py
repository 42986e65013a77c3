"""6. Training: images per second of Trainer's loop against a bare loop over tensors already in memory."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from .common import SAMPLE, Context, Section

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
    from training.train import EpochSampler, Trainer, TrainConfig

    m = ctx.load_model().manifest
    kwargs = m.architecture.get("kwargs") or {}
    batches = ctx.n(8, 2)
    cfg = TrainConfig(data=[f"csv:{write_dataset(ctx.scratch / 'train_data', ctx.n(120, 24))}"],
                      out=ctx.scratch / "train_run", variant=m.architecture["variant"],
                      base_width=int(kwargs.get("base_width", 64)), input_size=m.input_size, epochs=1,
                      max_batches_per_epoch=batches, device="cpu" if not torch.cuda.is_available() else None)
    trainer = Trainer(cfg)
    bs = cfg.batch_size
    sampler = EpochSampler(len(trainer.train_set), cfg.seed)

    def trainer_epoch() -> tuple[int, float]:
        trainer.batch_in_epoch, trainer._epoch_loss = 0, (0.0, 0)
        sampler.set_epoch(0, 0)
        t0 = time.perf_counter()
        _, seen = trainer._train_epoch(trainer._loader(trainer.train_set, sampler, True))
        return seen, time.perf_counter() - t0

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

    bare_epoch()  # warm-up: first-call allocations and kernel selection
    bare, real = [], []
    for _ in range(ctx.n(3, 1)):  # interleaved, so a slow spell on the machine hits both alike
        n, s = bare_epoch()
        bare.append(n / s)
        n, s = trainer_epoch()
        real.append(n / s)
    bare_ips, real_ips = float(np.median(bare)), float(np.median(real))
    section.add("bare loop (tensors in memory)", bare_ips, "img/s")
    section.add("Trainer loop (DataLoader, augmentation, CLAHE, standardise)", real_ips, "img/s",
                baseline=bare_ips, ratio=real_ips / bare_ips, target=f">= {TARGET}x",
                passed=real_ips / bare_ips >= TARGET)
    section.notes.append(f"{m.architecture['variant']} {kwargs or 'full width'} at {m.input_size} px, batch {bs}, "
                         f"{batches} batches per pass, {cfg.workers} DataLoader workers; median of interleaved "
                         f"passes; the Trainer's pass includes starting its DataLoader workers, as every epoch does")
    return {"ratio": real_ips / bare_ips}
