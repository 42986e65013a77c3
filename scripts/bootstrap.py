"""Set up the project in ./.venv: create it, install the app with its test and training extras, and make sure a
model bundle exists. Safe to run again: it only reinstalls when pyproject.toml changed. Standard library only."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".ran-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


APP_EXTRAS = ("test", "training", "installer")
TEST_EXTRAS = (*APP_EXTRAS, "cluster")  # the tests also run ran-screen --cluster on a local Ray


def ensure_environment(extras: tuple[str, ...] = APP_EXTRAS) -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - bootstrap runs under whatever python3 the machine has
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not venv_python().exists():
        run(sys.executable, "-m", "venv", VENV)
    project = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = STAMP.read_text().split() if STAMP.exists() else []
    installed = set(stamp[1:]) if stamp[:1] == [project] else set()
    if not installed >= set(extras):
        wanted = sorted(installed | set(extras))
        run(venv_python(), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(venv_python(), "-m", "pip", "install", "--quiet", "-e", f".[{','.join(wanted)}]")
        STAMP.write_text(" ".join([project, *wanted]))
    ensure_model()
    return venv_python()


def ensure_model() -> None:
    """Until trained weights are bundled, make a seeded untrained one so the app can run; it says so loudly."""
    models = ROOT / "models"
    if any((p / "manifest.json").is_file() for p in models.glob("*")):
        return
    run(venv_python(), "-c",
        "from ran_desktop.engine.model.untrained import create_untrained_bundle as c; "
        "m = c('models/ran18-untrained'); print('created', m.title)")


if __name__ == "__main__":
    ensure_environment()
