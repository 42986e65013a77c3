"""The model bundles on this workstation: the installation's, and the local ones fine-tuned here (under the data
folder's `models/`); which one the app uses.

The installation's first trained bundle is the default. Another is used only where a person chose it (the app keeps
that choice); a local bundle marked worse than its parent on the held-out reviewed images is listed with that flag
and never becomes the default. Reading a catalogue opens each manifest only (no weights are read).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.bundle import choose_bundle, find_bundles, read_manifest
from ran_desktop.engine.model.manifest import Manifest

UNFINISHED = ".partial"  # a local bundle still being written by a fine-tune (or left by one that was stopped)

LOCAL_MODELS = "models"  # under the data folder


@dataclass(frozen=True)
class BundleEntry:
    folder: Path
    manifest: Manifest
    local: bool  # fine-tuned on this workstation

    @property
    def comparison(self) -> dict[str, Any]:
        """What the fine-tune measured against the parent (metrics["local"]); {} for other bundles."""
        value = self.manifest.metrics.get("local")
        return value if isinstance(value, dict) else {}

    @property
    def worse_than_parent(self) -> bool:
        return bool(self.comparison.get("worse_than_parent", False))

    @property
    def parent(self) -> str:
        parent = self.comparison.get("parent") or {}
        return str(parent.get("title") or " ".join(filter(None, (parent.get("name"), parent.get("version")))))

    def held_out(self, who: str) -> dict[str, Any]:
        """The held-out reviewed images' referable figures of `who` ("parent" or "local")."""
        return dict((self.comparison.get("held_out", {}).get(who) or {}).get("referable") or {})


def local_models_dir(data_dir: Path) -> Path:
    return Path(data_dir) / LOCAL_MODELS


def list_bundles(installed: Path, data_dir: Path) -> list[BundleEntry]:
    """Every readable bundle: the installation's first (trained before untrained), then the local ones, newest first.
    A folder whose manifest cannot be read is left out (loading it would say why)."""
    out = []
    for folder, local in [*((f, False) for f in find_bundles(installed)),
                          *((f, True) for f in reversed(find_bundles(local_models_dir(data_dir)))
                            if not f.name.endswith(UNFINISHED))]:  # a fine-tune still writing it, or stopped
        try:
            out.append(BundleEntry(folder, read_manifest(folder), local))
        except BundleError:
            continue
    return out


def bundle_to_use(installed: Path, chosen: str = "", also_known: Iterable[Path] = ()) -> Path | None:
    """The folder a person chose, where it still holds a bundle; else the installation's default (`choose_bundle`,
    with its check that no other bundle in `also_known` folders passes for it)."""
    if chosen:
        folder = Path(chosen)
        try:
            read_manifest(folder)
        except BundleError:
            pass  # moved or deleted since: back to the default, and the app says which it loaded
        else:
            return folder
    return choose_bundle(installed, also_known=also_known)
