"""Grad-CAM overlays written as PNG files (`ran-screen --heatmaps`, on one machine or by a cluster's workers)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2

from ran_desktop.engine.atomic import write_bytes_atomically
from ran_desktop.engine.imaging.heatmap import HEAT_OPACITY, overlay_heatmap, upsample_heatmap
from ran_desktop.engine.records.results import ScreeningResult


def write_overlay(result: ScreeningResult, folder: Path) -> Path | None:
    """The result's heat map over the crop the model saw; None for an image without one (ungradable, unreadable).
    WriteError when the file cannot be written."""
    view, heat = result.view, result.heatmap
    if view is None or heat is None:
        return None
    heat = upsample_heatmap(heat, (view.shape[1], view.shape[0]))
    overlay = overlay_heatmap(view, heat, opacity=HEAT_OPACITY)
    # Same-named files from different folders must not overwrite each other's overlays.
    tag = hashlib.sha1(result.key.encode("utf-8")).hexdigest()[:8]
    meta = result.metadata
    frame = "" if meta is None or meta.frame_index is None else f"_frame{meta.frame_index + 1}"
    # The stem is cut so the name stays well inside 255 bytes however long the photograph's name; the tag keeps it
    # unique.
    stem = result.path.stem.encode("utf-8")[:120].decode("utf-8", "ignore")
    target = folder / f"{stem}{frame}_{tag}_gradcam.png"
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    if ok:
        # imencode + write: cv2.imwrite cannot write non-ASCII paths on Windows
        write_bytes_atomically(target, encoded.tobytes())
    return target
