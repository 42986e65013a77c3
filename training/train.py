"""`ran-train`: train RAN with the paper's protocol as defaults (Adam, lr 0.001, batch 8, 60 epochs, input 224,
focal loss with gamma 2, augmentation), both heads at once, validating after every epoch.

A run lives in one folder: its configuration, the split, a CSV log of every epoch, `last.pt` (written every few
minutes and after every epoch, so an interrupted run resumes where it stopped) and the best weights by the chosen
validation metric. Runs unchanged on a CUDA GPU, and on several with torchrun (DistributedDataParallel).

Long because one run's life (data, epochs, checkpoints, validation, the log, the best weights) is one Trainer, so
what a resumed run restores reads beside what it saved. Its parts are elsewhere: `config` (the run's settings),
`distributed` (the process's place in a torchrun job), `sampling` (the epoch order), `losses`, `predict`.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from ran_desktop.engine.imaging.preprocess import PreprocessSettings
from ran_desktop.engine.model import build_ran
from ran_desktop.engine.model.bundle import load_bundle
from training.augment_on_device import model_inputs
from training.baselines import BASELINES
from training.config import TrainConfig
from training.data import AugmentSettings, FundusDataset, SquareCache
from training.datasets import Record, load_split, save_split, split_records
from training.distributed import place_process
from training.losses import LesionLoss, TwoHeadLoss
from training.metrics import screening_metrics, selection_score
from training.predict import predict
from training.sampling import EpochSampler, default_loader_workers
from training.sources import load_sources

log = logging.getLogger("ran-train")
LOG_COLUMNS = [
    "epoch", "train_loss", "val_loss", "val_dr_accuracy", "val_kappa", "val_auc_any_dr", "val_auc_referable_dr",
    "val_auc_dme", "val_sensitivity_referable_dr", "val_specificity_referable_dr", "selection", "best", "lr",
    "images_per_second", "seconds",
]


class Trainer:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        placement = place_process(cfg.device)
        self.distributed, self.rank, self.device = placement.distributed, placement.rank, placement.device
        self.main = self.rank == 0
        self.workers = (cfg.workers if cfg.workers is not None
                        else default_loader_workers(self.device.type, placement.local_processes))
        cfg.out.mkdir(parents=True, exist_ok=True)
        _seed_everything(cfg.seed + self.rank)
        self.settings = PreprocessSettings(input_size=cfg.input_size)
        chosen = cfg.augment_on_device
        self.on_device = chosen if chosen is not None else self.device.type == "cuda"
        self._load_data()
        self._build_optimisation(placement.world)
        self._loaders: dict[str, DataLoader] = {}
        # Told (epoch, batches done, batches in the epoch) after every step: the app's fine-tune window shows it.
        self.on_batch: Callable[[int, int, int], None] | None = None
        if cfg.resume and (cfg.out / "last.pt").exists():
            self._load_checkpoint(cfg.out / "last.pt")
        if self.main:
            (cfg.out / "config.json").write_text(json.dumps(self.cfg.to_json(), indent=2) + "\n")

    def _load_data(self) -> None:
        """The split, the decoded caches and the three datasets. Rank 0 writes the split and decodes the caches; the
        other ranks then read what it wrote."""
        cfg = self.cfg
        if self.distributed and not self.main:
            dist.barrier()
        records, self.sources = load_sources(cfg.data)
        self.splits = self._split(records)
        cache_dir = cfg.cache_dir or cfg.out / "cache"
        self.caches = {
            name: SquareCache(self.splits[name], self.settings, cache_dir, self.workers)
            for name in ("train", "val", "test")
        }
        if self.distributed and self.main:
            dist.barrier()
        self.lesions = cfg.lesion_weight > 0
        if self.lesions and not self.caches["train"].has_mask.any():
            raise ValueError("--lesion-weight needs data with lesion masks (a 'lesion_mask' column), and none has")
        self.train_set = FundusDataset(self.caches["train"], augmentation=AugmentSettings() if cfg.augment else None,
                                       seed=cfg.seed, lesions=self.lesions, on_device=self.on_device)
        self.val_set = FundusDataset(self.caches["val"], on_device=self.on_device)
        self.test_set = FundusDataset(self.caches["test"], on_device=self.on_device)
        if len(self.train_set) == 0 or len(self.val_set) == 0:
            raise ValueError("the training and validation splits need at least one usable image each")

    def _build_optimisation(self, world: int) -> None:
        """The model (DDP-wrapped when distributed), the losses, the optimiser and this process's epoch order."""
        cfg = self.cfg
        self.model = self._build_model().to(self.device).to(memory_format=torch.channels_last)
        self.net = DistributedDataParallel(self.model) if self.distributed else self.model
        self.criterion = TwoHeadLoss(cfg.gamma, cfg.dme_weight)
        self.lesion_loss = LesionLoss()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.epoch, self.batch_in_epoch, self.best, self.best_epoch = 0, 0, -math.inf, -1
        self._epoch_loss = (0.0, 0)
        limit = cfg.max_batches_per_epoch * cfg.batch_size if cfg.max_batches_per_epoch is not None else None
        self.train_sampler = EpochSampler(len(self.train_set), cfg.seed, replicas=world, rank=self.rank, limit=limit)

    def _split(self, records: list[Record]) -> dict[str, list[Record]]:
        saved = self.cfg.out / "split.json"
        source = saved if saved.exists() else self.cfg.split_file
        if source is not None:
            splits = load_split(source, records)
        else:
            splits = split_records(records, fractions=self.cfg.fractions, seed=self.cfg.seed,
                                   use_predefined=self.cfg.use_predefined_split)
        if self.main and not saved.exists():
            save_split(splits, saved)
        return {name: list(splits[name]) for name in ("train", "val", "test")}

    def _build_model(self):
        if self.cfg.variant in BASELINES:
            if self.cfg.finetune:
                raise ValueError("--finetune loads RAN bundles; baselines start from scratch")
            return BASELINES[self.cfg.variant](dropout=self.cfg.dropout)
        model = build_ran(self.cfg.variant, **self.cfg.architecture_kwargs())
        if self.cfg.finetune:
            # Transfer as in the paper (Kaggle -> Messidor / IDRiD): start from a verified bundle's weights.
            source = load_bundle(self.cfg.finetune, device="cpu")
            result = model.load_state_dict(source.model.state_dict(), strict=False)
            # A lesion head may be new (it starts from scratch), or left behind by a fine-tune without lesion masks;
            # every other weight must come from the bundle.
            missing = [k for k in result.missing_keys if not k.startswith("lesion_head.")]
            unexpected = [k for k in result.unexpected_keys if not k.startswith("lesion_head.")]
            if missing or unexpected:
                raise ValueError(f"{self.cfg.finetune} does not fit this architecture (missing {missing[:3]}, "
                                 f"unexpected {unexpected[:3]})")
            log.info("fine-tuning from %s", source.manifest.title)
        return model

    def _lr(self) -> float:
        if self.cfg.schedule == "cosine":
            return 0.5 * self.cfg.lr * (1 + math.cos(math.pi * self.epoch / self.cfg.epochs))
        return self.cfg.lr

    def _loader(self, dataset: FundusDataset, sampler: Sampler | None, shuffle_sampler: bool = False,
                persistent: bool = False) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.cfg.batch_size,
            sampler=sampler,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            drop_last=shuffle_sampler and len(dataset) > self.cfg.batch_size,
            persistent_workers=persistent and self.workers > 0,
        )

    def _run_loader(self, name: str) -> DataLoader:
        """The run's training or validation loader, made once: its workers serve every epoch. Started per epoch they
        cost a start-up each time, and a worker forked from a process whose memory the training steps have grown makes
        the next step copy every page it writes (copy-on-write; about 2 s on the benchmark's CPU) and then keeps the old
        copies. So fit starts both loaders' workers before the first step, while the process is still small."""
        if name not in self._loaders:
            if name == "train":
                self._loaders[name] = self._loader(self.train_set, self.train_sampler, True, persistent=True)
            else:
                self._loaders[name] = self._loader(self.val_set, None, persistent=True)
        return self._loaders[name]

    def close_loaders(self) -> None:
        """Stop the run's loader workers (fit does at its end; a Trainer driven epoch by epoch calls it itself)."""
        for loader in self._loaders.values():
            iterator = getattr(loader, "_iterator", None)
            if iterator is not None and hasattr(iterator, "_shutdown_workers"):
                iterator._shutdown_workers()
        self._loaders.clear()

    def train_epoch(self) -> tuple[float, int]:
        """Train epoch `self.epoch` from batch `self.batch_in_epoch` (non-zero on resuming part-way): (loss, images)."""
        self.train_sampler.set_epoch(self.epoch, self.batch_in_epoch * self.cfg.batch_size)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()
        return self._train_epoch(self._run_loader("train"))

    def fit(self) -> dict[str, Any]:
        try:
            # Both loaders' workers start here, before the first step (see _run_loader); the validation ones then
            # load the first validation batches while the first epoch trains.
            last = min(self.cfg.epochs, self.cfg.stop_after_epoch or self.cfg.epochs)
            starting = self.main and self.workers > 0 and self.epoch < last
            first_val = iter(self._run_loader("val")) if starting else None
            while self.epoch < last:
                started = time.perf_counter()
                train_loss, seen = self.train_epoch()
                row = self._validate(train_loss, seen, time.perf_counter() - started, first_val)
                first_val = None
                self.epoch += 1
                self.batch_in_epoch = 0
                self._epoch_loss = (0.0, 0)
                if self.main:
                    self._save_checkpoint()
                    self._log(row)
                if self.distributed:
                    dist.barrier()
        finally:
            self.close_loaders()
        return self.finish()

    def _train_epoch(self, loader: DataLoader) -> tuple[float, int]:
        self.net.train()
        limit = self.cfg.max_batches_per_epoch
        total_batches = len(loader) + self.batch_in_epoch
        if limit is not None:
            total_batches = min(total_batches, limit)
        last_save = last_shown = time.monotonic()
        loss_sum, count = self._epoch_loss
        # The epoch's loss is summed on the device and read back only for the progress bar (every few seconds) and
        # checkpoints: reading it every batch would make the host wait for the device to finish each step.
        running = torch.zeros((), device=self.device)
        seen = 0
        t0 = time.perf_counter()
        bar = tqdm(total=total_batches, initial=self.batch_in_epoch, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}",
                   disable=not self.main, file=sys.stderr, dynamic_ncols=True)
        for batch in loader:
            if limit is not None and self.batch_in_epoch >= limit:
                break
            x, dr, dme = batch[:3]
            x = x.to(self.device, non_blocking=True)
            dr, dme = dr.to(self.device, non_blocking=True), dme.to(self.device, non_blocking=True)
            bits = known = None
            if self.lesions:
                bits, known = batch[3].to(self.device, non_blocking=True), batch[4].to(self.device)
            if self.on_device:
                choices = batch[-1] if self.train_set.augmentation is not None else None
                x, bits = model_inputs(x, choices, self.settings, self.train_set.noise_std, self._noise(), bits)
            x = x.contiguous(memory_format=torch.channels_last)
            if self.lesions:
                output, lesion_logits = self.net(x, with_lesions=True)
                loss = (self.criterion(output, dr, dme)
                        + self.cfg.lesion_weight * self.lesion_loss(lesion_logits, bits, known))
            else:
                loss = self.criterion(self.net(x), dr, dme)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            running += loss.detach() * len(x)
            count += len(x)
            seen += len(x)
            self.batch_in_epoch += 1
            bar.update(1)
            if self.on_batch is not None:
                self.on_batch(self.epoch, self.batch_in_epoch, total_batches)
            now = time.monotonic()
            if self.main and now - last_save > 60 * self.cfg.checkpoint_minutes:
                self._epoch_loss = (loss_sum + float(running), count)
                self._save_checkpoint()
                last_save = now
            if self.main and now - last_shown > 2.0:
                bar.set_postfix(loss=f"{(loss_sum + float(running)) / count:.4f}", refresh=False)
                last_shown = now
        loss_sum += float(running)
        self._epoch_loss = (loss_sum, count)
        bar.set_postfix(loss=f"{loss_sum / count:.4f}" if count else "n/a", refresh=False)
        bar.close()
        elapsed = time.perf_counter() - t0
        self._speed = seen / elapsed if elapsed > 0 else 0.0
        return (loss_sum / count if count else float("nan")), seen

    def _noise(self) -> torch.Generator:
        """The augmentation noise's generator for this step, seeded by (seed, rank, epoch, batch): a resumed run
        draws the same noise as an uninterrupted one."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(int(np.random.SeedSequence([self.cfg.seed, self.rank, self.epoch,
                                                          self.batch_in_epoch]).generate_state(1)[0]))
        return generator

    def _validate(self, train_loss: float, seen: int, seconds: float, batches: Any = None) -> dict[str, Any]:
        if not self.main:
            return {}
        loader = batches if batches is not None else self._run_loader("val")
        preds = predict(self.model, loader, self.device, self.criterion, settings=self.settings)
        metrics = screening_metrics(preds.dr_true, preds.dme_true, preds.dr_probs, preds.dme_probs)
        metrics["loss"] = preds.loss
        score = selection_score(metrics, self.cfg.select)
        improved = score > self.best
        if improved:
            self.best, self.best_epoch = score, self.epoch + 1
            self._save_weights(self.cfg.out / "best.safetensors")
            (self.cfg.out / "best.json").write_text(
                json.dumps({"epoch": self.best_epoch, "selection": self.cfg.select, "score": score,
                            "validation": metrics}, indent=2) + "\n")
        def get(task: str, key: str) -> Any:
            return (metrics.get(task) or {}).get(key)
        return {
            "epoch": self.epoch + 1, "train_loss": train_loss, "val_loss": preds.loss,
            "val_dr_accuracy": get("dr", "accuracy"), "val_kappa": get("dr", "quadratic_kappa"),
            "val_auc_any_dr": get("any_dr", "auc"), "val_auc_referable_dr": get("referable_dr", "auc"),
            "val_auc_dme": get("dme", "auc"), "val_sensitivity_referable_dr": get("referable_dr", "sensitivity"),
            "val_specificity_referable_dr": get("referable_dr", "specificity"), "selection": score,
            "best": improved, "lr": self._lr(), "images_per_second": getattr(self, "_speed", 0.0), "seconds": seconds,
        }

    def finish(self) -> dict[str, Any]:
        """Test the best weights once, at the end: the test split never chooses anything."""
        if not self.main:
            return {}
        best = self.cfg.out / "best.safetensors"
        if best.exists():
            self.model.load_state_dict(load_file(str(best), device=str(self.device)))
        summary: dict[str, Any] = {"best_epoch": self.best_epoch, "selection": self.cfg.select, "best_score": self.best}
        if self.epoch < self.cfg.epochs:
            summary["stopped_after_epoch"] = self.epoch
        if len(self.test_set):
            preds = predict(self.model, self._loader(self.test_set, None), self.device, self.criterion,
                            settings=self.settings)
            summary["test"] = screening_metrics(preds.dr_true, preds.dme_true, preds.dr_probs, preds.dme_probs)
        best_json = self.cfg.out / "best.json"
        summary["validation"] = json.loads(best_json.read_text())["validation"] if best.exists() else {}
        summary["sources"] = self.sources
        summary["split_sizes"] = {name: len(ds) for name, ds in
                                  (("train", self.train_set), ("val", self.val_set), ("test", self.test_set))}
        (self.cfg.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    # Checkpoints: tensors and plain numbers only, loaded with weights_only=True (no arbitrary unpickling).
    def _save_checkpoint(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "epoch_loss": list(self._epoch_loss),
            "best": self.best,
            "best_epoch": self.best_epoch,
            "torch_rng": torch.get_rng_state(),
        }
        tmp = self.cfg.out / "last.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.cfg.out / "last.pt")

    def _load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.batch_in_epoch = int(state["epoch"]), int(state["batch_in_epoch"])
        self._epoch_loss = (float(state["epoch_loss"][0]), int(state["epoch_loss"][1]))
        self.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])
        if self.distributed:
            # A resumed distributed run repeats the interrupted epoch, as it did with DistributedSampler. EpochSampler
            # could start every rank's share part-way too, but that is not tested under torchrun yet.
            self.batch_in_epoch, self._epoch_loss = 0, (0.0, 0)
        torch.set_rng_state(state["torch_rng"].cpu())
        log.info("resumed %s at epoch %d, batch %d", path.parent, self.epoch + 1, self.batch_in_epoch)

    def _save_weights(self, path: Path) -> None:
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        tmp = path.with_suffix(".tmp")
        save_file(tensors, str(tmp))
        os.replace(tmp, path)

    def _log(self, row: dict[str, Any]) -> None:
        path = self.cfg.out / "log.csv"
        new = not path.exists()
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=LOG_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow({k: (f"{v:.5f}" if isinstance(v, float) else v) for k, v in row.items()})
        log.info("epoch %d: %s", row["epoch"], ", ".join(f"{k}={row[k]:.4f}" for k in ("train_loss", "val_loss",
                 "selection") if isinstance(row.get(k), float)))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig(data=[], out=Path("."))
    p = argparse.ArgumentParser(prog="ran-train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", action="append", required=True, metavar="KIND:PATH",
                   help="a data set (repeatable): eyepacs:, aptos:, messidor:, idrid:, folders:, csv: and its folder")
    p.add_argument("--out", type=Path, required=True, help="run folder (resumed if it holds last.pt)")
    p.add_argument("--variant", default=d.variant, choices=["ran18", "ran34", "ran50", *BASELINES],
                   help="a RAN variant, or one of the paper's baselines (for ran-compare)")
    p.add_argument("--base-width", type=int, default=d.base_width, help="encoder width (64 is ResNet's)")
    p.add_argument("--input-size", type=int, default=d.input_size)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="L2 penalty")
    p.add_argument("--schedule", choices=["constant", "cosine"], default=d.schedule)
    p.add_argument("--gamma", type=float, default=d.gamma, help="focal loss gamma; 0 = cross entropy")
    p.add_argument("--dme-weight", type=float, default=d.dme_weight)
    p.add_argument("--lesion-weight", type=float, default=d.lesion_weight,
                   help="weight of the lesion head's loss; > 0 adds the head (needs data with lesion masks)")
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--augment-on", choices=("auto", "device", "cpu"), default="auto",
                   help="where augmentation, CLAHE and standardisation run: on the training device in batches "
                        "(default on a GPU), or in the data loaders (default on a CPU)")
    p.add_argument("--select", choices=["kappa", "auc", "combined", "loss"], default=d.select,
                   help="validation metric that picks the best checkpoint")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--split-file", type=Path, help="reuse a saved split (JSON)")
    p.add_argument("--use-predefined-split", action="store_true", help="keep a data set's own test set (IDRiD)")
    p.add_argument("--finetune", type=Path, metavar="BUNDLE", help="start from a model bundle's weights")
    p.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")
    p.add_argument("--workers", type=int, help="data-loading processes (default: from the cores and the device)")
    p.add_argument("--cache-dir", type=Path, help="where decoded squares are kept (default: RUN/cache)")
    p.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes)
    p.add_argument("--max-batches-per-epoch", type=int)
    p.add_argument("--stop-after-epoch", type=int, metavar="N",
                   help="stop after epoch N although --epochs plans more (the cosine schedule keeps its length); "
                        "running again with a larger N, or without it, continues the run")
    p.add_argument("--no-resume", dest="resume", action="store_false", help="start again even if last.pt exists")
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    options = vars(args)
    where = {"auto": None, "device": True, "cpu": False}[options.pop("augment_on")]
    cfg = TrainConfig(**options, augment_on_device=where)
    try:
        trainer = Trainer(cfg)
        summary = trainer.fit()
    except (ValueError, FileNotFoundError) as exc:
        print(f"ran-train: {exc}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if summary:
        print(json.dumps({k: summary[k] for k in ("best_epoch", "best_score", "split_sizes")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
