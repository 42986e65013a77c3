"""A locally calibrated operating point, proposed from the images this clinic's graders reviewed.

The bundle's referable threshold was chosen on photographs from elsewhere. From the reviewed images (the grader's
grades as truth, the model's probability of referable disease as its score) this proposes the highest threshold that
reaches the sensitivity the clinic chooses, with that sensitivity's Wilson interval and the specificity it costs, and
the temperature that makes the model's probabilities honest (expected calibration error before and after). Proposing
changes nothing: adopting is a person's explicit, audited action (local_operating_point).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ran_desktop.engine.grading import REFERABLE_DME, REFERABLE_DR
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.engine.validation.agreement import Proportion

DEFAULT_TARGET = 0.90
_BINS = 10  # for the expected calibration error


@dataclass(frozen=True)
class ThresholdProposal:
    """The highest threshold whose sensitivity on the reviewed images reaches `target`, and what it gives there."""

    threshold: float
    target: float
    sensitivity: Proportion
    specificity: Proportion
    images: int

    def words(self) -> str:
        return (f"referable from {self.threshold * 100:.1f} %: sensitivity {self.sensitivity.words()}, specificity "
                f"{self.specificity.words()}, on {self.images} reviewed image(s)")


def labelled_scores(records: Iterable[ImageRecord]) -> list[tuple[float, bool]]:
    """(the model's probability of referable disease, the grader's referable call) for every image both graded."""
    out = []
    for r in records:
        d = r.decision
        p = r.result.referable_probability
        if r.status is not Status.SCREENED or d is None or d.ungradable or p is None:
            continue
        assert d.dr_grade is not None and d.dme_grade is not None
        out.append((p, d.dr_grade >= REFERABLE_DR or d.dme_grade >= REFERABLE_DME))
    return out


def propose_threshold(scores: Sequence[tuple[float, bool]], target: float = DEFAULT_TARGET) -> ThresholdProposal | None:
    """None without a referable and a non-referable image. Candidates are the referable images' own scores: the
    threshold is the highest of them that keeps at least `target` of the referable images at or above it."""
    if not 0 < target <= 1:
        raise ValueError(f"the target sensitivity must be in (0, 1], not {target}")
    positives = sorted((s for s, truth in scores if truth), reverse=True)
    negatives = [s for s, truth in scores if not truth]
    if not positives or not negatives:
        return None
    needed = math.ceil(target * len(positives) - 1e-9)
    threshold = positives[needed - 1]
    hits = sum(1 for s in positives if s >= threshold)
    correct_negatives = sum(1 for s in negatives if s < threshold)
    return ThresholdProposal(threshold, target, Proportion(hits, len(positives)),
                             Proportion(correct_negatives, len(negatives)), len(scores))


def expected_calibration_error(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = _BINS) -> float:
    """The mean gap between confidence and frequency over equal-width probability bins, weighted by their counts."""
    if len(probabilities) != len(outcomes) or not probabilities:
        raise ValueError("one outcome per probability, and at least one")
    totals = [[0, 0.0, 0] for _ in range(bins)]  # count, sum of probabilities, events
    for p, y in zip(probabilities, outcomes, strict=True):
        b = min(int(p * bins), bins - 1)
        totals[b][0] += 1
        totals[b][1] += p
        totals[b][2] += int(y)
    n = len(probabilities)
    return sum(count / n * abs(psum / count - events / count) for count, psum, events in totals if count)


@dataclass(frozen=True)
class ReliabilityBin:
    """One bar of a reliability diagram: the images whose probability fell in [low, high)."""

    low: float
    high: float
    count: int
    mean_probability: float  # what the model said, on average
    observed: float  # how often the graders called them referable


def reliability(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = _BINS) -> list[ReliabilityBin]:
    """The non-empty equal-width bins of a reliability diagram (the same bins as the calibration error)."""
    if len(probabilities) != len(outcomes):
        raise ValueError("one outcome per probability")
    p = np.asarray(probabilities, np.float64)
    y = np.asarray(outcomes, bool)
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            out.append(ReliabilityBin(b / bins, (b + 1) / bins, int(inside.sum()), float(p[inside].mean()),
                                      float(y[inside].mean())))
    return out


@dataclass(frozen=True)
class Calibration:
    """How honest the model's referable probabilities are on the reviewed images, before and after temperature."""

    temperature: float
    error_before: float
    error_after: float
    before: list[ReliabilityBin]
    after: list[ReliabilityBin]

    @property
    def helps(self) -> bool:
        return self.error_after < self.error_before


def calibrate(scores: Sequence[tuple[float, bool]]) -> Calibration | None:
    """The temperature fit and both reliability diagrams; None without reviewed images."""
    if not scores:
        return None
    temperature, before, after = fit_temperature(scores)
    probabilities = np.array([s for s, _ in scores], np.float64)
    outcomes = [y for _, y in scores]
    return Calibration(temperature, before, after, reliability(probabilities.tolist(), outcomes),
                       reliability(_scaled(probabilities, temperature).tolist(), outcomes))


def _scaled(p: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities with their log-odds divided by `temperature` (for a binary score, temperature scaling)."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return 1.0 / (1.0 + np.exp(-np.log(p / (1 - p)) / temperature))


def fit_temperature(scores: Sequence[tuple[float, bool]]) -> tuple[float, float, float]:
    """(temperature, calibration error before, after): the temperature that minimises the negative log-likelihood of
    the graders' referable calls, searched on a log grid from 0.25 to 8 (a one-parameter fit needs nothing more)."""
    if not scores:
        raise ValueError("no reviewed images to calibrate on")
    probabilities = np.array([s for s, _ in scores], np.float64)
    outcomes = np.array([y for _, y in scores], bool)

    def nll(t: float) -> float:
        q = np.clip(_scaled(probabilities, t), 1e-12, 1 - 1e-12)
        return float(-np.log(np.where(outcomes, q, 1 - q)).sum())

    grid = [2 ** (k / 16) for k in range(-32, 49)]
    temperature = min(grid, key=nll)
    before = expected_calibration_error(probabilities.tolist(), outcomes.tolist())
    after = expected_calibration_error(_scaled(probabilities, temperature).tolist(), outcomes.tolist())
    return temperature, before, after


def proposal_text(records: list[ImageRecord], target: float) -> str:
    """The operating point these reviewed images would give (a proposal: nothing is changed)."""
    scores = labelled_scores(records)
    proposal = propose_threshold(scores, target)
    if proposal is None:
        return "Local operating point: none proposed yet (needs reviewed referable and non-referable images)."
    temperature, before, after = fit_temperature(scores)
    if after < before:
        calibration = (f"temperature {temperature:.2f} would make the probabilities more honest here: calibration "
                       f"error {before:.3f} -> {after:.3f}")
    else:  # the likelihood's best temperature does not lower the binned error: nothing to propose
        calibration = f"calibration error {before:.3f}: no temperature makes the probabilities more honest here"
    return (f"Local operating point for sensitivity >= {target:.2f} (a proposal; nothing is changed):\n"
            f"  {proposal.words()}\n  {calibration}")
