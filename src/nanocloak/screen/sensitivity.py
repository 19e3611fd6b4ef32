"""Global sensitivity of screening metrics to a space's fields (SALib).

Morris elementary effects (Morris 1991, Technometrics 33:161; mu* from Campolongo F et al. 2007,
Environ Model Softw 22:1509) rank fields cheaply: r trajectories of D + 1 runs on a p-level grid.
Sobol' indices (Sobol' 2001; Saltelli A 2002, Comput Phys Commun 145:280, estimators of Saltelli
A et al. 2010, Comput Phys Commun 181:259) split the variance: S1 (the field alone) and ST (with
all its interactions), from N(2D + 2) runs with N a power of 2.

Every field is a factor on [0, 1] mapped to its values as sampling does (uniform in the value, or
in its logarithm for scale: log), so indices compare fields over the ranges the space gives.
Discrete fields (choice, hybrid) enter Morris as integer levels; Sobol' excludes them (its
estimators assume continuous factors) and holds them at the base's value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError
from nanocloak.io.output_dir import IncrementalFolder, atomic_file
from nanocloak.screen.space import Space, SpaceError

METHODS = ("morris", "sobol")


@dataclass
class Plan:
    method: str
    space: Space                  # the space restricted to the analysed fields
    problem: dict                 # SALib problem on the unit cube
    unit: np.ndarray              # SALib sample (runs x D) on [0, 1]
    codes: np.ndarray             # the same runs as design codes
    notes: list[str]
    levels: int


def plan(space: Space, method: str, n: int, levels: int = 4, seed: int = 0) -> Plan:
    """The SALib sample for a space, enforcing SALib's sample-size rules with clear messages."""
    from nanocloak.errors import require

    require("SALib", "screen")
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    method = method.strip().lower()
    if method not in METHODS:
        raise NanocloakError(f"--method: {method!r} is not a method; use morris or sobol")
    notes = []
    fields = list(space.fields)
    if method == "sobol":
        skipped = [f for f in fields if f.discrete]
        fields = [f for f in fields if not f.discrete]
        for f in skipped:
            notes.append(f"{f.path} ({f.kind}) is excluded from Sobol' indices (continuous fields only) and held "
                         "at the base's value; use --method morris to rank it")
    if not fields:
        raise SpaceError(f"{space.source}: no field to analyse ({method} needs at least one "
                         f"{'range' if method == 'sobol' else 'varied'} field)")
    d = len(fields)
    problem = {"num_vars": d, "names": [f.path for f in fields], "bounds": [[0.0, 1.0]] * d}
    if method == "sobol":
        if n < 2 or n & (n - 1):
            raise NanocloakError(f"--n: Sobol' analysis needs N a power of 2 (e.g. 64, 128, 256; got {n}); it runs "
                                 f"N(2D+2) = N x {2 * d + 2} simulations for D = {d} fields")
        unit = sobol_sample.sample(problem, n, calc_second_order=True, seed=seed)
    else:
        if levels < 2 or levels % 2:
            raise NanocloakError(f"--levels: Morris needs an even number of grid levels p >= 2 (e.g. 4 or 6; got {levels})")
        if n < 2:
            raise NanocloakError(f"--n: Morris needs r >= 2 trajectories (got {n}); it runs r(D+1) = "
                                 f"r x {d + 1} simulations")
        unit = morris_sample.sample(problem, n, num_levels=levels, seed=seed)
    codes = np.column_stack([f.from_unit(unit[:, j]) for j, f in enumerate(fields)])
    sub = dataclasses.replace(space, fields=fields)
    return Plan(method, sub, problem, unit, codes, notes, levels)


def analyze(p: Plan, y: np.ndarray, metric: str, seed: int = 0) -> pd.DataFrame:
    """Indices of one output. Morris: mu*, its 95% CI, mu, sigma (scaled to the field's range: the
    mean change of the metric over a step of the p-level grid, divided by the step as a fraction of
    the range). Sobol': S1, ST and their 95% bootstrap CIs."""
    from nanocloak.errors import require

    require("SALib", "screen")
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    y = np.asarray(y, dtype=float)
    if not np.isfinite(y).all():
        bad = int((~np.isfinite(y)).sum())
        raise NanocloakError(f"{metric}: {bad} of {len(y)} runs have no value (failed designs or a metric absent "
                             "for some designs); SALib needs every run: narrow the ranges or pick another metric")
    if np.ptp(y) == 0:
        raise NanocloakError(f"{metric}: the same value in every run, so no field moves it (indices undefined)")
    names = p.problem["names"]
    if p.method == "morris":
        si = morris_analyze.analyze(p.problem, p.unit, y, num_levels=p.levels, seed=seed)
        return pd.DataFrame({"metric": metric, "field": names, "mu_star": si["mu_star"],
                             "mu_star_conf": si["mu_star_conf"], "mu": si["mu"], "sigma": si["sigma"]})
    si = sobol_analyze.analyze(p.problem, y, calc_second_order=True, seed=seed)
    return pd.DataFrame({"metric": metric, "field": names, "S1": si["S1"], "S1_conf": si["S1_conf"],
                         "ST": si["ST"], "ST_conf": si["ST_conf"]})


