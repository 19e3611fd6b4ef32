"""Named parameters with units and sources (ParameterSet), a formulation's resolved parameters
(ResolvedFormulation), and the allowed ranges of user overrides (data/parameter_ranges.yaml)."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from nanocloak.body import species as physiology
from nanocloak.errors import FormulationError, Problem
from nanocloak.library import tables as library
from nanocloak.spec.formulation import Formulation
from nanocloak.surface import stealth as phagocytosis

if TYPE_CHECKING:                 # pandas costs ~0.4 s to import: only where a table is asked for
    import pandas as pd

#: the organs every species has (the tumor, when present, is handled on its own)
MPS_ORGANS = ("lung", "heart", "liver", "spleen", "kidney", "brain", "muscle", "rest")


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    unit: str
    source: str
    description: str = ""


#: interned (unit, source, description) triples shared by every parameter set of a run
_SHARED_META: dict[tuple[str, str, str], tuple[str, str, str]] = {}


def override_range(name: str, unit: str) -> dict:
    """The allowed range of a parameter (data/parameter_ranges.yaml): by name pattern, unit, default."""
    import fnmatch

    table = library.table("parameter_ranges")
    for pattern, rng in table["by_name"].items():
        if fnmatch.fnmatchcase(name, pattern):
            return rng
    return table["by_unit"].get(unit, table["default"])


def check_override(name: str, value: float, unit: str) -> None:
    """A user's replacement value within its parameter's physical range, or a FormulationError."""
    rng = override_range(name, unit)
    lo, hi = library.value(rng["min"]), library.value(rng["max"])
    low_ok = value > lo if rng.get("min_exclusive") else value >= lo
    if not (math.isfinite(value) and low_ok and value <= hi):
        bound = f"{'>' if rng.get('min_exclusive') else '>='} {lo:g} and <= {hi:g}"
        raise FormulationError([Problem(f"model.overrides.{name}", f"{value:g} is outside its allowed range "
                                        f"({bound} {unit}; {rng['min']['source']})")])


class ParameterSet:
    """Ordered named parameters; overrides are applied as each name is first set."""

    def __init__(self, overrides: dict[str, float] | None = None, describe: bool = True,
                 override_label: dict[str, str] | None = None):
        self._values: dict[str, float] = {}
        self._meta: dict[str, tuple[str, str, str]] = {}   # name -> (unit, source, description)
        self._overrides = dict(overrides or {})
        self._label = override_label or {}                  # name -> where a non-user override comes from
        self._used: set[str] = set()
        #: False in batch runs: values only, sources composed later if a table is asked for
        self.describe = describe

    def set(self, name: str, value: float, unit: str, source, description: str = "") -> float:
        """Record a parameter; `source` may be a callable, called only when descriptions are kept."""
        if name in self._overrides:
            value = self._overrides[name]
            check_override(name, value, unit)
            self._used.add(name)
        value = float(value)
        self._values[name] = value
        if self.describe:
            text = source() if callable(source) else source
            if name in self._used:
                text = self._label.get(name) or f"model.overrides (default replaced; {text})"
            name = sys.intern(name)                     # shared across results: small pickles
            meta = (unit, text, description)
            self._meta[name] = _SHARED_META.setdefault(meta, meta)
        return value

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def parameter(self, name: str) -> Parameter:
        return Parameter(name, self._values[name], *self._meta.get(name, ("", "", "")))

    def __iter__(self):
        return (self.parameter(n) for n in self._values)

    def __len__(self) -> int:
        return len(self._values)

    def names(self) -> list[str]:
        return list(self._values)

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = [(n, v, *self._meta.get(n, ("", "", ""))) for n, v in self._values.items()]
        return pd.DataFrame(rows, columns=["name", "value", "unit", "source", "description"])

    def unknown_overrides(self) -> list[str]:
        return [k for k in self._overrides if k not in self._used]


@dataclass
class ResolvedFormulation:
    """Everything the solver needs for one formulation."""

    formulation: Formulation
    params: ParameterSet
    physiology: physiology.Physiology
    classes: list[phagocytosis.CoatingClass]
    class_uptake_ratio: list[float]        # MPS uptake of each class / the main class
    class_tumor_ratio: list[float]         # tumor cellular uptake of each class / the main class
    dose_times_h: list[float]
    dose_factors: list[float]
    organ_masses_g: dict[str, float] = field(default_factory=dict)
    #: set by the therapy model: heat-opened tumor vessels (start h, end h, factor) and the tumor's
    #: temperature T(t) for hyperthermia-triggered release
    heat_windows: list = field(default_factory=list)
    tumor_temperature: object = None
    #: per coating class: the MPS uptake ramp's half-time when it differs from the organs' (the
    #: opsonised share, captured at once), else None
    class_t50_h: list = field(default_factory=list)
    #: per coating class: its uptake / the main class's in the organs other than liver and spleen,
    #: where the opsonised share's early capture does not act (empty: as class_uptake_ratio)
    class_peripheral_ratio: list = field(default_factory=list)
    #: per dose: liver and spleen macrophage uptake over a tracer dose's (saturation; empty: 1)
    dose_mps_saturation: list = field(default_factory=list)
    #: tumor parameters handed in from above (learned ones), re-applied when the table is re-resolved
    tumor_overrides: tuple = ()
    #: the function that made this (resolution.resolve), to re-resolve with sources when asked
    resolver: Callable[..., Any] | None = None   # re-resolves with sources (parameter_table)

    @property
    def n_elements(self) -> int:
        return len(self.classes) * len(self.dose_times_h)

    @property
    def dose_amounts(self) -> list[float]:
        """Each dose in units of the first (dose.schedule; all 1 for equal doses): the weight of its
        elements, so that every %ID is a percent of the first dose."""
        return self.formulation.dose.relative_amounts(self.dose_times_h)

    def doses_given(self, t_h) -> np.ndarray:
        """First-dose equivalents given before each time (a dose at t counts from just after t):
        the number of doses given when they are equal."""
        counts = np.searchsorted(np.asarray(self.dose_times_h), np.asarray(t_h), side="left")
        return np.concatenate([[0.0], np.cumsum(self.dose_amounts)])[counts]

    def parameter_table(self) -> pd.DataFrame:
        """Every parameter with value, unit and source (re-resolved if the batch skipped sources)."""
        if self.params.describe:
            return self.params.table()
        assert self.resolver is not None, "resolve_formulation sets the resolver of every ResolvedFormulation"
        return self.resolver(self.formulation, True, self.tumor_overrides).params.table()


def calibrated(ps: ParameterSet, name: str, unit: str, description: str, cal: str | None = None) -> float:
    from nanocloak.library import calibrations

    c = calibrations.entry(name, cal)
    return ps.set(f"calibration.{name}", c.value, unit, c.source, description)

