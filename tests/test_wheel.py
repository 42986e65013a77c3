"""An installed wheel finds its model and resources: they travel as data files under <prefix>/share/ran-screening,
not beside the package as in a checkout, and the self-test passes from that installation alone."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from locations import REPO_ROOT


def _installed_here() -> str | None:
    try:
        return str(importlib.metadata.distribution("ran-screening").locate_file(""))
    except importlib.metadata.PackageNotFoundError:
        return None


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run([*pip, "wheel", str(REPO_ROOT), "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(work / "dist")], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    wheel = next((work / "dist").glob("ran_screening-*.whl"))
    prefix = work / "prefix"
    before = _installed_here()
    # --ignore-installed: the environment's own (editable) installation is left alone, not replaced.
    done = subprocess.run([*pip, "install", "--no-deps", "--no-compile", "--ignore-installed", "-q", "--prefix",
                           str(prefix), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _installed_here() == before, "installing into a prefix changed this environment's own installation"
    relative = Path(sysconfig.get_path("purelib")).relative_to(sysconfig.get_path("data"))
    env = dict(os.environ, PYTHONPATH=str(prefix / relative), QT_QPA_PLATFORM="offscreen")
    env.pop("RAN_MODELS_DIR", None)
    return prefix, env


def _run(code: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_installed_package_finds_its_model_and_resources(installed, tmp_path):
    prefix, env = installed
    out = _run("import ran_desktop, ran_desktop.paths as p\n"
               "print(ran_desktop.__file__); print(p.install_root()); print(p.installed_models_dir())\n"
               "print(*p.sample_images(), sep='\\n')", env, tmp_path).splitlines()
    shared = prefix / "share" / "ran-screening"
    assert Path(out[0]).is_relative_to(prefix), "the checkout, not the installed copy, was imported"
    assert Path(out[1]) == shared and Path(out[2]) == shared / "models"
    assert [Path(p).name for p in out[3:]] == ["normal_fundus_OS.jpg"]
    assert (shared / "models" / "ran18-real" / "weights.safetensors").is_file()
    assert (shared / "resources" / "fonts" / "DejaVuSans.ttf").is_file()


def test_the_self_test_passes_from_the_installed_wheel_alone(installed, tmp_path):
    """Model loaded and verified, the sample screened, a report written: all from <prefix>, none from the checkout."""
    prefix, env = installed
    out = _run("import sys\nfrom ran_desktop.app import main\n"
               f"sys.exit(main(['--self-test', '--self-test-dir', {str(tmp_path / 'selftest')!r}]))", env, tmp_path)
    assert str(prefix / "share" / "ran-screening" / "models") in out
    assert "self-test passed" in out.lower()
