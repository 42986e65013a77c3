"""How well the model agrees with this clinic's own graders, from the images they reviewed: local validation.

Every reviewed image is a labelled example from this clinic's cameras and patients: the grader's grades are the
reference, the model's are what it said before the grader decided. From them: referable sensitivity and specificity
with Wilson 95 % intervals, the five-grade confusion matrix and quadratic kappa, DME agreement, the ungradable rate,
split by model version and by month (drift), and the overrides where a confident model was wrong. Pure Python: the
app ships without numpy-heavy statistics libraries for this, and the figures are small sums.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES, REFERABLE_DME, REFERABLE_DR
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import ImageRecord

# Below this many referable eyes (by the graders) a sensitivity says little: its 95 % interval spans 20 points or more.
MIN_REFERABLE = 50
# A model this sure of its referable call, overruled by the grader, is listed for a second look.
CONFIDENT = 0.9
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Proportion:
    """`hits` of `n`, with its Wilson 95 % score interval (None when n is 0)."""

    hits: int
    n: int

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.hits, self.n)

    def words(self) -> str:
        if not self.n:
            return "no images"
        low, high = self.interval or (0.0, 0.0)
        return f"{self.value:.2f} (95 % CI {low:.2f}-{high:.2f}; {self.hits} of {self.n})"


def wilson_interval(hits: int, n: int, z: float = _Z95) -> tuple[float, float] | None:
    """Wilson's score interval for a proportion: unlike the normal approximation it stays inside [0, 1] and is honest
    at 0 or n hits, which small clinic samples often are."""
    if n <= 0:
        return None
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def quadratic_kappa(confusion: Sequence[Sequence[int]]) -> float | None:
    """Cohen's kappa with quadratic weights, from a square confusion matrix (rows: reference, columns: model)."""
    k = len(confusion)
    total = sum(sum(row) for row in confusion)
    if total == 0 or k < 2:
        return None
    rows = [sum(confusion[i]) for i in range(k)]
    cols = [sum(confusion[i][j] for i in range(k)) for j in range(k)]
    observed = expected = 0.0
    for i in range(k):
        for j in range(k):
            weight = (i - j) ** 2 / (k - 1) ** 2
            observed += weight * confusion[i][j] / total
            expected += weight * rows[i] * cols[j] / (total * total)
    if expected == 0:
        return 1.0 if observed == 0 else None
    return 1.0 - observed / expected


@dataclass(frozen=True)
class Override:
    """A reviewed image where the grader's referable call differs from a confident model's."""

    image_id: int
    file: str
    model_referable: bool
    model_probability: float
    grader_dr: int
    grader_dme: int
    grader: str


@dataclass(frozen=True)
class Agreement:
    """The model against the graders on one set of reviewed images."""

    reviewed: int  # readable images with a grader's decision
    both_graded: int  # of those, graded by the model and by the grader (the figures below)
    sensitivity: Proportion  # of the graders' referable eyes, how many the model called referable
    specificity: Proportion  # of the graders' non-referable eyes, how many the model called non-referable
    dr_confusion: tuple[tuple[int, ...], ...]  # rows: grader's DR grade, columns: model's
    dme_confusion: tuple[tuple[int, ...], ...]
    kappa: float | None  # quadratic, five DR grades
    dme_agreement: Proportion
    ungradable_by_grader: Proportion  # of the reviewed images, how many the grader called ungradable
    ungradable_by_gate: Proportion  # of the reviewed images, how many the quality gate rejected
    overrides: tuple[Override, ...] = field(default=())

    @property
    def warning(self) -> str:
        """'' when there are enough referable eyes to conclude; else what is missing, in words."""
        n = self.sensitivity.n
        if n >= MIN_REFERABLE:
            return ""
        return (f"Only {n} referable eye(s) reviewed: at least {MIN_REFERABLE} are needed before the sensitivity "
                "says much (its 95 % interval is still wide). Keep reviewing before drawing conclusions.")


@dataclass(frozen=True)
class LocalValidation:
    """Agreement over every reviewed image, and split by the model that graded it and by the month decided."""

    overall: Agreement
    by_model: dict[str, Agreement]
    by_month: dict[str, Agreement]


@dataclass(frozen=True)
class _Row:
    """What the figures need of one reviewed image, read from its record once."""

    record: ImageRecord
    grader: tuple[int, int] | None  # None: the grader called it ungradable
    model: tuple[int, int] | None  # None: the model did not grade it (the gate rejected it)
    probability: float | None  # the model's probability of referable disease
    gate_ungradable: bool


def _referable(grades: tuple[int, int]) -> bool:
    return grades[0] >= REFERABLE_DR or grades[1] >= REFERABLE_DME


