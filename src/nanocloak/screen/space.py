"""Design spaces for screening: the space file (what varies around a base formulation) and its samples.

A space file names a base formulation and dotted paths into it (`core.diameter_nm`,
`treatment.lasers[0].at_h`, `model.overrides.liver.volume_L`), each varied over a range, a list of
choices or the compositions of a hybrid membrane. Sampling (grid, Latin hypercube, Sobol') gives a
matrix of codes, one row per design: a continuous field's code is its value, a discrete field's
code is the index of its option. Designs are numbered by their row (design_id).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nanocloak.errors import NanocloakError, did_you_mean
from nanocloak.screen.errors import SpaceError  # noqa: F401  (raised here, imported from here by callers)
from nanocloak.screen.paths import copy_tree, parse_path, render_path, resolve_path, set_path, unwrap  # noqa: F401

#: a grid larger than this is almost surely a mistake (levels multiply)
MAX_DESIGNS = 10_000_000
#: hybrid compositions enumerated at most (stars and bars grows fast with sources)
MAX_COMPOSITIONS = 100_000


# ---------------------------------------------------------------------------------------------
# the file
# ---------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RangeSpec(_Strict):
    range: tuple[float, float]
    scale: Literal["linear", "log"] = "linear"
    levels: int | None = Field(default=None, ge=2, le=1000)   # grid sampling only

    @model_validator(mode="after")
    def _check(self) -> "RangeSpec":
        lo, hi = self.range
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise ValueError(f"range: needs [low, high] with low < high (got [{lo:g}, {hi:g}])")
        if self.scale == "log" and lo <= 0:
            raise ValueError(f"scale log needs a positive range (got low {lo:g})")
        return self


class ChoiceSpec(_Strict):
    choice: list[Any] = Field(min_length=1)


class HybridSpec(_Strict):
    hybrid: list[str | dict[str, Any]] = Field(min_length=2, max_length=6)
    fraction_step: float = Field(gt=0, le=1)

    @field_validator("fraction_step")
    @classmethod
    def _step(cls, v: float) -> float:
        k = round(1.0 / v)
        if abs(k * v - 1.0) > 1e-9:
            raise ValueError(f"fraction_step must divide 1 exactly (e.g. 0.5, 0.25, 0.1); got {v:g}")
        return v


class Sampling(_Strict):
    method: Literal["grid", "lhs", "sobol"] = "sobol"
    n: int | None = Field(default=None, ge=1, le=MAX_DESIGNS)
    seed: int = Field(default=0, ge=0)
    levels: int = Field(default=5, ge=2, le=1000)   # grid: levels of a range without its own

    @model_validator(mode="after")
    def _check(self) -> "Sampling":
        if self.method == "grid" and self.n is not None:
            raise ValueError("n: not used by grid sampling (its size is the product of the fields' levels); "
                             "remove n or use lhs/sobol")
        if self.method != "grid" and self.n is None:
            raise ValueError(f"n: {self.method} sampling needs the number of designs (e.g. n: 1024)")
        if self.method == "sobol" and self.n is not None and self.n & (self.n - 1):   # n is set: checked above
            raise ValueError(f"n: Sobol' sampling keeps its balance only for a power of 2 (e.g. "
                             f"{1 << (self.n.bit_length() - 1)} or {1 << self.n.bit_length()}); got {self.n}")
        return self


class Population(_Strict):
    animals: int = Field(ge=1, le=10_000)
    seed: int = Field(default=0, ge=0)
    quantiles: list[float] = Field(default_factory=lambda: [0.1, 0.9], max_length=10)

    @field_validator("quantiles")
    @classmethod
    def _q(cls, v: list[float]) -> list[float]:
        bad = [q for q in v if not 0 < q < 1]
        if bad:
            raise ValueError(f"each quantile must lie strictly between 0 and 1 (got {bad[0]:g})")
        return v


class Objective(_Strict):
    maximize: str | None = None
    minimize: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "Objective":
        if (self.maximize is None) == (self.minimize is None):
            raise ValueError("an objective is {maximize: METRIC} or {minimize: METRIC} (exactly one)")
        return self

    @property
    def metric(self) -> str:
        return self.maximize or self.minimize or ""

    @property
    def sense(self) -> str:
        return "maximize" if self.maximize else "minimize"


class Constraint(_Strict):
    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bound(self) -> "Constraint":
        if self.min is None and self.max is None:
            raise ValueError(f"constraint on {self.metric}: give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"constraint on {self.metric}: min {self.min:g} is above max {self.max:g}")
        return self


class SpaceFile(_Strict):
    base: str | dict[str, Any]
    vary: dict[str, dict[str, Any]] = Field(min_length=1)
    sampling: Sampling = Field(default_factory=Sampling)
    population: Population | None = None
    objectives: list[Objective] = Field(default_factory=list)
    constraints: list[Constraint] = Field(default_factory=list)
    top: int = Field(default=10, ge=0, le=10_000)


# ---------------------------------------------------------------------------------------------
# varied fields
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VariedField:
    """One varied path. Codes: a range's code is its value; a discrete field's code is an option index."""

    path: str
    tokens: tuple
    kind: str                          # range | choice | hybrid
    low: float = 0.0
    high: float = 1.0
    scale: str = "linear"
    levels: int | None = None
    options: tuple = ()                # choice values, or hybrid compositions (tuples of fractions)
    sources: tuple = ()                # hybrid: the membrane sources (dicts)
    labels: tuple = ()                 # hybrid: a short name per source

    @property
    def discrete(self) -> bool:
        return self.kind != "range"

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map points of [0, 1] to codes (uniform in the value, or in its log for scale: log)."""
        u = np.asarray(u, dtype=float)
        if self.discrete:
            k = len(self.options)
            return np.minimum(np.floor(u * k), k - 1).astype(float)
        if self.scale == "log":
            return self.low * (self.high / self.low) ** u
        return self.low + u * (self.high - self.low)

    def grid_codes(self, default_levels: int) -> np.ndarray:
        if self.discrete:
            return np.arange(len(self.options), dtype=float)
        return self.from_unit(np.linspace(0.0, 1.0, self.levels or default_levels))

    def value(self, code: float) -> Any:
        """The value written into the formulation."""
        if self.kind == "range":
            return float(code)
        option = self.options[int(code)]
        if self.kind == "choice":
            return copy.deepcopy(option)
        sources = []
        for src, frac in zip(self.sources, option):
            if frac > 0:
                sources.append({**copy.deepcopy(src), "fraction": frac})
        return sources

    # ---- result columns ----------------------------------------------------------------------
    def columns(self) -> list[tuple[str, str]]:
        """(column name, 'float' | 'string') of this field in the results."""
        if self.kind == "range":
            return [(self.path, "float")]
        if self.kind == "choice":
            return [(self.path, "float" if _all_numbers(self.options) else "string")]
        return [(self.path, "string")] + [(f"{self.path}.{lab}_fraction", "float") for lab in self.labels]

    def display(self, code: float) -> list[Any]:
        if self.kind == "range":
            return [float(code)]
        option = self.options[int(code)]
        if self.kind == "choice":
            if _all_numbers(self.options):
                return [float(option)]
            return [option if isinstance(option, str) else json.dumps(option, sort_keys=True)]
        label = "+".join(f"{lab}:{frac:g}" for lab, frac in zip(self.labels, option) if frac > 0)
        return [label, *[float(f) for f in option]]

    def describe(self) -> dict:
        """Canonical description (for the space hash)."""
        return {"path": self.path, "kind": self.kind, "low": self.low, "high": self.high, "scale": self.scale,
                "levels": self.levels, "options": list(self.options), "sources": list(self.sources)}


