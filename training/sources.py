"""`--data KIND:ROOT` arguments: loading every named data set and saying what trained a model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from training.datasets import KINDS, Record, detect_dataset, load_dataset

log = logging.getLogger(__name__)
SYNTHETIC_MARKER = "synthetic.json"  # the generator's parameters, beside its labels.csv
REAL_MARKER = "real.json"  # ran-real's provenance of real photographs: source, licence, required credit


def parse_spec(spec: str) -> tuple[str, Path]:
    """"csv:/data/synth" -> ("csv", Path); a bare path is detected from its layout."""
    kind, sep, root = spec.partition(":")
    if sep and kind in KINDS:
        return kind, Path(root)
    detected = detect_dataset(Path(spec))
    if detected is None:
        raise ValueError(f"{spec}: not a data set layout this tool knows; write KIND:PATH with KIND one of "
                         f"{', '.join(KINDS)}")
    return detected, Path(spec)


def load_sources(specs: list[str]) -> tuple[list[Record], list[dict]]:
    """All records of all specs, and a description of each source for the manifest."""
    records: list[Record] = []
    described: list[dict] = []
    for spec in specs:
        kind, root = parse_spec(spec)
        loaded = load_dataset(kind, root)
        for warning in loaded.warnings:
            log.warning("%s: %s", root, warning)
        if not loaded:
            raise ValueError(f"{spec}: no usable images found")
        records.extend(loaded)
        described.append({"kind": kind, "root": str(root), "images": len(loaded), **_marker(root)})
    return records, described


def is_synthetic(sources: list[dict]) -> bool:
    """Whether any of the training data was generated: such weights are never validated for clinical use."""
    return any(s.get("synthetic", False) for s in sources)


def has_real(sources: list[dict]) -> bool:
    return any(not s.get("synthetic", False) for s in sources)


def credits(sources: list[dict]) -> list[str]:
    """The attributions the sources' licences require, once each."""
    out: list[str] = []
    for s in sources:
        if s.get("credit") and s["credit"] not in out:
            out.append(s["credit"])
    return out


def describe(sources: list[dict]) -> str:
    parts = []
    for s in sources:
        if s.get("synthetic"):
            parts.append(f"{s['images']} synthetic fundus images ({s.get('generator', 'procedural generator')})")
        elif s.get("dataset"):
            parts.append(f"{s['images']} images made from {s['dataset']} ({s.get('licence', 'licence unknown')})")
        else:
            parts.append(f"{s['images']} images from {s['kind']} ({Path(s['root']).name})")
    return "; ".join(parts)


def provenance(source: dict) -> dict:
    """A source as recorded by a run, completed with what its folder's marker files say today (a run recorded
    before real.json existed still credits its real photographs)."""
    return {**source, **_marker(Path(source["root"]))}


def _marker(root: Path) -> dict:
    folder = root if root.is_dir() else root.parent
    real = folder / REAL_MARKER
    if real.is_file():
        try:
            data = json.loads(real.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {key: data[key] for key in ("dataset", "licence", "credit") if key in data}
    marker = folder / SYNTHETIC_MARKER
    if not marker.is_file():
        return {}
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    generator = f"{data.get('generator', 'procedural generator')} v{data.get('version', '?')}"
    return {"synthetic": True, "generator": generator, "seed": data.get("seed"),
            "camera_family": data.get("camera_family")}