def _rows(records: Iterable[ImageRecord]) -> list[_Row]:
    rows = []
    for r in records:
        d = r.decision
        if r.status is Status.ERROR or d is None:
            continue
        model = r.model_grades
        rows.append(_Row(
            record=r,
            grader=None if d.dr_grade is None or d.dme_grade is None else (d.dr_grade, d.dme_grade),
            model=None if model[0] is None or model[1] is None else (model[0], model[1]),
            probability=r.result.referable_probability,
            gate_ungradable=r.status is Status.UNGRADABLE,
        ))
    return rows


def agreement(records: Iterable[ImageRecord], confident: float = CONFIDENT) -> Agreement:
    return _aggregate(_rows(records), confident)


def _aggregate(rows: Sequence[_Row], confident: float) -> Agreement:
    dr = [[0] * len(DR_GRADE_NAMES) for _ in DR_GRADE_NAMES]
    dme = [[0] * len(DME_GRADE_NAMES) for _ in DME_GRADE_NAMES]
    tp = fn = tn = fp = 0
    overrides: list[Override] = []
    both = 0
    for row in rows:
        if row.grader is None or row.model is None:
            continue
        both += 1
        dr[row.grader[0]][row.model[0]] += 1
        dme[row.grader[1]][row.model[1]] += 1
        truth, called = _referable(row.grader), _referable(row.model)
        if truth:
            tp, fn = tp + called, fn + (not called)
        else:
            tn, fp = tn + (not called), fp + called
        p = row.probability
        if p is not None and truth != called and max(p, 1 - p) >= confident:
            r = row.record
            overrides.append(Override(r.image_id, r.result.path.name, called, p, row.grader[0], row.grader[1],
                                      r.decision.grader if r.decision else ""))
    return Agreement(
        reviewed=len(rows),
        both_graded=both,
        sensitivity=Proportion(tp, tp + fn),
        specificity=Proportion(tn, tn + fp),
        dr_confusion=tuple(tuple(line) for line in dr),
        dme_confusion=tuple(tuple(line) for line in dme),
        kappa=quadratic_kappa(dr),
        dme_agreement=Proportion(sum(dme[i][i] for i in range(len(dme))), both),
        ungradable_by_grader=Proportion(sum(1 for row in rows if row.grader is None), len(rows)),
        ungradable_by_gate=Proportion(sum(1 for row in rows if row.gate_ungradable), len(rows)),
        overrides=tuple(sorted(overrides, key=lambda o: -max(o.model_probability, 1 - o.model_probability))),
    )


def local_validation(records: Iterable[ImageRecord], confident: float = CONFIDENT) -> LocalValidation:
    """Each record is read once; the groups are sums over those rows."""
    rows = _rows(records)
    by_model: dict[str, list[_Row]] = defaultdict(list)
    by_month: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        info, decision = row.record.result.model, row.record.decision
        by_model[f"{info.name} {info.version}"].append(row)
        by_month[(decision.decided_at[:7] if decision else "") or "undated"].append(row)
    return LocalValidation(
        overall=_aggregate(rows, confident),
        by_model={k: _aggregate(v, confident) for k, v in sorted(by_model.items())},
        by_month={k: _aggregate(v, confident) for k, v in sorted(by_month.items())},
    )


# The figures as a table, a row per group (CSV from the CLI and the performance view).
CSV_COLUMNS = [
    "group", "reviewed", "both_graded", "sensitivity", "sensitivity_low", "sensitivity_high", "referable_eyes",
    "specificity", "specificity_low", "specificity_high", "non_referable_eyes", "quadratic_kappa", "dme_agreement",
    "ungradable_by_grader", "ungradable_by_gate", "warning",
]


def _row(group: str, a: Agreement) -> dict[str, object]:
    sens_ci, spec_ci = a.sensitivity.interval, a.specificity.interval
    return {
        "group": group, "reviewed": a.reviewed, "both_graded": a.both_graded,
        "sensitivity": a.sensitivity.value, "sensitivity_low": sens_ci[0] if sens_ci else None,
        "sensitivity_high": sens_ci[1] if sens_ci else None, "referable_eyes": a.sensitivity.n,
        "specificity": a.specificity.value, "specificity_low": spec_ci[0] if spec_ci else None,
        "specificity_high": spec_ci[1] if spec_ci else None, "non_referable_eyes": a.specificity.n,
        "quadratic_kappa": a.kappa, "dme_agreement": a.dme_agreement.value,
        "ungradable_by_grader": a.ungradable_by_grader.value, "ungradable_by_gate": a.ungradable_by_gate.value,
        "warning": a.warning,
    }


def rows(validation: LocalValidation) -> list[dict[str, object]]:
    out = [_row("all reviewed images", validation.overall)]
    out += [_row(f"model {name}", a) for name, a in validation.by_model.items()]
    out += [_row(f"month {month}", a) for month, a in validation.by_month.items()]
    return out
