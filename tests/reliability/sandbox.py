"""Real operating-system conditions for the tests, in child processes: unreadable files even for root, a full or
read-only disk, network tracing, and a clean environment in which every file a program writes can be found."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Collection
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PYTHON = sys.executable

# Root reads any file whatever its mode: CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH let it. setpriv (util-linux)
# starts a program with both removed from its capability sets, so a mode-0 file is as unreadable to it as to a user.
_DROP_READ_POWER = "-dac_override,-dac_read_search"


@functools.cache
def unreadable_prefix() -> list[str]:
    """Command prefix under which a chmod 0 file cannot be read; skips the test where no such thing exists."""
    if not hasattr(os, "geteuid"):
        pytest.skip("file modes do not block reading on this platform (no POSIX permissions)")
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv") or "setpriv"
    prefix = [setpriv, f"--inh-caps={_DROP_READ_POWER}", f"--bounding-set={_DROP_READ_POWER}"]
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_bytes(b"x")
        probe.chmod(0)
        try:
            done = subprocess.run([*prefix, PYTHON, "-c", f"open({str(probe)!r}).read()"], capture_output=True,
                                  text=True, timeout=30)
        except OSError:
            done = None
    if done is None or "PermissionError" not in done.stderr:
        pytest.skip("running as root, and setpriv cannot drop CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH here (it needs "
                    "util-linux's setpriv and CAP_SETPCAP), so no file can be made unreadable to the program")
    return prefix


def locked_copy(source: Path, target: Path) -> Path:
    """A copy of `source` with no permissions at all (mode 000)."""
    target.write_bytes(source.read_bytes())
    target.chmod(0)
    return target


def strace_prefix(trace_file: str) -> list[str]:
    return [shutil.which("strace") or "strace", "-f", "-qq", "--seccomp-bpf",
            "-e", "trace=socket,connect,bind,sendto,sendmsg,sendmmsg", "-o", trace_file]


@functools.cache
def strace_available() -> bool:
    if shutil.which("strace") is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / "t"
        try:
            done = subprocess.run([*strace_prefix(str(trace)), PYTHON, "-c", "import socket; socket.socket()"],
                                  capture_output=True, timeout=60)
        except OSError:
            return False
        return done.returncode == 0 and "AF_INET" in trace.read_text(errors="replace")


_INET = re.compile(r"\b(AF_INET6?|AF_PACKET|PF_INET6?)\b")


def network_syscalls(trace_file: Path) -> list[str]:
    """Socket syscalls in an strace log that involve an internet (or raw packet) address family."""
    lines = trace_file.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if _INET.search(line) and re.search(r"\b(socket|connect|bind|send\w*)\(", line)]


def clean_env(scratch: Path, **extra: str) -> dict[str, str]:
    """An environment whose home, caches and temporary folder all lie inside `scratch`, so any file a program
    writes outside the places it is told about can be found there afterwards."""
    home = scratch / "home"
    for sub in ("tmp", "cache", "config", "data", "torch"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("RAN_", "XDG_", "TORCH", "HF_", "PYTEST_"))
    }
    env.update(
        HOME=str(home), USERPROFILE=str(home), TMPDIR=str(home / "tmp"), TEMP=str(home / "tmp"),
        TMP=str(home / "tmp"), XDG_CACHE_HOME=str(home / "cache"), XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"), TORCH_HOME=str(home / "torch"), QT_QPA_PLATFORM="offscreen",
        OMP_WAIT_POLICY="PASSIVE", RAN_DEVICE="cpu", PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def files_containing(folder: Path, needles: list[str], skip: Collection[str] = ()) -> dict[str, list[str]]:
    """file -> the needles found in its name or its content (UTF-8 or UTF-16), for every file under `folder`
    except those under its top-level entries named in `skip`."""
    found: dict[str, list[str]] = {}
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink() or path.relative_to(folder).parts[0] in skip:
            continue
        try:
            content = path.read_bytes()
        except OSError:
            continue
        name = str(path.relative_to(folder))
        hits = [n for n in needles if n in name or n.encode("utf-8") in content or n.encode("utf-16-le") in content]
        if hits:
            found[str(path)] = hits
    return found
