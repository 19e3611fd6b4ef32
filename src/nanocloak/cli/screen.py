"""CLI: `nanocloak screen run SPACE.yaml`, `nanocloak screen query DIR SQL`, `nanocloak sensitivity SPACE.yaml`
(docs/screening.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

import typer

SCREEN_HELP = "Screen a design space: simulate many designs (Dask, resumable), Pareto front, top designs, SQL."


def register(app: typer.Typer) -> None:
    screen_app = typer.Typer(no_args_is_help=True, help=SCREEN_HELP)
    screen_app.command("run")(screen_run)
    screen_app.command("query")(screen_query)
    app.add_typer(screen_app, name="screen")
    app.command("sensitivity")(sensitivity)


def _default_out(space: Path, suffix: str) -> Path:
    return Path(f"{space.stem}_{suffix}")


SOME_DESIGNS_FAILED = 3   # exit status of a screen that finished but lost some designs (2: bad input, 1: a bug)


def _runner_options(serial: bool, workers: Optional[int], scheduler: Optional[str]) -> None:
    from nanocloak.errors import NanocloakError

    if workers is not None and workers < 1:
        raise NanocloakError(f"--workers must be >= 1 (got {workers})")
    if serial and scheduler:
        raise NanocloakError("--serial and --scheduler exclude each other")


def screen_run(
    space_file: Path = typer.Argument(..., metavar="SPACE", help="space YAML (base, vary, sampling, objectives ...)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="output directory (default: SPACE-stem_screen); "
                                           "rerunning into it resumes"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of a running Dask scheduler "
                                            "(default: a local cluster)"),
    workers: Optional[int] = typer.Option(None, "--workers", help="local Dask worker processes (default: CPU count)"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="designs per task and per Parquet file"),
    samples: Optional[int] = typer.Option(None, "--samples", help="replace sampling.n (lhs, sobol)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="replace sampling.seed"),
    serial: bool = typer.Option(False, "--serial", help="simulate in this process (no Dask)"),
    force: bool = typer.Option(False, "--force", help="write into a non-empty folder nanocloak did not write "
                               "(nothing already there is deleted or replaced)"),
    fmt: str = typer.Option("table", "--format", help="the top designs as a table, csv or json, on stdout"),
    json_flag: bool = typer.Option(False, "--json", help="the same as --format json"),
):
    """Simulate every design of a space (resumable), then rank: pareto.csv, top/, figures, summary."""
    from nanocloak.cli.common import err, guard

    def run():
        from nanocloak.cli.common import chosen_format
        from nanocloak.screen.screening import run_screen
        from nanocloak.screen.space import load_space

        shown = chosen_format(fmt, json_flag)
        _runner_options(serial, workers, scheduler)
        space = load_space(space_file)
        if samples is not None or seed is not None:
            space = space.with_sampling(samples, seed)
        out = out_dir or _default_out(space_file, "screen")
        with _bar("simulating designs") as progress:
            outcome = run_screen(space, out, chunk_size=chunk_size, scheduler=scheduler, workers=workers,
                                 serial=serial, on_progress=progress, force=force)
        r = outcome.run
        rate = r.designs_simulated / r.seconds if r.computed else 0
        err.print(f"{r.n_designs} designs in {r.n_chunks} chunks: {len(r.computed)} simulated now "
                  f"({rate:,.0f} designs/s), {r.skipped} already on disk", highlight=False)
        if outcome.n_failed:
            err.print(f"{outcome.n_failed} design(s) failed; most common reasons:", highlight=False)
            for reason, count in outcome.failure_reasons.items():
                err.print(f"  {count} x {reason}", highlight=False, markup=False)
        _print_top(outcome, space, shown)
        err.print(f"wrote {out}/ (results/, manifest.json, {', '.join(p.name for p in outcome.files if p.parent == out)}"
                  f"{', top/' if any(p.parent.name == 'top' for p in outcome.files) else ''})", highlight=False)
        if outcome.n_failed:
            err.print(f"exit status {SOME_DESIGNS_FAILED}: {outcome.n_failed} of {outcome.n_designs} designs failed "
                      "(their rows in results/ carry the reason)", highlight=False)
            raise typer.Exit(SOME_DESIGNS_FAILED)

    guard(run)


@contextlib.contextmanager
def _bar(label: str):
    """A rich progress bar on stderr; yields the callback fed with (done, total)."""
    from nanocloak.cli.common import progress

    with progress(2, label) as bar:
        task = None

        def update(done: int, total: int) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task(label, total=total)
            bar.update(task, completed=done)

        yield update


def _print_top(outcome, space, fmt: str = "table") -> None:
    from nanocloak.cli.common import emit_table, err

    ranking = outcome.ranking
    d = ranking.designs
    err.print(f"{int(d['feasible'].sum())} of {len(d)} designs feasible, {int(d['pareto'].sum())} on the Pareto front",
              highlight=False)
    if ranking.top.empty:
        if not ranking.goals.objectives:
            err.print("no objectives in the space: nothing ranked (query the results with `nanocloak screen query`)")
        return
    varied = [c for c, _ in space.column_specs() if not c.endswith("_fraction")]
    goal_cols = list(dict.fromkeys([c for c, _ in ranking.goals.objectives] + [c for c, _, _ in ranking.goals.constraints]))
    top = ranking.top.reset_index(drop=True)
    table = top[["design_id", *varied, *goal_cols, "pareto_rank"]].rename(columns={"pareto_rank": "front"})
    table.insert(0, "rank", range(1, len(table) + 1))
    emit_table(table, fmt, f"top designs of {space.source}")


def screen_query(
    out_dir: Path = typer.Argument(..., metavar="DIR", help="a screen's output directory"),
    sql: str = typer.Argument(..., help='SQL over the view `results`, e.g. "SELECT design_id, tumor_pct_id_24h '
                                        'FROM results ORDER BY 2 DESC LIMIT 5"'),
    csv: bool = typer.Option(False, "--csv", help="the same as --format csv"),
    fmt: str = typer.Option("table", "--format", help="table, csv or json, on stdout"),
    json_flag: bool = typer.Option(False, "--json", help="the same as --format json"),
):
    """Query a screen's Parquet results with DuckDB (table `results`: one row per design x animal)."""
    from nanocloak.cli.common import chosen_format, emit_table, guard

    def run():
        from nanocloak.screen.distributed import query

        shown = "csv" if csv else chosen_format(fmt, json_flag)
        df = query(out_dir, sql)
        emit_table(df, shown, f"{len(df)} row(s)")

    guard(run)


