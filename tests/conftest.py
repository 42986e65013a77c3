import os
import shutil
from pathlib import Path

import database_targets
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Before torch is imported: spinning OpenMP threads make a first inference on 2 cores 10x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "resources" / "samples" / "normal_fundus_OS.jpg"


@pytest.fixture(scope="session")
def sample_path() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    """A small seeded RAN-18 (base width 8, 64 px input): the real network at a size tests can afford."""
    from ran_desktop.engine.model.untrained import create_untrained_bundle

    folder = tmp_path_factory.mktemp("models") / "tiny-ran18"
    create_untrained_bundle(folder, variant="ran18", seed=7, input_size=64, base_width=8, dtype="float32")
    return folder


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    """A private copy of the tiny bundle that a test may damage."""
    return Path(shutil.copytree(tiny_bundle, tmp_path / tiny_bundle.name))


@pytest.fixture(scope="session")
def hesitant_bundle(tiny_bundle, tmp_path_factory) -> Path:
    """The tiny seeded network, trained=True, with every grade given some probability (bundle_factory.hesitant)."""
    from bundle_factory import hesitant

    return hesitant(tiny_bundle, tmp_path_factory.mktemp("hesitant") / "hesitant")


@pytest.fixture(params=database_targets.BACKENDS)
def target(request, tmp_path):
    """A fresh session database on each backend: an SQLite file's path, or a PostgreSQL database's URL."""
    if request.param == "sqlite":
        yield tmp_path / "data" / "ran-screening.sqlite3"
    else:
        with database_targets.fresh_postgres() as url:
            yield url
