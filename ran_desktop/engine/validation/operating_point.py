"""A referable threshold this clinic adopted from its own reviewed images, kept beside the user's data.

The bundle is never modified. Adopting writes a small JSON file in the data folder, bound to the bundle's weights
(sha256) and sealed with the sha256 of its own content, and appends the act to a log beside it; going back to the
bundle's own threshold removes the file and is logged too. A file that was edited (its seal no longer matches) or
that names other weights is not used. Results screened with it carry it in their ModelInfo, so every result and
report says "threshold set locally on N reviewed images on DATE by NAME"; results made before keep theirs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from ran_desktop.engine.atomic import write_text_atomically
from ran_desktop.engine.records.data_folder import utc_now
from ran_desktop.engine.records.local_threshold import LocalOperatingPoint
from ran_desktop.engine.validation.calibration import ThresholdProposal

FILE_NAME = "local-operating-point.json"
LOG_NAME = "local-operating-point.log"
log = logging.getLogger("ran_desktop")


def adopt(data_dir: Path, proposal: ThresholdProposal, bundle: str, weights_sha256: str,
          adopted_by: str) -> LocalOperatingPoint:
    """Adopt `proposal` for the bundle with these weights, by a named person (ValueError without a name)."""
    if not adopted_by.strip():
        raise ValueError("Set your name (File > Settings) before adopting a threshold: the log records who did.")
    point = LocalOperatingPoint(
        threshold=proposal.threshold, target_sensitivity=proposal.target,
        sensitivity=(proposal.sensitivity.hits, proposal.sensitivity.n),
        specificity=(proposal.specificity.hits, proposal.specificity.n), images=proposal.images,
        adopted_at=utc_now(), adopted_by=adopted_by.strip(), weights_sha256=weights_sha256, bundle=bundle,
    )
    data = {**asdict(point), "sha256": point.content_sha256()}

    def write(fh: TextIO) -> None:
        fh.write(json.dumps(data, indent=2) + "\n")

    write_text_atomically(Path(data_dir) / FILE_NAME, write)
    _log(data_dir, {"action": "adopted", **asdict(point)})
    return point


def revert(data_dir: Path, by: str) -> None:
    """Back to the bundle's own threshold (ValueError without a name); logged."""
    if not by.strip():
        raise ValueError("Set your name (File > Settings) first: the log records who went back.")
    path = Path(data_dir) / FILE_NAME
    if path.exists():
        path.unlink()
        _log(data_dir, {"action": "reverted to the bundle's threshold", "by": by.strip(), "at": utc_now()})


def current(data_dir: Path, weights_sha256: str) -> LocalOperatingPoint | None:
    """The adopted threshold for these weights, if one was adopted and its file is intact; else None."""
    path = Path(data_dir) / FILE_NAME
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        seal = data.pop("sha256")
        data["sensitivity"], data["specificity"] = tuple(data["sensitivity"]), tuple(data["specificity"])
        point = LocalOperatingPoint(**data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("local operating point not used: %s cannot be read (%s)", path, type(exc).__name__)
        return None
    if point.content_sha256() != seal:
        log.warning("local operating point not used: %s was changed after it was adopted", path)
        return None
    if point.weights_sha256 != weights_sha256:
        return None  # adopted for other weights
    return point


def history(data_dir: Path) -> list[dict[str, Any]]:
    """Every adoption and every return to the bundle's threshold, oldest first."""
    path = Path(data_dir) / LOG_NAME
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _log(data_dir: Path, entry: dict[str, Any]) -> None:
    with open(Path(data_dir) / LOG_NAME, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
