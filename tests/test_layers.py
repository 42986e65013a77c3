"""The layers the README promises, enforced with import-linter's contracts in pyproject.toml: the screening engine
imports no Qt, GUI, CLI or training (directly or through anything it imports), training and the CLI no GUI. And the
code passes ruff with the rules pyproject.toml selects, and mypy over ran_desktop and training."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (pip install -e '.[test]')")


def lint(config: Path | None = None) -> subprocess.CompletedProcess:
    args = [LINT, "--no-cache"] + (["--config", str(config)] if config else [])
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_every_layer_contract_is_kept():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    engine = next(c for c in contracts if c.get("source_modules") == ["ran_desktop.engine"])
    assert {"PySide6", "ran_desktop.gui", "ran_desktop.cli", "training"} <= set(engine["forbidden_modules"])
    done = lint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout


def test_a_broken_contract_fails(tmp_path):
    """The check can fail: the engine does import numpy, so a contract forbidding it is reported broken."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["ran_desktop"]\ninclude_external_packages = true\n\n'
        '[[tool.importlinter.contracts]]\nname = "engine without numpy"\ntype = "forbidden"\n'
        'source_modules = ["ran_desktop.engine.imaging.quality"]\nforbidden_modules = ["numpy"]\n'
    )
    done = lint(config)
    assert done.returncode != 0 and "BROKEN" in done.stdout
    assert "ran_desktop.engine.imaging.quality -> numpy" in done.stdout


RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(RUFF is None, reason="ruff is not installed (pip install -e '.[test]')")
def test_the_code_passes_ruff():
    done = subprocess.run([RUFF, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


MYPY = shutil.which("mypy", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(MYPY is None, reason="mypy is not installed (pip install -e '.[test]')")
def test_the_packages_pass_mypy(tmp_path):
    done = subprocess.run([MYPY, "--cache-dir", str(tmp_path / "cache")], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
