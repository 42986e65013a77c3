"""A referable threshold a clinic adopted for one bundle's weights, as every result made with it carries it.

Adopting, reverting and reading the sealed file are `validation.operating_point`'s; this is only the record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LocalOperatingPoint:
    threshold: float
    target_sensitivity: float
    sensitivity: tuple[int, int]  # (referable eyes found, referable eyes) on the reviewed images
    specificity: tuple[int, int]
    images: int
    adopted_at: str  # ISO 8601, UTC
    adopted_by: str
    weights_sha256: str  # the bundle's weights it applies to
    bundle: str  # their name and version, for people

    def words(self) -> str:
        return (f"threshold set locally on {self.images} reviewed images on {self.adopted_at[:10]} by "
                f"{self.adopted_by}")

    def content_sha256(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
