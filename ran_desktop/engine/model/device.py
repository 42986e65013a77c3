"""Which device runs the model: CUDA when there is one, else the CPU; a setting or RAN_DEVICE overrides.

torch is optional here: the CPU build of the app ships without it (installer/README.md) and runs the bundle's ONNX
graph on the CPU, so without torch the choice is always the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.util import find_spec

try:
    import torch
except ImportError:  # the CPU build: no torch, ONNX Runtime on the CPU (runtime.py)
    torch = None  # type: ignore[assignment]  # the module's absence is what callers test for

DEVICE_ENV = "RAN_DEVICE"


def torch_installed() -> bool:
    """Whether this installation has PyTorch (the GPU runtime and the training dependency)."""
    return torch is not None


def torchvision_installed() -> bool:
    """Whether torchvision is there too (a pip install; the installed builds leave it out): its nvJPEG decoder."""
    try:
        return torch is not None and find_spec("torchvision") is not None
    except (ImportError, ValueError):  # a finder refused the name: not importable here
        return False


@dataclass(frozen=True)
class DeviceChoice:
    kind: str  # "cpu" or "cuda"
    description: str  # for the status bar and reports, e.g. "CUDA: NVIDIA H100" or "CPU (2 threads)"
    note: str = ""  # why the choice differs from what was asked, if it does
    index: int | None = None  # the GPU's number, for CUDA

    @property
    def device(self) -> torch.device:
        """torch's name for it (only where torch is installed)."""
        return torch.device(self.kind, self.index) if self.index is not None else torch.device(self.kind)


def cpu_threads() -> int:
    """Threads the model's CPU kernels use: torch's own count where it is installed (one per physical core), else
    the cores this process may run on."""
    if torch is not None:
        return torch.get_num_threads()
    available = getattr(os, "sched_getaffinity", None)
    return len(available(0)) if available is not None else (os.cpu_count() or 1)


def worker_count(device_type: str, *, cpu_share: int, cap: int, processes: int = 1, cores: int | None = None) -> int:
    """Helper threads or processes that feed the model: on a GPU inference costs the CPU little, so all of this
    process's cores but one; on a CPU the model's own threads need most of them, so 1/`cpu_share`. Two at least."""
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
    if torch is None:
        note = "" if asked == "auto" else f"{asked} was requested but this is the CPU build (no PyTorch); using the CPU"
        return _cpu(note)
    if not torch.cuda.is_available():
        note = "" if asked == "auto" else f"{asked} was requested but no usable CUDA GPU was found; using the CPU"
        return _cpu(note)
    device = torch.device("cuda" if asked == "auto" else asked)
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        return _cpu(f"{asked} was requested but only {torch.cuda.device_count()} GPU(s) exist; using the CPU")
    return DeviceChoice("cuda", f"CUDA: {torch.cuda.get_device_name(index)}", index=index)


def _cpu(note: str = "") -> DeviceChoice:
    return DeviceChoice("cpu", f"CPU ({cpu_threads()} threads)", note)
