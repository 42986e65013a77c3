"""Where the app's shipped files live: in a source checkout, an installed package or a frozen (PyInstaller) build."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def install_root() -> Path:
    """The folder that holds `models/` and `resources/`."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


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
