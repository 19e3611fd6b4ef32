"""Screening designs: evaluate chunks of a design space, then rank the designs.

Evaluation is pure (a chunk's rows depend only on the space and the chunk's codes), so a chunk can be
recomputed anywhere (another Dask worker, a resumed run) with the same result. A design that is not
a valid formulation is a row with status 'failed' and the reason, never an exception.

Ranking: feasible designs (every constraint met) are sorted into Pareto fronts over the objectives;
the top designs are the first fronts, each ordered by the first objective.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError
from nanocloak.io.output_dir import IncrementalFolder, atomic_file
from nanocloak.screen.evaluation import (
    ID_COLUMNS,  # noqa: F401
    Goals,  # noqa: F401
    available_metrics,  # noqa: F401
    base_metric_names,  # noqa: F401
    evaluate_designs,  # noqa: F401
    flatten_metrics,  # noqa: F401
    goals,  # noqa: F401
    quantile_suffix,  # noqa: F401
    resolve_metric,  # noqa: F401
)
from nanocloak.screen.space import Space


# ---------------------------------------------------------------------------------------------
# designs: one row per design (aggregated over a population)
# ---------------------------------------------------------------------------------------------
def design_table(rows: pd.DataFrame, space: Space) -> pd.DataFrame:
    """One row per design: varied values, status, metrics (mean/SD/quantiles over animals)."""
    varied = [name for name, _ in space.column_specs()]
    metric_cols = [c for c in rows.columns if c not in ID_COLUMNS and c not in varied]
    rows = rows.sort_values(["design_id", "animal"], kind="stable")
    if space.population is None:
        return rows.drop(columns=["animal"]).reset_index(drop=True)
    first = rows.groupby("design_id", sort=True).first()
    failed = (rows["status"] != "ok").groupby(rows["design_id"], sort=True).any()
    errors = rows[rows["status"] != "ok"].groupby("design_id")["error"].first()
    ok = rows[rows["status"] == "ok"].groupby("design_id", sort=True)[metric_cols]
    parts = {"mean": ok.mean(), "sd": ok.std(ddof=1)}
    for q in space.population.quantiles:
        parts[quantile_suffix(q)] = ok.quantile(q)
    stats = pd.concat({s: df for s, df in parts.items()}, axis=1)
    stats.columns = [f"{m}_{s}" for s, m in stats.columns]
    head = pd.DataFrame({"status": np.where(failed.reindex(first.index).to_numpy(), "failed", "ok"),
                         "error": errors.reindex(first.index)}, index=first.index)
    stats = stats.reindex(first.index)
    stats.loc[head["status"] != "ok"] = np.nan    # a design is judged on its whole population or not at all
    out = pd.concat([head, first[varied], stats], axis=1)
    return out.reset_index()


# ---------------------------------------------------------------------------------------------
# Pareto fronts
# ---------------------------------------------------------------------------------------------
def costs_of(designs: pd.DataFrame, g: Goals) -> np.ndarray:
    """Objective matrix to minimise (maximised objectives negated)."""
    cols = [designs[c].to_numpy(dtype=float) * (-1.0 if sense == "maximize" else 1.0) for c, sense in g.objectives]
    return np.column_stack(cols) if cols else np.zeros((len(designs), 0))


def feasible_mask(designs: pd.DataFrame, g: Goals) -> np.ndarray:
    ok = (designs["status"] == "ok").to_numpy().copy()
    for col, lo, hi in g.constraints:
        v = designs[col].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            ok &= np.isfinite(v) & (v >= (lo if lo is not None else -np.inf)) & (v <= (hi if hi is not None else np.inf))
    if g.objectives:
        ok &= np.isfinite(costs_of(designs, g)).all(axis=1)
    return ok


def non_dominated(costs: np.ndarray) -> np.ndarray:
    """Mask of the Pareto-optimal rows (all objectives minimised).

    Written by hand: none of the installed libraries (numpy, scipy, scikit-learn, pandas) offers a
    non-dominated sort. Cull algorithm: take a surviving point, drop every point it dominates
    (<= in all objectives and < in one; equal points do not dominate each other), repeat. Cost is
    O(n x front size); points are visited in order of their objective sum, so dominant points come
    early and cull the most."""
    n = len(costs)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(costs.sum(axis=1), kind="stable")
    c = costs[order]
    alive = np.arange(n)                  # positions in c of the points not yet dominated
    i = 0
    while i < len(alive):
        here = alive[i]
        p = c[here]
        rest = c[alive]
        dominated = np.all(rest >= p, axis=1) & np.any(rest > p, axis=1)
        alive = alive[~dominated]
        i = int(np.searchsorted(alive, here)) + 1
    mask = np.zeros(n, dtype=bool)
    mask[order[alive]] = True
    return mask


def front_ranks(costs: np.ndarray, needed: int | None = None) -> np.ndarray:
    """Pareto rank of each row (1 = non-dominated, 2 = non-dominated once front 1 is removed, ...),
    peeling fronts until `needed` rows are ranked; unranked rows get 0."""
    ranks = np.zeros(len(costs), dtype=int)
    remaining = np.arange(len(costs))
    rank = 0
    target = len(costs) if needed is None else min(needed, len(costs))
    while len(remaining) and (ranks > 0).sum() < target:
        rank += 1
        front = non_dominated(costs[remaining])
        ranks[remaining[front]] = rank
        remaining = remaining[~front]
    return ranks


@dataclass
class Ranking:
    designs: pd.DataFrame          # every design, with feasible, pareto (front 1) and rank columns
    goals: Goals
    top: pd.DataFrame              # the chosen designs in order


def rank_designs(designs: pd.DataFrame, g: Goals, top: int) -> Ranking:
    designs = designs.copy()
    feasible = feasible_mask(designs, g)
    designs["feasible"] = feasible
    designs["pareto_rank"] = 0
    idx = np.flatnonzero(feasible)
    if g.objectives and len(idx):
        # only the fronts needed for the top designs are peeled (front 1 always: pareto.csv)
        ranks = front_ranks(costs_of(designs, g)[idx], max(top, 1))
        designs.loc[designs.index[idx], "pareto_rank"] = ranks
    designs["pareto"] = designs["pareto_rank"] == 1
    chosen = designs[designs["pareto_rank"] > 0]
    if g.objectives:
        first, sense = g.objectives[0]
        chosen = chosen.sort_values(["pareto_rank", first], ascending=[True, sense == "minimize"], kind="stable")
    return Ranking(designs, g, chosen.head(top))


# ---------------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------------
def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80] or "design"


def write_top(space: Space, matrix: np.ndarray, ranking: Ranking, folder: IncrementalFolder) -> list[Path]:
    """top/NNN_<name>.yaml: each a formulation file of a top design (an earlier run's top files,
    listed in the folder's manifest, are replaced or removed when the folder is finished)."""
    from nanocloak.spec.formulation import from_dict

    paths = []
    shown = [c for c, _ in ranking.goals.objectives] + [c for c, _, _ in ranking.goals.constraints]
    for k, (_, row) in enumerate(ranking.top.iterrows(), start=1):
        design_id = int(row["design_id"])
        f = from_dict(space.formulation_dict(matrix[design_id], design_id))
        values = ", ".join(f"{c} = {float(row[c]):.4g}" for c in dict.fromkeys(shown))
        header = (f"# design {design_id} of {space.source}: rank {k}, Pareto front {int(row['pareto_rank'])}\n"
                  + (f"# {values}\n" if values else ""))
        path = folder.target(f"top/{k:03d}_{slug(f.name)}.yaml")
        _atomic_text(path, header + f.to_yaml())
        paths.append(path)
    return paths


def write_pareto_csv(ranking: Ranking, folder: IncrementalFolder) -> Path:
    front = ranking.designs[ranking.designs["pareto"]]
    if ranking.goals.objectives:
        first, sense = ranking.goals.objectives[0]
        front = front.sort_values(first, ascending=sense == "minimize", kind="stable")
    path = folder.target("pareto.csv")
    with atomic_file(path) as tmp:
        front.drop(columns=["error"], errors="ignore").to_csv(tmp, index=False)
    return path


def _atomic_text(path: Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def pareto_figure(ranking: Ranking, space: Space, path: Path) -> Path | None:
    """Scatter of the first two objectives (or the objective against the first numeric varied
    field): infeasible grey, feasible blue, the front red."""
    from nanocloak.io.figures import pyplot as _plt

    g, d = ranking.goals, ranking.designs
    if not g.objectives:
        return None
    numeric = [c for c, kind in space.column_specs() if kind == "float"]
    if len(g.objectives) >= 2:
        (xc, xs), (yc, ys) = g.objectives[:2]
    elif numeric:
        (xc, xs), (yc, ys) = (numeric[0], ""), g.objectives[0]
    else:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    x, y = d[xc].to_numpy(dtype=float), d[yc].to_numpy(dtype=float)
    feas, front = d["feasible"].to_numpy(), d["pareto"].to_numpy()
    small = 4 if len(d) > 2000 else 12
    ax.scatter(x[~feas], y[~feas], s=small, c="0.75", label="infeasible", rasterized=True, lw=0)
    ax.scatter(x[feas & ~front], y[feas & ~front], s=small, c="tab:blue", alpha=0.5, label="feasible", rasterized=True, lw=0)
    order = np.argsort(x[front])
    ax.plot(x[front][order], y[front][order], "o-", color="tab:red", ms=5, lw=1, label="Pareto front")
    ax.set_xlabel(f"{xc} ({xs})" if xs else xc)
    ax.set_ylabel(f"{yc} ({ys})")
    ax.set_title(f"{len(d)} designs, {int(feas.sum())} feasible, {int(front.sum())} on the front")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: lines drawn for context in the parallel-coordinates figure (more would be an unreadable blot)
PARALLEL_BACKGROUND_LINES = 300


def parallel_figure(ranking: Ranking, space: Space, path: Path) -> Path | None:
    """Parallel coordinates: varied fields and objectives, each axis scaled to its observed range;
    a sample of feasible designs in grey, the top designs in colour."""
    from nanocloak.io.figures import pyplot as _plt

    d = ranking.designs
    hybrid_labels = {f.path for f in space.fields if f.kind == "hybrid"}     # their fractions are axes
    axes_cols = [c for c, _ in space.column_specs() if c not in hybrid_labels] + [c for c, _ in ranking.goals.objectives]
    axes_cols = list(dict.fromkeys(axes_cols))
    if len(axes_cols) < 2 or d.empty:
        return None
    scaled, ticks = {}, {}
    for c in axes_cols:
        col = d[c]
        if pd.api.types.is_numeric_dtype(col):
            v = col.to_numpy(dtype=float)
            lo, hi = np.nanmin(v) if np.isfinite(v).any() else 0.0, np.nanmax(v) if np.isfinite(v).any() else 1.0
            scaled[c] = (v - lo) / (hi - lo) if hi > lo else np.full_like(v, 0.5)
            ticks[c] = (f"{lo:.3g}", f"{hi:.3g}")
        else:
            cats = sorted(col.dropna().astype(str).unique())
            pos = {k: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, k in enumerate(cats)}
            scaled[c] = col.astype(str).map(pos).to_numpy(dtype=float)
            ticks[c] = (cats[0][:18], cats[-1][:18]) if cats else ("", "")
    m = np.column_stack([scaled[c] for c in axes_cols])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6.4, 1.6 * len(axes_cols)), 4.8))
    xs = np.arange(len(axes_cols))
    feas = np.flatnonzero(d["feasible"].to_numpy())
    rng = np.random.default_rng(0)
    for i in rng.choice(feas, size=min(len(feas), PARALLEL_BACKGROUND_LINES), replace=False) if len(feas) else []:
        ax.plot(xs, m[i], color="0.7", lw=0.5, alpha=0.5)
    top_pos = [d.index.get_loc(i) for i in ranking.top.index]
    cmap = plt.get_cmap("viridis")
    for k, i in enumerate(top_pos):
        ax.plot(xs, m[i], color=cmap(k / max(1, len(top_pos) - 1)), lw=1.8,
                label=f"#{k + 1} design {int(d['design_id'].iloc[i])}" if k < 10 else None)
    ax.set_xticks(xs)
    ax.set_xticklabels([c.replace(".", ".\n") for c in axes_cols], fontsize=7)
    for x, c in zip(xs, axes_cols):
        ax.axvline(x, color="k", lw=0.6)
        ax.annotate(ticks[c][0], (x, 0), xytext=(2, -2), textcoords="offset points", fontsize=6, va="top")
        ax.annotate(ticks[c][1], (x, 1), xytext=(2, 2), textcoords="offset points", fontsize=6, va="bottom")
    ax.set_yticks([])
    ax.set_ylim(-0.08, 1.08)
    ax.set_title("top designs (colour) among feasible designs (grey); axes scaled to their range")
    if top_pos:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# the whole screen
