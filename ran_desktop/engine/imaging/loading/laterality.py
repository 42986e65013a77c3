"""Which eye a photograph shows, guessed from its file name."""

from __future__ import annotations

import re
from pathlib import PurePath

from ran_desktop.engine.imaging.loading.types import Eye

# Whole tokens only: "R" in "123_R.jpg" counts, the "r" in "retina.jpg" does not.
_RIGHT = frozenset({"od", "re", "right", "r"})
_LEFT = frozenset({"os", "le", "left", "l"})
_BOTH = frozenset({"ou"})  # both eyes on one image: no single laterality

# \W is Unicode-aware, so letters such as "å" stay inside their word instead of splitting it into fake tokens.
_SEPARATORS = re.compile(r"[\W_]+")


def laterality_from_filename(name: str) -> Eye:
    """Eye named by the file name's tokens (OD/OS, RE/LE, right/left, R/L); UNKNOWN if none or contradictory.

    Only the last path component is looked at. Tokens are split on anything that is not a letter or digit,
    compared case-insensitively; OU (both eyes) or a mix of left and right tokens gives UNKNOWN.
    """
    base = PurePath(name.replace("\\", "/")).name
    found: set[Eye] = set()
    for token in _SEPARATORS.split(base.casefold()):
        if token in _RIGHT:
            found.add(Eye.RIGHT)
        elif token in _LEFT:
            found.add(Eye.LEFT)
        elif token in _BOTH:
            return Eye.UNKNOWN
    return found.pop() if len(found) == 1 else Eye.UNKNOWN
