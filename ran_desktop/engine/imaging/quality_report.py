"""The quality gate's verdict as data: stored, shown and reported without loading the gate's OpenCV code."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class QualityReport:
    """The gate's verdict: gradable, and if not, every reason in plain words, plus the measurements."""

    gradable: bool
    reasons: tuple[str, ...]
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"gradable": self.gradable, "reasons": list(self.reasons), "scores": dict(self.scores)}