# ---------------------------------------------------------------------------------------------
@dataclass
class ScreenOutcome:
    out_dir: Path
    n_designs: int
    n_failed: int
    ranking: Ranking
    run: Any                       # distributed.RunReport
    files: list[Path]
    failure_reasons: pd.Series     # most common reasons of failed designs


FULL_CHECK_LIMIT = 100_000   # designs validated one by one before a screen (~85 us each); beyond, a sample


def check_designs(space: Space, matrix: np.ndarray, limit: int = FULL_CHECK_LIMIT, seed: int = 0) -> tuple[int, int, str]:
    """Validate designs before simulating any: (checked, invalid, first reason). All designs when
    there are at most `limit`, else a random sample of `limit` plus a scan for the first valid one.
    Raises NanocloakError (naming the first reason) when no design is valid."""
    from nanocloak.spec.formulation import from_dict

    def reason(i: int) -> str | None:
        try:
            from_dict(space.formulation_dict(matrix[i], i))
            return None
        except NanocloakError as exc:
            return str(exc)

    n = len(matrix)
    order = np.arange(n) if n <= limit else np.random.default_rng(seed).choice(n, limit, replace=False)
    reasons = [r for r in (reason(int(i)) for i in order) if r is not None]
    if len(reasons) == len(order) and (n <= limit or all(reason(i) is not None for i in range(n))):
        raise NanocloakError(f"{space.source}: none of the {n} designs is a valid formulation; the first fails with: "
                             f"{reasons[0] if reasons else '?'}")
    return len(order), len(reasons), reasons[0] if reasons else ""


