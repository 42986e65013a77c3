"""`--data KIND:ROOT` arguments: loading every named data set and saying what trained a model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .datasets import KINDS, Record, detect_dataset, load_dataset

log = logging.getLogger(__name__)
SYNTHETIC_MARKER = "synthetic.json"  # the generator's parameters, beside its labels.csv


def parse_spec(spec: str) -> tuple[str, Path]:
    """"csv:/data/synth" -> ("csv", Path); a bare path is detected from its layout."""
    kind, sep, root = spec.partition(":")
    if sep and kind in KINDS:
        return kind, Path(root)
    detected = detect_dataset(Path(spec))
    if detected is None:
        raise ValueError(f"{spec}: not a data set layout this tool knows; write KIND:PATH with KIND one of {', '.join(KINDS)}")
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
    return all(s.get("synthetic", False) for s in sources)


def describe(sources: list[dict]) -> str:
    parts = []
    for s in sources:
        if s.get("synthetic"):
            parts.append(f"{s['images']} synthetic fundus images ({s.get('generator', 'procedural generator')})")
        else:
            parts.append(f"{s['images']} images from {s['kind']} ({Path(s['root']).name})")
    return "; ".join(parts)


def _marker(root: Path) -> dict:
    folder = root if root.is_dir() else root.parent
    marker = folder / SYNTHETIC_MARKER
    if not marker.is_file():
        return {}
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    generator = f"{data.get('generator', 'procedural generator')} v{data.get('version', '?')}"
    return {"synthetic": True, "generator": generator, "seed": data.get("seed"), "camera_family": data.get("camera_family")}
