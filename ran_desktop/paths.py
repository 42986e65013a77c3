"""Where the app's shipped files live: in a source checkout, an installed package or a frozen (PyInstaller) build."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SHARED_FOLDER = Path("share") / "ran-screening"  # where an installed wheel puts them, under its prefix


def install_root() -> Path:
    """The folder that holds `models/` and `resources/`: a frozen build's, a source checkout's (beside the package),
    or an installed wheel's (<prefix>/share/ran-screening, found from where the package was installed)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    package = Path(__file__).resolve().parent
    if (package.parent / "resources").is_dir():
        return package.parent
    for ancestor in package.parents:  # <prefix>/lib/pythonX.Y/site-packages on POSIX, <prefix>/Lib/site-packages
        if (ancestor / SHARED_FOLDER / "resources").is_dir():
            return ancestor / SHARED_FOLDER
    return package.parent


def models_dir() -> Path:
    """Bundled model folder; RAN_MODELS_DIR points elsewhere (a clinic's IT may keep models on a share)."""
    override = os.environ.get("RAN_MODELS_DIR")
    return Path(override) if override else installed_models_dir()


def installed_models_dir() -> Path:
    """The models the installation shipped with: a bundle elsewhere with one's name and version must match it."""
    return install_root() / "models"


def resources_dir() -> Path:
    return install_root() / "resources"


def sample_images() -> list[Path]:
    """The bundled sample photographs a newcomer can try."""
    folder = resources_dir() / "samples"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".tif", ".dcm"})
