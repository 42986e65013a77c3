"""Arrays sent back from a preparation worker process through shared memory, not the result pipe.

A worker process's result otherwise travels pickled through a pipe and is unpickled by the executor's thread in
the screener's process: about 1-2 ms of that process's CPU per model input (1.8 MB), which on a GPU workstation
preparing hundreds of photographs a second is time the inference thread waits for the interpreter's lock. Here the
worker copies each array into a block of shared memory and sends its name; the screener copies it out and frees
the block: one copy each side, nothing through the pipe (bench.preparation --transport).

Every block is freed by the side that reads it, or by `release` for a result nobody reads (a cancelled run).
Blocks of a worker that died before sending are freed by multiprocessing's resource tracker when the app exits.
POSIX only (preparation.SHARED_MEMORY): Windows frees a block when the worker closes its handle, before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SharedArray:
    """Where an array waits in shared memory, and what it is."""

    name: str
    shape: tuple[int, ...]
    dtype: str


def share(array: np.ndarray) -> SharedArray:
    """The array copied into a new block of shared memory (in the worker process)."""
    block = SharedMemory(create=True, size=max(1, array.nbytes))
    try:
        np.ndarray(array.shape, array.dtype, buffer=block.buf)[...] = array
        return SharedArray(block.name, tuple(array.shape), array.dtype.str)
    finally:
        block.close()


def take(shared: SharedArray) -> np.ndarray:
    """The array copied out of its block, which is then freed (in the screener's process)."""
    block = SharedMemory(name=shared.name)
    try:
        return np.ndarray(shared.shape, np.dtype(shared.dtype), buffer=block.buf).copy()
    finally:
        block.close()
        block.unlink()


def release(shared: SharedArray) -> None:
    """Free a block whose array nobody will read."""
    try:
        block = SharedMemory(name=shared.name)
    except FileNotFoundError:
        return
    block.close()
    block.unlink()


def share_any(value: Any) -> Any:
    """An array shared, None kept: for the optional arrays of a result."""
    return share(value) if isinstance(value, np.ndarray) else value


def take_any(value: Any) -> Any:
    return take(value) if isinstance(value, SharedArray) else value


def release_any(value: Any) -> None:
    if isinstance(value, SharedArray):
        release(value)
