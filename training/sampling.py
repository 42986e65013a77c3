"""Which images a training process sees, and how many processes load them: a resumable, shardable epoch order."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Sampler

from ran_desktop.engine.model.device import worker_count


class EpochSampler(Sampler[tuple[int, int]]):
    """A seeded permutation per epoch that can start part-way, so a resumed run sees exactly the batches it missed.

    It yields (epoch, position) pairs for FundusDataset: the loader's workers live for the whole run, and their copies
    of the dataset never see anything the main process sets after they started, so the epoch that seeds the
    augmentation travels with every request instead. With `replicas` > 1 it deals each process of a distributed run
    its share, as DistributedSampler(drop_last=True) does: the permutation cut to a multiple of `replicas`, every
    `replicas`-th item from `rank`. `limit` caps the items per epoch (--max-batches-per-epoch), so the workers are
    never asked for batches the loop would throw away.
    """

    def __init__(self, size: int, seed: int, *, replicas: int = 1, rank: int = 0, limit: int | None = None):
        if not 0 <= rank < replicas:
            raise ValueError(f"rank {rank} is not one of {replicas} replicas")
        self.size, self.seed, self.replicas, self.rank, self.limit = size, seed, replicas, rank, limit
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Start `epoch` at item `start` of this process's share (batches done x batch size when resuming)."""
        self.epoch, self.start = epoch, start

    def _share(self) -> int:
        share = self.size // self.replicas if self.replicas > 1 else self.size
        return share if self.limit is None else min(share, self.limit)

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        if self.replicas > 1:
            order = order[: self.size // self.replicas * self.replicas][self.rank :: self.replicas]
        epoch = self.epoch
        return iter([(epoch, i) for i in order[self.start : self._share()].tolist()])

    def __len__(self) -> int:
        return max(0, self._share() - self.start)


def default_loader_workers(device_type: str, processes: int = 1, cores: int | None = None) -> int:
    """Data-loading processes per training process (under torchrun, each process gets its share of the cores)."""
    return worker_count(device_type, cpu_share=4, cap=8, processes=processes, cores=cores)
