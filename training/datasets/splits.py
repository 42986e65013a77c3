"""Train / validation / test splits that are stratified by grade, never split a patient, and can be saved and reloaded.

Why not scikit-learn's StratifiedGroupKFold: it cuts equal folds, so 60/15/25 needs 20 folds glued back together,
it warns (and balances poorly) when a grade has fewer patients than folds, and its `shuffle` only reorders ties.
The greedy assignment below hits any fractions directly, puts at least one patient of a grade into every split as
soon as the grade has three patients, and depends only on the seed and each patient's id, not on record order.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath

from training.datasets.records import Record

SPLIT_NAMES = ("train", "val", "test")
FORMAT = "ran-split/1"
STRATIFY = ("dr", "dme", None)

_Group = tuple[str, str]  # (source, patient): the same id in two datasets is two people


class Splits(dict[str, list[Record]]):
    """{"train": [...], "val": [...], "test": [...]} plus `settings`, what made it (seed, fractions, ...)."""

    def __init__(self, parts: dict[str, list[Record]], settings: dict[str, object]) -> None:
        super().__init__(parts)
        self.settings = settings


def split_records(
    records: Iterable[Record],
    *,
    fractions: Sequence[float] = (0.60, 0.15, 0.25),
    seed: int = 0,
    stratify: str | None = "dr",
    use_predefined: bool = False,
) -> Splits:
    """Split `records` into train / val / test by patient (all of a patient's images land in one split).

    Patients are grouped by (source, patient) and stratified by source and worst grade of `stratify` ("dr", "dme"
    or None); within each stratum patients are taken in a seeded order, each split gets one first, then each goes
    to the split furthest below its share. `fractions` count images.

    With `use_predefined`, records whose `split_hint` is "test" (IDRiD's test set, EyePACS's test labels) all go
    to test, those hinted "train" are split into train and val only (in the train:val ratio), and records without
    a hint are split as usual.
    """
    shares = _check(fractions, stratify)
    records = list(records)
    _check_unique(records)
    groups: dict[_Group, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault((record.source, record.patient), []).append(i)

    chosen: dict[_Group, str] = {}
    pools: dict[tuple[str | None, str, int], list[_Group]] = {}
    for key, members in groups.items():
        hint = _hint(key, [records[i] for i in members]) if use_predefined else None
        if hint == "test":
            chosen[key] = "test"
            continue
        pools.setdefault((hint, key[0], _worst(records, members, stratify)), []).append(key)
    for (hint, _, _), keys in pools.items():
        pool_shares = (shares[0], shares[1], 0.0) if hint == "train" else shares
        _assign(keys, groups, pool_shares, seed, chosen)

    parts: dict[str, list[Record]] = {name: [] for name in SPLIT_NAMES}
    for record in records:
        parts[chosen[(record.source, record.patient)]].append(record)
    settings = {"seed": seed, "fractions": list(shares), "stratify": stratify, "use_predefined": use_predefined}
    return Splits(parts, settings)


def _check(fractions: Sequence[float], stratify: str | None) -> tuple[float, float, float]:
    if stratify not in STRATIFY:
        raise ValueError(f"stratify must be 'dr', 'dme' or None, got {stratify!r}")
    values = [float(f) for f in fractions]
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1.0) > 1e-6 or values[0] == 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, train > 0; got {fractions}")
    return values[0], values[1], values[2]


def _check_unique(records: list[Record]) -> None:
    # A saved split lists image paths, so one image twice would make it ambiguous.
    seen: set[Path] = set()
    for record in records:
        if record.image in seen:
            raise ValueError(f"{record.image} appears twice in the records")
        seen.add(record.image)


def _hint(key: _Group, members: list[Record]) -> str | None:
    hints = {record.split_hint for record in members}
    if len(hints) > 1:
        raise ValueError(f"patient {key[1]!r} of {key[0]} has images in more than one predefined split: {hints}")
    return hints.pop()


def _worst(records: list[Record], members: list[int], stratify: str | None) -> int:
    """The patient's worst grade (the worse eye decides), -1 when ungraded or not stratifying."""
    if stratify is None:
        return -1
    grades = [getattr(records[i], stratify) for i in members]
    return max((g for g in grades if g is not None), default=-1)


def _order(key: _Group, seed: int) -> str:
    # A hash instead of random.shuffle: the same on every platform and Python version, and independent of input order.
    return hashlib.sha256(f"{seed}\0{key[0]}\0{key[1]}".encode()).hexdigest()


def _assign(keys: list[_Group], groups: dict[_Group, list[int]], shares: Sequence[float], seed: int,
            chosen: dict[_Group, str]) -> None:
    counts = [0, 0, 0]
    open_splits = [i for i in range(3) if shares[i] > 0]
    for key in sorted(keys, key=lambda k: _order(k, seed)):
        # Every split first gets one patient of the stratum (so rare grades reach val and test), then the split
        # whose share is least exceeded once this patient is half counted (Sainte-Lague: no bias to big or small).
        size = len(groups[key])
        best = min(open_splits, key=lambda i: (counts[i] > 0, (counts[i] + size / 2) / shares[i], -shares[i], i))
        counts[best] += size
        chosen[key] = SPLIT_NAMES[best]


def save_split(splits: dict[str, list[Record]], path: Path | str, *, root: Path | str | None = None) -> None:
    """Write the split as JSON: image paths relative to `root` (default: the images' common folder) per split,
    with the settings that made it, so a run can be reproduced or resumed on a copy of the data elsewhere."""
    everything = [record for name in SPLIT_NAMES for record in splits.get(name, [])]
    if not everything:
        raise ValueError("the split is empty")
    base = Path(root).absolute() if root is not None else Path(os.path.commonpath([r.image.parent for r in everything]))
    listed: dict[str, list[str]] = {}
    for name in SPLIT_NAMES:
        try:
            listed[name] = [record.image.relative_to(base).as_posix() for record in splits.get(name, [])]
        except ValueError:
            raise ValueError(f"an image of the {name} split is not under {base}") from None
    document = {"format": FORMAT, "settings": getattr(splits, "settings", {}), "root": str(base), "splits": listed}
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)  # a crash mid-write never leaves half a split behind


