"""Where a model bundle came from, and whether that place can be trusted.

A bundle is chosen by folder (`RAN_MODELS_DIR` may point anywhere), so a bundle with a familiar name and version in
a folder others can write could grade with weights nobody vetted. The app therefore names the folder and the
weights' hash wherever a grade appears, warns when the models folder or the bundle can be written by any user, and
refuses two bundles that share a name and version but not their weights: which one graded would be a guess.

Imports neither Qt nor torch.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.manifest import MANIFEST_NAME, WEIGHTS_NAME


def writable_by_anyone(paths: Iterable[Path]) -> list[Path]:
    """Those of `paths` that every user of this computer may change (POSIX 'other' write permission); none on
    Windows, whose permissions are not modes."""
    if os.name != "posix":
        return []
    found = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        # A sticky shared folder (/tmp) still lets anyone add a bundle beside the others.
        if mode & stat.S_IWOTH:
            found.append(path)
    return found


def trust_warning(bundle: Path) -> str:
    """'' when only its owners can change the bundle; else what is wrong, in words."""
    bundle = Path(bundle)
    open_paths = writable_by_anyone([bundle.parent, bundle, bundle / MANIFEST_NAME, bundle / WEIGHTS_NAME])
    if not open_paths:
        return ""
    names = ", ".join(str(p) for p in open_paths)
    return (f"The model in {bundle} can be changed by any user of this computer ({names} is writable by everyone): "
            "its grades cannot be trusted. Ask whoever supports this installation to make the models folder "
            "writable by administrators only.")


def _identity(bundle: Path) -> tuple[str, str, str] | None:
    try:
        data = json.loads((bundle / MANIFEST_NAME).read_text(encoding="utf-8"))
        return str(data["name"]), str(data["version"]), str(data["weights"]["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not readable as a bundle: load_bundle says why if it is the one chosen


def check_unambiguous(chosen: Path, others: Iterable[Path]) -> None:
    """BundleError when another bundle has `chosen`'s name and version but other weights."""
    mine = _identity(Path(chosen))
    if mine is None:
        return
    for other in others:
        other = Path(other)
        if other.resolve() == Path(chosen).resolve():
            continue
        theirs = _identity(other)
        if theirs is not None and theirs[:2] == mine[:2] and theirs[2] != mine[2]:
            raise BundleError(chosen, f"another bundle, {other}, is also called {mine[0]} {mine[1]} but holds "
                              "different weights: which one grades cannot be left to chance. Remove or rename the "
                              "one that is not vetted")