def sensitivity(
    space_file: Path = typer.Argument(..., metavar="SPACE", help="space YAML (its base and varied fields)"),
    method: str = typer.Option("morris", "--method", help="morris (elementary effects) or sobol (variance indices)"),
    metric: list[str] = typer.Option([], "--metric", help="metric to analyse (repeatable; default: the objectives)"),
    n: int = typer.Option(16, "--n", help="Morris: trajectories r (r(D+1) runs); Sobol: N, a power of 2 (N(2D+2) runs)"),
    levels: int = typer.Option(4, "--levels", help="Morris grid levels p (even)"),
    seed: int = typer.Option(0, "--seed"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="output directory (default: SPACE-stem_sensitivity_METHOD)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of a running Dask scheduler"),
    workers: Optional[int] = typer.Option(None, "--workers", help="local Dask worker processes (default: CPU count)"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size"),
    serial: bool = typer.Option(False, "--serial", help="simulate in this process (no Dask)"),
    force: bool = typer.Option(False, "--force", help="write into a non-empty folder nanocloak did not write "
                               "(nothing already there is deleted or replaced)"),
):
    """Morris or Sobol' sensitivity of metrics to the space's fields (SALib): table, CSV, bar figure."""
    from nanocloak.cli.common import err, guard, out

    def run():
        from rich.table import Table

        from nanocloak.screen.sensitivity import run_sensitivity
        from nanocloak.screen.space import load_space

        _runner_options(serial, workers, scheduler)
        space = load_space(space_file)
        m = method.strip().lower()
        target = out_dir or _default_out(space_file, f"sensitivity_{m}")

        def announce(p):
            for note in p.notes:
                err.print(f"note: {note}", highlight=False)
            err.print(f"{m}: {len(p.codes)} runs over {p.problem['num_vars']} field(s)", highlight=False)

        with _bar("simulating") as progress:
            res = run_sensitivity(space, m, target, metrics=list(metric), n=n, levels=levels, seed=seed,
                                  chunk_size=chunk_size, scheduler=scheduler, workers=workers, serial=serial,
                                  on_progress=progress, on_plan=announce, force=force)
        cols = [c for c in res.table.columns if c not in ("metric", "field")]
        t = Table(title=f"{m} sensitivity ({res.n_runs} runs)")
        for c in ["metric", "field", *cols]:
            t.add_column(c, justify="left" if c in ("metric", "field") else "right", overflow="fold")
        for row in res.table.itertuples(index=False):
            d = row._asdict()
            t.add_row(d["metric"], d["field"], *[f"{d[c]:.4g}" for c in cols])
        out.print(t)
        err.print(f"wrote {target}/ (sensitivity.csv, sensitivity.png, results/)", highlight=False)

    guard(run)
