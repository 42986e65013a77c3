"""Where this training process runs: alone, or as one rank of a torchrun job (DistributedDataParallel).

Under torchrun, one GPU per process (nccl) where each process on this machine has one and the CPU was not asked
for; else every process on the CPU (gloo): all ranks must agree on the backend.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ran_desktop.engine.model.device import choose_device

log = logging.getLogger("ran-train")


@dataclass(frozen=True)
class Placement:
    distributed: bool
    rank: int
    world: int  # processes in the job
    local_processes: int  # processes on this machine, which share its cores
    device: torch.device


def place_process(device_request: str | None) -> Placement:
    """Join the job's process group where torchrun started this process (WORLD_SIZE > 1), and pick its device."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Placement(False, 0, 1, 1, choose_device(device_request).device)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    per_machine = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    on_gpu = device_request != "cpu" and cuda and per_machine <= torch.cuda.device_count()
    if not on_gpu and device_request != "cpu" and cuda:
        log.warning("%d processes on this machine but %d GPU(s): training on the CPU; start one process "
                    "per GPU (torchrun --nproc_per_node)", per_machine, torch.cuda.device_count())
    dist.init_process_group("nccl" if on_gpu else "gloo")
    if on_gpu:
        torch.cuda.set_device(local)
    device = torch.device("cuda", local) if on_gpu else torch.device("cpu")
    return Placement(True, dist.get_rank(), dist.get_world_size(), per_machine, device)
