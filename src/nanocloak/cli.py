"""The `nanocloak` command line (typer + rich). Results go to stdout, progress and messages to stderr;
a user error exits with status 2 and one clear message, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import NanocloakError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Design and simulate cell-membrane-cloaked nanomedicines.")
calibrate_app = typer.Typer(no_args_is_help=True, help="Re-run the documented calibrations (docs/calibration.md).")
app.add_typer(calibrate_app, name="calibrate")
out = Console()
err = Console(stderr=True)

LIBRARY_KINDS = ("materials", "membranes", "ligands", "drugs", "cell-lines", "species", "coating-methods",
                 "release-models", "hosts")


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _guard(fn: Callable[[], None]) -> None:
    """Run a command body, turning user errors into one message and exit status 2."""
    try:
        fn()
    except NanocloakError as exc:
        _fail(_escape(str(exc)))
    except (OSError, ValueError, KeyError) as exc:  # unreadable paths, bad numbers passed as options
        _fail(_escape(f"{type(exc).__name__}: {exc}"))


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def _progress(total: int, description: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                 console=err, transient=True, disable=total < 2)
    return p


@app.command()
def simulate(
    file: Path = typer.Argument(..., help="formulation YAML"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON on stdout"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write time courses, metrics, figures, report, parameters here"),
):
    """Simulate a formulation: where the particles go over time."""

    def run():
        from . import load, simulate as sim
        from .report import write_outputs

        f = load(file)
        r = sim(f)
        if out_dir is not None:
            path = write_outputs(r, out_dir)
            err.print(f"wrote {path}/ (report.html, timecourse.csv, metrics.json, parameters.csv, figures)")
        if json_out:
            sys.stdout.write(r.to_json() + "\n")
        elif out_dir is None:
            _print_summary(r)

    _guard(run)


def _print_summary(r) -> None:
    from .report import summary_text

    for line in summary_text(r):
        out.print(line, highlight=False)
    t = Table(title="organs at 24 h", show_lines=False)
    t.add_column("organ")
    t.add_column("%ID", justify="right")
    t.add_column("%ID/g", justify="right")
    per_g = r.metrics.get("organ_pct_id_per_g_24h", {})
    for k, v in r.metrics.get("organ_pct_id_24h", {}).items():
        t.add_row(k, f"{v:.3g}", f"{per_g[k]:.3g}" if k in per_g else "")
    out.print(t)


@app.command()
def params(file: Path = typer.Argument(..., help="formulation YAML"),
           csv: bool = typer.Option(False, "--csv", help="CSV on stdout instead of a table")):
    """List every resolved model parameter (names accepted by model.overrides) with value, unit, source."""

    def run():
        from . import load
        from .parameters import resolve

        table = resolve(load(file)).params.table()
        if csv:
            sys.stdout.write(table.to_csv(index=False))
            return
        t = Table(title=f"parameters of {file} (use these names in model.overrides)")
        for col in ("name", "value", "unit", "source"):
            t.add_column(col, overflow="fold")
        for row in table.itertuples():
            t.add_row(row.name, f"{row.value:.6g}", row.unit, row.source)
        out.print(t)

    _guard(run)


@app.command()
def compare(files: list[Path] = typer.Argument(..., help="two or more formulation YAMLs"),
            out_dir: Optional[Path] = typer.Option(None, "--out", help="write comparison.csv, figures and comparison.html")):
    """Put several designs side by side (table and overlaid curves)."""

    def run():
        from . import load, simulate_many
        from .report import comparison_table, write_comparison

        forms = [load(p) for p in files]
        with _progress(len(forms), "simulating") as prog:
            task = prog.add_task("simulating", total=len(forms))
            results = simulate_many(forms, on_progress=lambda n: prog.advance(task, n))
        table = comparison_table(results)
        t = Table(title="comparison")
        t.add_column("metric")
        for r in results:
            t.add_column(r.name, justify="right")
        for col in table.columns[1:]:
            t.add_row(col, *[("" if v is None or v != v else f"{v:.3g}") for v in table[col]])
        out.print(t)
        if out_dir is not None:
            path = write_comparison(results, out_dir)
            err.print(f"wrote {path}/ (comparison.csv, comparison.html, figures)")

    _guard(run)


@app.command()
def library(kind: str = typer.Argument(..., help=f"one of: {', '.join(LIBRARY_KINDS)}")):
    """List a library (materials, membranes, drugs, release models ...)."""

    def run():
        from .library_listing import listing

        k = kind.strip().lower().replace("_", "-")
        if k not in LIBRARY_KINDS:
            from .errors import did_you_mean
            raise NanocloakError(f"unknown library {kind!r}{did_you_mean(k, list(LIBRARY_KINDS))}; "
                                 f"kinds: {', '.join(LIBRARY_KINDS)}")
        title, columns, rows = listing(k)
        t = Table(title=title)
        for c in columns:
            t.add_column(c, overflow="fold")
        for row in rows:
            t.add_row(*[str(v) for v in row])
        out.print(t)

    _guard(run)


@app.command("export-sbml")
def export_sbml(file: Path = typer.Argument(..., help="formulation YAML"),
                output: Optional[Path] = typer.Option(None, "-o", "--output", help="SBML file (default: stdout)")):
    """Export the formulation's particle model as SBML (COPASI, tellurium, libRoadRunner)."""

    def run():
        from . import load
        from .sbml import to_sbml

        text = to_sbml(load(file))
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
            err.print(f"wrote {output}")

    _guard(run)


@app.command()
def validate(write: Optional[Path] = typer.Option(None, "--write", help="write the report as Markdown (docs/validation.md)")):
    """Compare the model with every literature value it is held to (pass/fail)."""

    def run():
        from .validation import render_markdown, run_checks

        with _progress(2, "validating") as prog:
            task = prog.add_task("literature checks", total=None)
            checks = run_checks(on_progress=lambda n: prog.advance(task, n))
        t = Table(title="validation against the literature")
        for c in ("check", "source", "measured", "model", "result"):
            t.add_column(c, overflow="fold")
        for c in checks:
            t.add_row(c.name, c.source, c.measured, c.model_text, "[green]pass[/]" if c.passed else "[red]FAIL[/]")
        out.print(t)
        if write is not None:
            write.parent.mkdir(parents=True, exist_ok=True)
            write.write_text(render_markdown(checks), encoding="utf-8")
            err.print(f"wrote {write}")
        if not all(c.passed for c in checks):
            raise typer.Exit(1)

    _guard(run)


@calibrate_app.command("tumor")
def calibrate_tumor(ntd: Optional[Path] = typer.Option(None, help="Nano-Tumor Database directory (default ../shared/data/ntd)")):
    """Tumor defaults from the NTD per-data-set fits (data/tumor.yaml)."""

    def run():
        from .calibrate import write_tumor_table

        err.print(f"wrote {write_tumor_table(ntd)}")

    _guard(run)


@calibrate_app.command("particle")
def calibrate_particle():
    """Phagocytic-uptake scale and RBC factor from Hu 2011's half-lives (data/calibration.yaml)."""

    def run():
        from .calibrate import fit_particle_constants, write_particle_calibration

        with err.status("fitting to Hu 2011 half-lives"):
            values = fit_particle_constants()
        path = write_particle_calibration(values)
        for k, v in values.items():
            out.print(f"{k} = {v:.6g}")
        err.print(f"wrote {path}")

    _guard(run)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
