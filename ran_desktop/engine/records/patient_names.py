"""Which photographs are one patient's, from their file names, where the files carry no patient ID.

A clinic's camera or export tool names a patient's two eyes alike: `123_left.jpg` and `123_right.jpg`,
`Patient001_L.png` and `Patient001_R.png`. A pattern is a regular expression matched against the file name without
its suffix; its group `patient` is the patient's part of the name. Photographs are grouped by that part only
within one folder (two clinics' `001_L` are not one person), and only where no DICOM or grader-given patient ID
or name says otherwise. A grader corrects a wrong grouping by entering the patient ID in the review form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

_SIDE = r"(?:left|right|OS|OD|LE|RE|L|R)"
DEFAULT_PATTERNS: tuple[str, ...] = (
    # 123_left, Patient001_R, 2024-05-01 Smith OD, 123-left-2: the patient, a separator, the eye, maybe more
    rf"(?i)^(?P<patient>.+?)[ _.-]+{_SIDE}(?:[ _.-].*)?$",
    # 123L, 123R: digits, then the eye
    rf"(?i)^(?P<patient>\d+){_SIDE}$",
)


class PatternError(ValueError):
    """A pattern that is not a regular expression, or has no `patient` group."""


@lru_cache(maxsize=32)
def compile_patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for text in patterns:
        try:
            pattern = re.compile(text)
        except re.error as exc:
            raise PatternError(f"{text!r} is not a regular expression: {exc}") from None
        if "patient" not in pattern.groupindex:
            raise PatternError(f"{text!r} has no (?P<patient>...) group naming the patient's part of the file name")
        compiled.append(pattern)
    return tuple(compiled)


def check_patterns(patterns: Iterable[str]) -> None:
    """Raise PatternError naming the first unusable pattern."""
    compile_patterns(tuple(patterns))


def patient_from_filename(path: Path, patterns: Sequence[str] = DEFAULT_PATTERNS) -> str | None:
    """The patient's part of the file name by the first pattern that matches, else None."""
    for pattern in compile_patterns(tuple(patterns)):
        match = pattern.match(path.stem)
        if match and match.group("patient").strip(" _.-"):
            return match.group("patient").strip(" _.-")
    return None