def run_screen(space: Space, out_dir: Path, *, chunk_size: int | None = None, scheduler: str | None = None,
               workers: int | None = None, serial: bool = False, client=None,
               on_progress: Callable[[int, int], None] | None = None,
               on_chunk: Callable[[int, int], None] | None = None, force: bool = False) -> ScreenOutcome:
    """Sample, simulate (resumable, chunked), rank and write every output of a screen."""
    from nanocloak.screen import distributed

    names = base_metric_names(space)
    g = goals(space, names)            # unknown metrics fail here, before any simulation
    matrix = space.design_matrix()
    check_designs(space, matrix)       # no design valid: stop here, before any folder or simulation
    folder = IncrementalFolder(out_dir, "screen run", force)
    report = distributed.run_chunks(space, matrix, out_dir, chunk_size=chunk_size, scheduler=scheduler,
                                    workers=workers, serial=serial, client=client, kind="screen",
                                    on_progress=on_progress, on_chunk=on_chunk)
    rows = distributed.read_results(out_dir)
    designs = design_table(rows, space)
    for col in [c for c, _ in g.objectives] + [c for c, _, _ in g.constraints]:
        if col not in designs:            # no design reported it (e.g. all failed)
            designs[col] = np.nan
    ranking = rank_designs(designs, g, space.top)
    folder.keep(distributed.written_files(out_dir))
    files = [write_pareto_csv(ranking, folder)] if g.objectives else []
    files += write_top(space, matrix, ranking, folder)
    for fig in (pareto_figure(ranking, space, folder.target("pareto.png")),
                parallel_figure(ranking, space, folder.target("parallel_coordinates.png"))):
        if fig is not None:
            files.append(fig)
    folder.finish()
    failed = designs[designs["status"] != "ok"]
    reasons = failed["error"].fillna("").value_counts().head(3)
    return ScreenOutcome(out_dir, len(designs), len(failed), ranking, report, files, reasons)
