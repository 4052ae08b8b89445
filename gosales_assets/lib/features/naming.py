"""Column naming: safe identifiers from data labels, window labels, collision checks."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
TARGET_PREFIX = "tgt__"
LIFE = "life"


def slug(text: str) -> str:
    """A safe identifier: ASCII-folded, lower case, runs of non-alphanumerics -> ``_``.

    ``"Success Plan"`` -> ``success_plan``; an empty result becomes ``x``; a leading
    digit gets an ``n`` prefix so the name is a valid identifier.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = _NON_ALNUM.sub("_", folded.lower()).strip("_") or "x"
    return f"n{out}" if out[0].isdigit() else out


def unique_slugs(labels: Iterable[str]) -> dict[str, str]:
    """Map each label to a distinct slug, deterministically.

    Labels are processed in sorted order; a slug already taken gets ``_2``, ``_3``...
    (so ``"Success Plan"`` and ``"success-plan"`` never share a column).
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for label in sorted(set(labels)):
        base = slug(label)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        out[label] = name
        taken.add(name)
    return out


def wlabel(months: int) -> str:
    """The window label of a month window: ``12`` -> ``12m``."""
    return f"{months}m"


def tgt(name: str) -> str:
    return f"{TARGET_PREFIX}{name}"


def als_names(factors: int) -> list[str]:
    width = max(2, len(str(factors - 1)))
    return [f"als_f{i:0{width}d}" for i in range(factors)]


def check_unique(names: list[str]) -> None:
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    if dupes:
        raise ValueError(f"duplicate feature names: {dupes}")
