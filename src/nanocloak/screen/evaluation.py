"""Evaluating designs: a chunk of a design space's codes -> one row per (design, virtual animal) with
its flat metrics, or 'failed' and the reason (never an exception); the metric names a space's goals
may use. Pure: a chunk's rows depend only on the space and the codes (screen/distributed.py runs it)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nanocloak.errors import NanocloakError
from nanocloak.screen.space import Space, SpaceError

ID_COLUMNS = ("design_id", "animal", "status", "error")


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------
def flatten_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Flat numeric metrics: organ_pct_id_24h.liver -> liver_pct_id_24h; payloads.<drug>.<m> -> <drug>_<m>;
    imaging.<m> -> <m>.
    A top-level metric wins over a nested one of the same name (they hold the same number)."""
    flat: dict[str, float] = {}
    nested: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            if key == "payloads":
                for drug, sub in value.items():
                    for name, v in (sub or {}).items():
                        _put(nested, f"{drug}_{name}", v)
            elif key == "imaging":                   # names already say what they are (docs/imaging.md)
                for name, v in value.items():
                    _put(nested, name, v)
            else:
                stem = key.removeprefix("organ_")
                for organ, v in value.items():
                    _put(nested, f"{organ}_{stem}", v)
        else:
            _put(flat, key, value)
    for name, v in nested.items():
        flat.setdefault(name, v)
    return flat


def _put(target: dict, name: str, value: Any) -> None:
    if value is None:
        target[name] = math.nan           # e.g. days_to_2x_volume when the tumor never doubles
    elif isinstance(value, (bool, np.bool_)):
        target[name] = float(value)
    elif isinstance(value, (int, float, np.integer, np.floating)):
        target[name] = float(value)


def base_metric_names(space: Space) -> list[str]:
    """Metric names a design of this space reports, from one simulation of the base."""
    from nanocloak.simulation.core import simulate
    from nanocloak.spec.formulation import from_dict

    return list(flatten_metrics(simulate(from_dict(space.base)).metrics))


def quantile_suffix(q: float) -> str:
    return "p" + f"{q * 100:g}".replace(".", "_")


def available_metrics(space: Space, names: list[str]) -> list[str]:
    """Per-design metric names: the metrics themselves, or over a population their mean, SD and quantiles."""
    if space.population is None:
        return list(names)
    stats = ["mean", "sd", *[quantile_suffix(q) for q in space.population.quantiles]]
    return [f"{n}_{s}" for n in names for s in stats]


def resolve_metric(name: str, space: Space, names: list[str], where: str) -> str:
    """The design-table column for a metric named in the space (the mean over a population by default)."""
    available = available_metrics(space, names)
    if space.population is not None and name in names:
        return f"{name}_mean"
    if name in available:
        return name
    from nanocloak.errors import did_you_mean

    shown = ", ".join(names if space.population is None else available)
    extra = "; over a population use METRIC (its mean) or METRIC_mean/_sd/_pNN" if space.population else ""
    raise SpaceError(f"{space.source}: {where}: unknown metric {name!r}{did_you_mean(name, available)}{extra}; "
                     f"available: {shown}")


@dataclass(frozen=True)
class Goals:
    """Objectives and constraints as design-table columns."""

    objectives: list[tuple[str, str]]                 # (column, maximize|minimize)
    constraints: list[tuple[str, float | None, float | None]]


def goals(space: Space, names: list[str]) -> Goals:
    objs = [(resolve_metric(o.metric, space, names, f"objectives[{i}]"), o.sense) for i, o in enumerate(space.objectives)]
    cons = [(resolve_metric(c.metric, space, names, f"constraints[{i}]"), c.min, c.max)
            for i, c in enumerate(space.constraints)]
    return Goals(objs, cons)


# ---------------------------------------------------------------------------------------------
# evaluation of a chunk (runs on workers)
# ---------------------------------------------------------------------------------------------
def evaluate_designs(space: Space, first_id: int, codes: np.ndarray):
    """Rows (design x animal) for consecutive designs first_id, first_id + 1, ... as a pyarrow Table."""
    from nanocloak.spec.formulation import from_dict

    entries: list[tuple[int, int, Any, str | None]] = []      # design_id, animal, formulation, error
    animals = space.population.animals if space.population else 1
    for offset, row in enumerate(np.atleast_2d(codes)):
        design_id = first_id + offset
        try:
            f = from_dict(space.formulation_dict(row, design_id))
            members = _population(space, f) if space.population else [f]
            entries += [(design_id, a, m, None) for a, m in enumerate(members)]
        except NanocloakError as exc:
            entries += [(design_id, a, None, str(exc)) for a in range(animals)]
    metrics = _simulate([e[2] for e in entries if e[2] is not None])
    results: list[dict[str, float] | str] = []
    it = iter(metrics)
    for _, _, formulation, error in entries:
        if formulation is not None:
            results.append(next(it))
        else:
            assert error is not None, "an entry without a formulation holds its error (built above)"
            results.append(error)
    return _table(space, first_id, np.atleast_2d(codes), entries, results)


def _population(space: Space, f):
    from nanocloak.simulation import virtual_animals  # looked up per call: tests replace virtual_animals.population

    population = space.population
    assert population is not None, "evaluate_designs asks for animals only when the space has a population"
    return virtual_animals.population(f, population.animals, population.seed)


def _simulate(formulations: list) -> list[dict[str, float] | str]:
    """Flat metrics per formulation, or the reason it could not be simulated (one bad design does
    not sink its chunk: on an error the chunk is retried one design at a time)."""
    from nanocloak.simulation.core import simulate_many

    if not formulations:
        return []
    try:
        return [flatten_metrics(r.metrics) for r in simulate_many(formulations)]
    except Exception:
        pass
    out: list[dict[str, float] | str] = []
    for f in formulations:
        try:
            out.append(flatten_metrics(simulate_many([f])[0].metrics))
        except NanocloakError as exc:
            out.append(f"simulation failed: {exc}")
        except Exception as exc:  # a bug in the engine: recorded with its type so it can be reported
            out.append(f"internal error in the simulation ({type(exc).__name__}: {exc})")
    return out


def _table(space: Space, first_id: int, codes: np.ndarray, entries, results):
    import pyarrow as pa

    cols: dict[str, list] = {c: [] for c in ID_COLUMNS}
    specs = space.column_specs()
    for name, _ in specs:
        cols[name] = []
    displays = [space.display(row) for row in codes]
    metric_names: dict[str, None] = {}
    for r in results:
        if isinstance(r, dict):
            metric_names.update(dict.fromkeys(r))
    metric_cols: dict[str, list] = {m: [] for m in metric_names}
    for (design_id, animal, _, _), r in zip(entries, results):
        ok = isinstance(r, dict)
        cols["design_id"].append(design_id)
        cols["animal"].append(animal)
        cols["status"].append("ok" if ok else "failed")
        cols["error"].append(None if ok else r)
        for (name, _), v in zip(specs, displays[design_id - first_id]):
            cols[name].append(v)
        for m, values in metric_cols.items():
            values.append(r.get(m, math.nan) if ok else math.nan)
    types = {"design_id": pa.int64(), "animal": pa.int64(), "status": pa.string(), "error": pa.string(),
             **{name: pa.float64() if kind == "float" else pa.string() for name, kind in specs}}
    arrays = {name: pa.array(values, type=types[name]) for name, values in cols.items()}
    arrays.update({m: pa.array(v, type=pa.float64()) for m, v in metric_cols.items()})
    return pa.table(arrays)


