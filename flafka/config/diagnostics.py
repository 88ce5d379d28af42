"""Problems found in a configuration, each tied to the file and line that caused it."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """Where a key was written: file name and 1-based line number (0 when not from a file)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: ``FILE:LINE: <component> <key>: <message>``.

    ``component`` is the Flume-style path of the component (``sources.r1``, ``sinkgroups.g1``,
    ``sources.r1.interceptors.i1``); lenient mode uses it to drop exactly that component.
    """

    severity: Severity
    location: Location | None
    component: str
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = " ".join(part for part in (self.component, self.key) if part)
        kind = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}{what}: {kind}{self.message}" if what else f"{where}{kind}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``word`` (case-insensitive), or None when nothing is close."""
    pool = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(word.lower(), list(pool), n=1, cutoff=0.5)
    return pool[hits[0]] if hits else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or the empty string."""
    hit = suggest(word, candidates)
    return f" (did you mean '{hit}'?)" if hit else ""