def load_split(path: Path | str, records: Iterable[Record], *, root: Path | str | None = None) -> Splits:
    """The saved split, rebuilt from `records`.

    Listed paths are matched to records relative to `root` when given, else by their trailing path components, so
    the dataset may have moved. Records the file does not list are left out; a listed image with no record (or
    more than one) is a ValueError, since the split could not be reproduced.
    """
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} split file")
    records = list(records)
    listed: dict[str, list[str]] = document["splits"]
    find = _by_relative(records, Path(root).absolute()) if root is not None else _by_suffix(records, listed)
    parts: dict[str, list[Record]] = {}
    missing: list[str] = []
    for name in SPLIT_NAMES:
        parts[name] = []
        for relative in listed.get(name, []):
            record = find(relative)
            if record is None:
                missing.append(relative)
            else:
                parts[name].append(record)
    if missing:
        raise ValueError(f"{path}: {len(missing)} listed images have no record, e.g. {missing[:3]}")
    return Splits(parts, dict(document.get("settings", {})))


def _by_relative(records: list[Record], root: Path) -> Callable[[str], Record | None]:
    index: dict[str, Record] = {}
    for record in records:
        if record.image.is_relative_to(root):
            index[record.image.relative_to(root).as_posix()] = record
    return index.get


def _by_suffix(records: list[Record], listed: dict[str, list[str]]) -> Callable[[str], Record | None]:
    lengths = {len(PurePosixPath(p).parts) for paths in listed.values() for p in paths}
    index: dict[tuple[str, ...], Record | None] = {}
    for record in records:
        for length in lengths:
            tail = record.image.parts[-length:]
            index[tail] = None if tail in index else record  # None marks two records ending alike

    def find(relative: str) -> Record | None:
        tail = PurePosixPath(relative).parts
        if tail in index and index[tail] is None:
            raise ValueError(f"{relative} matches several records; pass root= to tell them apart")
        return index.get(tail)

    return find
