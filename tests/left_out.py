"""Run Python code in a fresh interpreter where some packages cannot be imported, as if they were not installed:
how the tests check the installed app's exclusions and the CPU build, which ships without torch."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Installed first: importing a left-out package (or anything under it) fails as a missing one does.
BLOCKER = """
import importlib.abc, sys
LEFT_OUT = {left_out!r}

class LeftOut(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == e or name.startswith(e + ".") for e in LEFT_OUT):
            raise ModuleNotFoundError(f"No module named {{name!r}} (left out of this installation)", name=name)
        return None

sys.meta_path.insert(0, LeftOut())
"""


def run_without(left_out: Iterable[str], code: str, args: Sequence[str] = (), env: dict[str, str] | None = None,
                cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess:
    """`code` run by this Python with `left_out` unimportable; stdout and stderr captured as text."""
    program = BLOCKER.format(left_out=tuple(left_out)) + code
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), cwd=cwd, timeout=timeout)