def metric_columns(space: Space, metrics: list[str], names: list[str]) -> list[str]:
    from nanocloak.screen.screening import resolve_metric

    chosen = metrics or [o.metric for o in space.objectives]
    if not chosen:
        raise NanocloakError(f"{space.source}: name the metric(s) to analyse with --metric (the space has no "
                             "objectives to default to)")
    return [resolve_metric(m, space, names, "--metric") for m in chosen]


@dataclass
class SensitivityOutcome:
    table: pd.DataFrame
    notes: list[str]
    n_runs: int
    files: list[Path]
    run: object


def run_sensitivity(space: Space, method: str, out_dir: Path, *, metrics: list[str] | None = None, n: int = 64,
                    levels: int = 4, seed: int = 0, chunk_size: int | None = None, scheduler: str | None = None,
                    workers: int | None = None, serial: bool = False,
                    on_progress: Callable[[int, int], None] | None = None,
                    on_plan: Callable[[Plan], None] | None = None, force: bool = False) -> SensitivityOutcome:
    """Sample, simulate through the chunked engine (resumable like a screen), analyse, write
    sensitivity.csv and sensitivity.png."""
    from nanocloak.screen import distributed
    from nanocloak.screen.screening import base_metric_names, design_table

    names = base_metric_names(space)
    columns = metric_columns(space, metrics or [], names)
    p = plan(space, method, n, levels, seed)
    if on_plan:
        on_plan(p)
    folder = IncrementalFolder(out_dir, f"sensitivity {p.method}", force)
    out_dir = folder.path
    report = distributed.run_chunks(p.space, p.codes, out_dir, chunk_size=chunk_size, scheduler=scheduler,
                                    workers=workers, serial=serial, kind=f"sensitivity-{p.method}",
                                    on_progress=on_progress)
    designs = design_table(distributed.read_results(out_dir), p.space).sort_values("design_id")
    tables = []
    for col in columns:
        if col not in designs:
            raise NanocloakError(f"{col}: no design reported this metric")
        tables.append(analyze(p, designs[col].to_numpy(dtype=float), col, seed))
    table = pd.concat(tables, ignore_index=True)
    folder.keep(distributed.written_files(out_dir))
    csv = folder.target("sensitivity.csv")
    with atomic_file(csv) as tmp:
        table.to_csv(tmp, index=False)
    files = [csv, figure(table, p.method, folder.target("sensitivity.png"))]
    folder.finish()
    return SensitivityOutcome(table, p.notes, len(p.codes), files, report)


def figure(table: pd.DataFrame, method: str, path: Path) -> Path:
    """Horizontal bars per metric: mu* with its CI and sigma (Morris), or S1 and ST with CIs (Sobol')."""
    from nanocloak.io.figures import pyplot as _plt

    plt = _plt()
    metrics = list(dict.fromkeys(table["metric"]))
    n_fields = table.groupby("metric").size().max()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), max(3.0, 1.2 + 0.45 * n_fields)), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        t = table[table["metric"] == m]
        y = np.arange(len(t))
        if method == "morris":
            ax.barh(y + 0.2, t["mu_star"], height=0.4, xerr=t["mu_star_conf"], label="mu*", color="tab:blue")
            ax.barh(y - 0.2, t["sigma"], height=0.4, label="sigma", color="tab:orange")
            ax.set_xlabel("effect over the range (metric units)")
        else:
            ax.barh(y + 0.2, t["S1"], height=0.4, xerr=t["S1_conf"], label="S1", color="tab:blue")
            ax.barh(y - 0.2, t["ST"], height=0.4, xerr=t["ST_conf"], label="ST", color="tab:orange")
            ax.set_xlabel("Sobol' index")
        ax.set_yticks(y)
        ax.set_yticklabels(t["field"], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(m, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
