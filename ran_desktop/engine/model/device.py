"""Which torch device runs the model: CUDA when there is one, else the CPU; a setting or RAN_DEVICE overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

DEVICE_ENV = "RAN_DEVICE"


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    description: str  # for the status bar and reports, e.g. "CUDA: NVIDIA H100" or "CPU (2 threads)"
    note: str = ""  # why the choice differs from what was asked, if it does


def worker_count(device_type: str, *, cpu_share: int, cap: int, processes: int = 1, cores: int | None = None) -> int:
    """Helper threads or processes that feed the model: on a GPU inference costs the CPU little, so all of this
    process's cores but one; on a CPU torch's own threads need most of them, so 1/`cpu_share`. Two at least."""
    share = (cores or os.cpu_count() or 2) // max(1, processes)
    return max(2, min(share - 1 if device_type == "cuda" else share // cpu_share, cap))


def choose_device(preference: str | None = None) -> DeviceChoice:
    """Resolve "auto", "cpu", "cuda" or "cuda:N"; the argument wins over the RAN_DEVICE environment variable.

    Asking for CUDA where none is usable falls back to the CPU with a note instead of failing: a clinic PC whose
    GPU driver broke must still screen.
    """
    asked = (preference or os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    if asked not in ("auto", "cpu") and not asked.startswith("cuda"):
        raise ValueError(f"unknown device {asked!r}: use auto, cpu, cuda or cuda:N")
    if asked == "cpu":
        return _cpu()
    if not torch.cuda.is_available():
        note = "" if asked == "auto" else f"{asked} was requested but no usable CUDA GPU was found; using the CPU"
        return _cpu(note)
    device = torch.device("cuda" if asked == "auto" else asked)
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        return _cpu(f"{asked} was requested but only {torch.cuda.device_count()} GPU(s) exist; using the CPU")
    return DeviceChoice(torch.device("cuda", index), f"CUDA: {torch.cuda.get_device_name(index)}")


def _cpu(note: str = "") -> DeviceChoice:
    return DeviceChoice(torch.device("cpu"), f"CPU ({torch.get_num_threads()} threads)", note)
