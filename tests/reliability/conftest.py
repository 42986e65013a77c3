"""Fixtures for the reliability and security tests: the bad-input corpus, the tiny real model, a real window."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

# the GUI tests' helpers (real drag-and-drop events, waiting for batches) are shared, not copied
sys.path.append(str(Path(__file__).resolve().parent.parent / "gui"))

from corpus import build_corpus
from gui_helpers import TIMEOUT_MS
from recorded_runs import Run, cli_has_reports, run_app, run_cli
from sandbox import unreadable_prefix


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """The bad-input corpus, written once per run; tests only read it."""
    return build_corpus(tmp_path_factory.mktemp("bad-input") / "corpus")


@pytest.fixture(scope="session")
def loaded(tiny_bundle):
    from ran_desktop.engine.model.bundle import load_bundle

    return load_bundle(tiny_bundle, device="cpu")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "user-data"
    monkeypatch.setenv("RAN_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def start_window(qtbot, tiny_bundle, data_dir, monkeypatch) -> Callable[..., object]:
    """The app as `ran-desktop` starts it (window first, model in the background) on a temporary data folder."""
    from ran_desktop.app import launch
    from ran_desktop.gui.settings import AppSettings

    monkeypatch.setenv("RAN_DEVICE", "cpu")

    def start(paths: Iterable[Path] = (), *, models: Path | None = None, ready: bool = True):
        AppSettings(data_dir).grader_name = "Dr Test"
        window = launch(list(paths), data_dir, models or tiny_bundle.parent)
        qtbot.addWidget(window)
        if ready:
            qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=TIMEOUT_MS)
        return window

    return start


def _unreadable_or_none() -> list[str] | None:
    try:
        return unreadable_prefix()
    except pytest.skip.Exception:
        return None  # the runs go on without the unreadable file; the tests that need it skip with the reason


@pytest.fixture(scope="session")
def app_run(tmp_path_factory, tiny_bundle, sample_path) -> Run:
    """The desktop app, run once in its own process (see recorded_runs.py); several tests check what it left."""
    return run_app(tmp_path_factory.mktemp("app-run"), tiny_bundle.parent, sample_path, _unreadable_or_none())


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory, tiny_bundle, sample_path) -> Run:
    """`ran-screen` (with PDF reports where the CLI has them), run once in its own process (see recorded_runs.py)."""
    return run_cli(tmp_path_factory.mktemp("cli-run"), tiny_bundle, sample_path, _unreadable_or_none(),
                   report=cli_has_reports())
