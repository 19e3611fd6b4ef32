"""User-facing errors: each names the field (or file) and says what is allowed."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str     # e.g. "surface.membrane.sources[0].line"
    message: str  # what is wrong and what is allowed


class NanocloakError(Exception):
    """Base class of errors shown to users without a traceback (CLI exit status 2)."""


class FormulationError(NanocloakError):
    """A formulation file that cannot be simulated, with every problem found."""

    def __init__(self, problems: list[Problem], source: str | None = None):
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.source}: " if self.source else ""
        lines = [f"{where}{p.path}: {p.message}" if p.path else f"{where}{p.message}" for p in self.problems]
        if len(lines) == 1:
            return f"invalid formulation: {lines[0]}"
        return "invalid formulation (" + str(len(lines)) + " problems):\n  " + "\n  ".join(lines)


def did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.55)
    return f" (did you mean {close[0]!r}?)" if close else ""


class MissingExtraError(NanocloakError):
    """An optional part of nanocloak that is not installed (the message says which extra installs it)."""


def require(module: str, extra: str):
    """Import an optional dependency, or say plainly which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"this needs {module.split('.')[0]}, part of an optional extra: "
                                f"pip install 'nanocloak[{extra}]'") from None