def _all_numbers(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def compositions(n_sources: int, step: float) -> list[tuple[float, ...]]:
    """Every split of 1 among n sources in multiples of `step` (a source may get 0: then it is absent)."""
    k = round(1.0 / step)
    if math.comb(k + n_sources - 1, n_sources - 1) > MAX_COMPOSITIONS:
        raise SpaceError(f"hybrid: {n_sources} sources in steps of {step:g} make more than {MAX_COMPOSITIONS} "
                         "compositions; use a coarser fraction_step")

    def split(total: int, parts: int):
        if parts == 1:
            yield (total,)
            return
        for first in range(total, -1, -1):
            for rest in split(total - first, parts - 1):
                yield (first, *rest)

    return [tuple(round(c / k, 12) for c in combo) for combo in split(k, n_sources)]


def _hybrid_field(path: str, tokens, spec: HybridSpec) -> VariedField:
    sources, labels = [], []
    for i, item in enumerate(spec.hybrid):
        src = {"cell": item} if isinstance(item, str) else dict(item)
        if "cell" not in src:
            raise SpaceError(f"vary[{path}].hybrid[{i}]: a membrane source needs its cell (e.g. rbc, or "
                             "{cell: cancer, line: 4T1})")
        if "fraction" in src:
            raise SpaceError(f"vary[{path}].hybrid[{i}]: fractions come from fraction_step; remove fraction")
        label = str(src["cell"]).lower() + (f"_{src['line']}" if src.get("line") else "")
        sources.append(src)
        labels.append(re.sub(r"[^A-Za-z0-9_]+", "_", label))
    if len(set(labels)) != len(labels):
        raise SpaceError(f"vary[{path}].hybrid: each membrane source may be listed once")
    return VariedField(path, tuple(tokens), "hybrid", options=tuple(compositions(len(sources), spec.fraction_step)),
                       sources=tuple(sources), labels=tuple(labels))


def _varied_field(path: str, raw: dict) -> VariedField:
    kinds = [k for k in ("range", "choice", "hybrid") if k in raw]
    if len(kinds) != 1:
        raise SpaceError(f"vary[{path}]: give exactly one of range: [low, high], choice: [...] or "
                         f"hybrid: [cells] (got keys {', '.join(raw) or 'none'})")
    models: dict[str, type[RangeSpec | ChoiceSpec | HybridSpec]] = {"range": RangeSpec, "choice": ChoiceSpec,
                                                                   "hybrid": HybridSpec}
    model = models[kinds[0]]
    try:
        spec = model.model_validate(raw)
    except ValidationError as exc:
        raise SpaceError(_render_errors(exc, f"vary[{path}]")) from None
    tokens, leaf = resolve_path(path)
    if isinstance(spec, HybridSpec):
        from nanocloak.spec.formulation import MembraneSource

        if typing.get_origin(leaf) is not list or unwrap(typing.get_args(leaf)[0]) is not MembraneSource:
            raise SpaceError(f"vary[{path}]: hybrid applies to a list of membrane sources "
                             "(surface.membrane.sources)")
        return _hybrid_field(path, tokens, spec)
    if isinstance(spec, ChoiceSpec):
        return VariedField(path, tuple(tokens), "choice", options=tuple(spec.choice))
    if leaf not in (float, int):
        raise SpaceError(f"vary[{path}]: a range needs a number field; {path} is not one (use choice: [...])")
    return VariedField(path, tuple(tokens), "range", low=spec.range[0], high=spec.range[1], scale=spec.scale,
                       levels=spec.levels)


def _render_errors(exc: ValidationError, prefix: str = "") -> str:
    """formulation.problems_from's messages, searched from the space model that failed."""
    from nanocloak.spec.problems import problems_from

    models = {m.__name__: m for m in (SpaceFile, RangeSpec, ChoiceSpec, HybridSpec, Sampling, Population,
                                      Objective, Constraint)}
    problems = problems_from(exc, root=models.get(exc.title))
    return "; ".join(".".join(x for x in (prefix, p.path) if x) + f": {p.message}" if (prefix or p.path) else p.message
                     for p in problems)


# ---------------------------------------------------------------------------------------------
# the space
# ---------------------------------------------------------------------------------------------
@dataclass
class Space:
    """A validated design space: base formulation (as written), varied fields, sampling, goals."""

    source: str
    base: dict
    fields: list[VariedField]
    sampling: Sampling
    population: Population | None
    objectives: list[Objective]
    constraints: list[Constraint]
    top: int

    @property
    def base_name(self) -> str:
        return str(self.base.get("name", "design"))

    def with_sampling(self, n: int | None = None, seed: int | None = None) -> "Space":
        """The same space with --samples / --seed applied (re-validated)."""
        data = self.sampling.model_dump()
        if n is not None:
            data["n"] = n
        if seed is not None:
            data["seed"] = seed
        try:
            sampling = Sampling.model_validate(data)
        except ValidationError as exc:
            raise SpaceError(f"{self.source}: " + _render_errors(exc, "sampling")) from None
        return dataclasses.replace(self, sampling=sampling)

    def design_matrix(self) -> np.ndarray:
        """(n designs, n fields) codes, row i = design i."""
        s = self.sampling
        d = len(self.fields)
        if s.method == "grid":
            axes = [f.grid_codes(s.levels) for f in self.fields]
            size = math.prod(len(a) for a in axes)
            if size > MAX_DESIGNS:
                raise SpaceError(f"{self.source}: the grid has {size:,} designs (more than {MAX_DESIGNS:,}); "
                                 "use fewer levels or lhs/sobol sampling")
            mesh = np.meshgrid(*axes, indexing="ij")
            return np.stack([m.ravel() for m in mesh], axis=1)
        from scipy.stats import qmc

        engine = (qmc.LatinHypercube(d=d, rng=s.seed) if s.method == "lhs" else qmc.Sobol(d=d, scramble=True, rng=s.seed))
        unit = engine.random(s.n)
        return np.stack([f.from_unit(unit[:, j]) for j, f in enumerate(self.fields)], axis=1)

    def formulation_dict(self, codes, design_id: int) -> dict:
        """The base with this design's values (not yet validated)."""
        doc = copy_tree(self.base)
        for f, code in zip(self.fields, codes):
            set_path(doc, list(f.tokens), f.value(code))
        doc["name"] = f"{self.base_name} d{design_id}"
        return doc

    def column_specs(self) -> list[tuple[str, str]]:
        return [c for f in self.fields for c in f.columns()]

    def display(self, codes) -> list[Any]:
        return [v for f, code in zip(self.fields, codes) for v in f.display(code)]

    def fingerprint(self, matrix: np.ndarray) -> str:
        """Hash of what decides the simulations: base, fields, sampling, population and the samples
        themselves (objectives, constraints and top only rank results, so they may change on resume)."""
        h = hashlib.sha256()
        canon = {"base": self.base, "fields": [f.describe() for f in self.fields],
                 "sampling": self.sampling.model_dump(), "population": self.population.model_dump() if self.population else None}
        h.update(json.dumps(canon, sort_keys=True, default=str).encode())
        h.update(np.ascontiguousarray(matrix, dtype=np.float64).tobytes())
        return h.hexdigest()


def load_space(source: str | Path | dict, base_dir: Path | None = None) -> Space:
    """Read and validate a space file (or mapping); every problem names its field."""
    name = "space" if isinstance(source, dict) else str(source)
    data = source if isinstance(source, dict) else _read_yaml(Path(source), "space file")
    if not isinstance(source, dict):
        base_dir = Path(source).resolve().parent
    base_dir = base_dir or Path.cwd()
    if not isinstance(data, dict):
        raise SpaceError(f"{name}: a space file holds a mapping (base, vary, sampling, objectives ...)")
    try:
        spec = SpaceFile.model_validate(data)
    except ValidationError as exc:
        raise SpaceError(f"{name}: " + _render_errors(exc)) from None
    base = _load_base(spec.base, base_dir, name)
    try:
        fields = [_varied_field(path, raw) for path, raw in spec.vary.items()]
    except SpaceError as exc:
        raise SpaceError(f"{name}: {exc}") from None
    probe = copy.deepcopy(base)
    for f in fields:   # list items named by a path must exist in the base
        try:
            set_path(probe, list(f.tokens), f.value(f.grid_codes(2)[0]))
        except SpaceError as exc:
            raise SpaceError(f"{name}: vary[{f.path}]: {exc}") from None
    _check_overrides(fields, base, name)
    return Space(name, base, fields, spec.sampling, spec.population, spec.objectives, spec.constraints, spec.top)


def _read_yaml(path: Path, what: str) -> Any:
    if not path.exists():
        raise SpaceError(f"{what} not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise SpaceError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise SpaceError(f"{path}: not a readable text file") from None


def _load_base(base: str | dict, base_dir: Path, name: str) -> dict:
    """The base as written (not normalised: defaults the loader infers, such as the host of a
    tumor model, must stay free to follow the varied fields)."""
    from nanocloak.spec.formulation import from_dict

    if isinstance(base, str):
        path = (base_dir / base) if not Path(base).is_absolute() else Path(base)
        doc = _read_yaml(path, "base formulation")
        where = str(path)
    else:
        doc, where = copy.deepcopy(base), None
    try:
        from_dict(doc, where)
    except NanocloakError as exc:
        raise SpaceError(f"{name}: base: {exc}") from None
    return doc


def _check_overrides(fields: list[VariedField], base: dict, name: str) -> None:
    """model.overrides paths must name model parameters (checked on the base once)."""
    wanted = [f for f in fields if f.tokens[:2] == ("model", "overrides")]
    if not wanted:
        return
    from nanocloak.simulation.core import resolve_formulation as resolve
    from nanocloak.spec.formulation import from_dict

    names = resolve(from_dict(base), describe=False).params.names()
    for f in wanted:
        key = str(f.tokens[2])
        if key not in names:
            raise SpaceError(f"{name}: vary[{f.path}]: {key!r} is not a model parameter of the base"
                             f"{did_you_mean(key, names)}; `nanocloak params BASE` lists the names")
