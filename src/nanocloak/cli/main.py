"""The `nanocloak` command line (typer + rich). Results go to stdout, progress and messages to stderr;
a user error exits with status 2 and one clear message, never a traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from nanocloak.errors import NanocloakError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Design and simulate cell-membrane-cloaked nanomedicines.")
calibrate_app = typer.Typer(no_args_is_help=True, help="Re-run the documented calibrations (docs/calibration.md).")
app.add_typer(calibrate_app, name="calibrate")
release_app = typer.Typer(no_args_is_help=True, help="Release kinetics: fit lab data, compare profiles, predict release.")
app.add_typer(release_app, name="release")
out = Console()
err = Console(stderr=True)

LIBRARY_KINDS = ("materials", "membranes", "ligands", "drugs", "cell-lines", "species", "coating-methods",
                 "release-models", "hosts")


def force_option():
    return typer.Option(False, "--force", help="write into a non-empty folder (or over a file) that nanocloak did not "
                        "write; nothing already there is deleted or replaced")


def print_json(obj) -> None:
    """One JSON document on stdout (dataclasses as objects, NaN/inf as null, numpy scalars as numbers)."""
    import dataclasses
    import json
    import math

    def plain(x):
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if hasattr(x, "item") and not isinstance(x, (str, bytes)):
            x = x.item()
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    sys.stdout.write(json.dumps(plain(obj), indent=2, default=str) + "\n")


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
    except typer.Exit:
        raise
    except Exception as exc:  # a bug, not the user's input: say so, without a traceback wall
        if os.environ.get("NANOCLOAK_DEBUG"):
            raise
        _fail(_escape(f"internal error ({type(exc).__name__}: {exc}); this is a bug in nanocloak, please report it "
                      "with the input file (NANOCLOAK_DEBUG=1 shows the traceback)"), code=1)


FORMATS = ("table", "csv", "json")


def format_option(default: str = "table"):
    return typer.Option(default, "--format", help="table (folded to the terminal width), csv or json, on stdout")


def json_option():
    return typer.Option(False, "--json", help="the same as --format json")


def chosen_format(fmt: str, json_flag: bool = False) -> str:
    """The output format asked for (`--json` is `--format json`); a clear error for anything else."""
    if json_flag:
        return "json"
    f = fmt.strip().lower()
    if f not in FORMATS:
        from nanocloak.errors import did_you_mean

        raise NanocloakError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}{did_you_mean(f, list(FORMATS))}")
    return f


LONG_TEXT_COLUMNS = ("label", "description", "equation", "source", "params (95% CI)", "note")


def emit_table(frame, fmt: str, title: str = "", justify_numbers: bool = True) -> None:
    """A pandas table on stdout: JSON records, CSV, or a rich table that fits the terminal. A table
    too wide for the console first drops its long free-text columns (said in a note), then falls
    back to one small field/value block per row."""
    import json
    import math

    if fmt == "json":
        records = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                   for row in frame.to_dict(orient="records")]
        sys.stdout.write(json.dumps(records, indent=2, default=str) + "\n")
        return
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False))
        return
    table = _rich_table(frame, title, justify_numbers)
    if _natural_width(table) <= out.width:
        out.print(table)
        return
    dropped = [c for c in frame.columns if c in LONG_TEXT_COLUMNS]
    if dropped:
        narrow = _rich_table(frame.drop(columns=dropped), title, justify_numbers)
        if _natural_width(narrow) <= out.width:
            out.print(narrow)
            err.print(f"({', '.join(dropped)} left out at this width; --format csv or json shows every column)",
                      highlight=False, markup=False)
            return
    _emit_records(frame, title)


def _natural_width(table: Table) -> int:
    """The table's width with no cell folded (rich's measure caps at the console width otherwise)."""
    from rich.measure import Measurement

    title, table.title = table.title, None    # a long title wraps; it must not force the block layout
    try:
        return Measurement.get(out, out.options.update_width(100_000), table).maximum
    finally:
        table.title = title


def _rich_table(frame, title: str, justify_numbers: bool) -> Table:
    table = Table(title=title or None)
    for col in frame.columns:
        numeric = justify_numbers and frame[col].dtype.kind in "fiu"
        table.add_column(str(col), justify="right" if numeric else "left", overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*[_escape(format_cell(v)) for v in row])
    return table


def _emit_records(frame, title: str) -> None:
    """Rows as blocks of `field  value` lines: readable at 80 columns whatever the column count."""
    if title:
        out.print(title, highlight=False, markup=False)
    first = frame.columns[0]
    for row in frame.to_dict(orient="records"):
        out.print(f"\n{first}: {format_cell(row[first])}", highlight=False, markup=False, soft_wrap=True)
        block = Table(show_header=False, box=None, padding=(0, 1, 0, 2))
        block.add_column(overflow="fold", style="dim")
        block.add_column(overflow="fold")
        for k, v in list(row.items())[1:]:
            block.add_row(str(k), _escape(format_cell(v)))
        out.print(block)


def format_cell(value) -> str:
    """A table cell: floats to 4 significant digits, missing blank, anything else as text."""
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value)


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


class LineProgress:
    """Progress for a stderr that is not a terminal (a pipe, a log file, CI): one plain line every
    few seconds with done/total, rate and time left, and a last line at the end. rich's live bar
    draws nothing there, so long runs looked hung; this keeps rich's add_task/advance/update calls."""

    EVERY_S = 5.0

    def __init__(self, console: Console, every_s: float = EVERY_S):
        self.console, self.every_s = console, every_s
        self.tasks: dict[int, dict] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:  # a closing line only for runs long enough to have reported progress
            for task in self.tasks.values():
                if task["printed"] is not None and task["done"] != task["printed"]:
                    self._line(task)

    def add_task(self, description: str, total: float | None = None, **_) -> int:
        import time

        key = len(self.tasks)
        self.tasks[key] = {"description": description, "total": total, "done": 0.0, "printed": None,
                           "start": time.monotonic(), "last": time.monotonic()}
        return key

    def advance(self, key: int, n: float = 1) -> None:
        self.update(key, completed=self.tasks[key]["done"] + n)

    def update(self, key: int, completed: float | None = None, description: str | None = None,
               total: float | None = None, **_) -> None:
        import time

        task = self.tasks[key]
        if completed is not None:
            task["done"] = float(completed)
        if description is not None:
            task["description"] = description
        if total is not None:
            task["total"] = total
        now = time.monotonic()
        if now - task["last"] >= self.every_s:
            task["last"] = now
            self._line(task)

    def _line(self, task: dict) -> None:
        import time

        elapsed = max(time.monotonic() - task["start"], 1e-9)
        rate = task["done"] / elapsed
        total = task["total"]
        text = f"{task['description']}: {task['done']:.0f}" + (f"/{total:.0f}" if total else "")
        text += f", {rate:.3g}/s"
        if total and rate > 0:
            text += f", about {max(total - task['done'], 0) / rate:.0f} s left"
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)
        task["printed"] = task["done"]


def _progress(total: int, description: str):
    """A live bar on a terminal; plain periodic lines when stderr is piped or logged."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if not err.is_terminal:
        return LineProgress(err)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=True, disable=total < 2)


@app.command()
def simulate(
    file: Path = typer.Argument(..., help="formulation YAML"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON on stdout"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write time courses, metrics, figures, report, parameters here"),
    force: bool = force_option(),
):
    """Simulate a formulation: where the particles go over time."""

    def run():
        from nanocloak import load, simulate as sim
        from nanocloak.io.output_dir import check_folder
        from nanocloak.io.report import write_outputs

        check_folder(out_dir, force)
        f = load(file)
        _print_warnings(f)
        r = sim(f)
        if out_dir is not None:
            path = write_outputs(r, out_dir, force)
            err.print(f"wrote {path}/ (report.html, timecourse.csv, metrics.json, parameters.csv, figures)")
        if json_out:
            sys.stdout.write(r.to_json() + "\n")
        elif out_dir is None:
            _print_summary(r)

    _guard(run)


def _print_warnings(f) -> None:
    from nanocloak.spec.formulation import plausibility_warnings

    for w in plausibility_warnings(f):
        err.print(f"warning: {w.path}: {w.message}", highlight=False, markup=False)


def _print_summary(r) -> None:
    from nanocloak.io.report import summary_text

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
           csv: bool = typer.Option(False, "--csv", help="the same as --format csv"),
           fmt: str = format_option(), json_flag: bool = json_option()):
    """List every resolved model parameter (names accepted by model.overrides) with value, unit, source."""

    def run():
        from nanocloak import load
        from nanocloak.model.parameters import resolve

        table = resolve(load(file)).params.table()
        f = "csv" if csv else chosen_format(fmt, json_flag)
        shown = table if f != "table" else table[["name", "value", "unit", "source"]]
        emit_table(shown, f, f"parameters of {file} (use these names in model.overrides)")

    _guard(run)


@app.command()
def compare(files: list[Path] = typer.Argument(..., help="two or more formulation YAMLs"),
            out_dir: Optional[Path] = typer.Option(None, "--out", help="write comparison.csv, figures and comparison.html"),
            force: bool = force_option(), fmt: str = format_option(), json_flag: bool = json_option()):
    """Put several designs side by side (table and overlaid curves)."""

    def run():
        from nanocloak import load, simulate_many
        from nanocloak.io.report import comparison_table, write_comparison

        from nanocloak.io.output_dir import check_folder

        check_folder(out_dir, force)
        forms = [load(p) for p in files]
        with _progress(len(forms), "simulating") as prog:
            task = prog.add_task("simulating", total=len(forms))
            results = simulate_many(forms, on_progress=lambda n: prog.advance(task, n))
        table = comparison_table(results)
        f = chosen_format(fmt, json_flag)
        if f == "table":
            t = Table(title="comparison")
            t.add_column("metric")
            for r in results:
                t.add_column(r.name, justify="right", overflow="fold")
            for col in table.columns[1:]:
                t.add_row(col, *[("" if v is None or v != v else f"{v:.3g}") for v in table[col]])
            out.print(t)
        else:
            emit_table(table, f)
        if out_dir is not None:
            path = write_comparison(results, out_dir, force)
            err.print(f"wrote {path}/ (comparison.csv, comparison.html, figures)")

    _guard(run)


@app.command()
def library(kind: str = typer.Argument(..., help=f"one of: {', '.join(LIBRARY_KINDS)}"),
            fmt: str = format_option(), json_flag: bool = json_option()):
    """List a library (materials, membranes, drugs, release models ...); --json: every key with its values and sources."""

    def run():
        import json

        import pandas as pd

        from nanocloak.library.listing import entries_json, listing

        k = kind.strip().lower().replace("_", "-")
        if k not in LIBRARY_KINDS:
            from nanocloak.errors import did_you_mean
            raise NanocloakError(f"unknown library {kind!r}{did_you_mean(k, list(LIBRARY_KINDS))}; "
                                 f"kinds: {', '.join(LIBRARY_KINDS)}")
        f = chosen_format(fmt, json_flag)
        if f == "json":
            sys.stdout.write(json.dumps(entries_json(k), indent=2, default=str) + "\n")
            return
        title, columns, rows = listing(k)
        emit_table(pd.DataFrame(rows, columns=columns), f, title, justify_numbers=False)

    _guard(run)


@app.command("export-sbml")
def export_sbml(file: Path = typer.Argument(..., help="formulation YAML"),
                output: Optional[Path] = typer.Option(None, "-o", "--output", help="SBML file (default: stdout)"),
                force: bool = force_option()):
    """Export the formulation's particle model as SBML (COPASI, tellurium, libRoadRunner)."""

    def run():
        from nanocloak import load
        from nanocloak.io.sbml import to_sbml

        from nanocloak.io.output_dir import GENERATED_MARK, write_generated_file

        text = to_sbml(load(file))
        if output is None:
            sys.stdout.write(text)
        else:
            marked = text.replace("?>", f"?>\n<!-- written by nanocloak export-sbml ({GENERATED_MARK}) -->", 1)
            write_generated_file(output, marked, force, "-o")
            err.print(f"wrote {output}")

    _guard(run)


@app.command()
def validate(write: Optional[Path] = typer.Option(None, "--write", help="write the scorecard as Markdown (docs/validation.md)"),
             force: bool = force_option()):
    """How far to trust the model: the evidence scorecard in sample (`nanocloak evidence score --loso` holds studies out)."""

    def run():
        from nanocloak.evidence import report
        from nanocloak.io.output_dir import check_file, write_generated_file

        check_file(write, force, "--write")
        result = report.run(loso=False)
        summary = result.to_dict()
        for key in report.SUMMARY_KEYS:
            out.print(f"{key}: {summary.get(key)}", highlight=False, markup=False)
        err.print("held-out (leave-one-study-out) numbers: nanocloak evidence score --loso", highlight=False)
        if write is not None:
            write_generated_file(write, report.markdown(result), force, "--write")
            err.print(f"wrote {write}")

    _guard(run)


CALIBRATE_OUT_HELP = ("write the table to this file (default: stdout); maintainers regenerate the package's default "
                      "by naming it, e.g. --out src/nanocloak/data/tumor.yaml")


def _emit_table(text: str, out_file: Optional[Path], force: bool) -> None:
    """A calibration table on stdout, or into --out (never over a file nanocloak did not write)."""
    if out_file is None:
        sys.stdout.write(text)
        return
    from nanocloak.io.output_dir import write_generated_file

    write_generated_file(out_file, text, force, "--out")
    err.print(f"wrote {out_file}")


@calibrate_app.command("tumor")
def calibrate_tumor(ntd: Optional[Path] = typer.Option(None, help="Nano-Tumor Database directory (default ../shared/data/ntd)"),
                    out_file: Optional[Path] = typer.Option(None, "--out", help=CALIBRATE_OUT_HELP),
                    force: bool = force_option()):
    """Tumor defaults from the NTD per-data-set fits (the table of data/tumor.yaml)."""

    def run():
        from nanocloak.inference.calibrate import tumor_table_yaml

        _emit_table(tumor_table_yaml(ntd), out_file, force)

    _guard(run)


@app.command()
def make(file: Path = typer.Argument(..., help="membrane-coated formulation YAML"),
         batch_mg: Optional[float] = typer.Option(None, "--batch-mg", help="core mass of the batch (default: one dose for the subject)"),
         out_dir: Optional[Path] = typer.Option(None, "--out", help="write batch_sheet.html"),
         force: bool = force_option(), json_flag: bool = json_option()):
    """Coating calculator: particles, membrane, donor blood or cells, method, expected QC."""

    def run():
        from nanocloak import load
        from nanocloak.lab.fabrication import batch_sheet_html, coating_plan

        f = load(file)
        plan = coating_plan(f, batch_mg)
        if out_dir is not None:
            from nanocloak.io.output_dir import output_folder

            with output_folder(out_dir, "make", force) as staged:
                (staged / "batch_sheet.html").write_text(batch_sheet_html(f, plan), encoding="utf-8")
            err.print(f"wrote {out_dir / 'batch_sheet.html'}")
        if json_flag:
            print_json(plan)
            return
        t = Table(title=f"making {f.name}")
        t.add_column("item")
        t.add_column("amount", overflow="fold")
        t.add_row("core", f"{plan.core_mg:.4g} mg {f.core.material} {f.core.diameter_nm:g} nm = {plan.particles:.3g} particles")
        t.add_row("core surface", f"{plan.core_surface_m2 * 1e4:.4g} cm2")
        t.add_row("method", f"{plan.method}: {plan.batches} batch(es), ~{plan.time_h:.2g} h; PDI ~{plan.pdi:.2f}")
        t.add_row("coverage", f"{plan.target_coverage:.0%} mean; {plan.coated_50_fraction:.0%} of particles >= 50% coated")
        t.add_row("membrane area", f"{plan.membrane_area_m2_geometric * 1e4:.4g} cm2 (geometric minimum)")
        for d in plan.donors:
            donor = (f"{d.blood_mL_protocol:.3g} mL blood (geometric minimum {d.blood_mL_geometric:.3g} mL)" if d.blood_mL_protocol is not None
                     else f"{d.cells_protocol:.3g} cells = {d.flasks_protocol:.3g} T-175 flasks" if d.flasks_protocol is not None
                     else f"{d.cells_protocol:.3g} cells/vesicles ({d.source})")
            t.add_row(f"{d.cell} ({d.fraction:.0%})", f"protein {d.protein_mg_protocol:.3g} mg protocol / {d.protein_mg_geometric:.3g} mg "
                      f"geometric; {donor}")
        t.add_row("expected QC", f"{plan.expected_diameter_nm:.0f} nm, {plan.expected_zeta_mV:.0f} mV, protein integrity "
                  f"{plan.protein_integrity:.0%}; markers {', '.join(plan.markers)}")
        out.print(t)

    _guard(run)


@app.command()
def qc(file: Path = typer.Argument(..., help="membrane-coated formulation YAML"),
       size_before_nm: float = typer.Option(..., "--size-before-nm", help="DLS diameter of the bare cores"),
       size_after_nm: float = typer.Option(..., "--size-after-nm", help="DLS diameter after coating"),
       zeta_before_mv: float = typer.Option(..., "--zeta-before-mV"),
       zeta_after_mv: float = typer.Option(..., "--zeta-after-mV"),
       pdi_after: Optional[float] = typer.Option(None, "--pdi-after"), json_flag: bool = json_option()):
    """Infer the coating coverage from measured DLS and zeta, with plain warnings."""

    def run():
        from nanocloak import load
        from nanocloak.lab.fabrication import infer_coverage

        f = load(file)
        if f.surface.kind != "membrane":
            raise NanocloakError("surface.kind: QC inference needs a membrane-coated formulation")
        r = infer_coverage(f, size_before_nm, size_after_nm, zeta_before_mv, zeta_after_mv, pdi_after)
        if json_flag:
            print_json(r)
            return
        fmt = lambda c: "n/a" if c is None else f"{c:.0%}"  # noqa: E731
        out.print(f"coverage: {fmt(r.coverage)} (from zeta {fmt(r.coverage_from_zeta)}, from size {fmt(r.coverage_from_size)})")
        for w in r.warnings:
            out.print(f"warning: {w}", highlight=False)
        if not r.warnings:
            out.print("no warnings: size and charge are consistent with a single, coated population")

    _guard(run)


@release_app.command("fit")
def release_fit(
    file: Path = typer.Argument(..., help="CSV or XLSX: time column (unit in header), cumulative % released (replicates or SD optional)"),
    models: Optional[str] = typer.Option(None, help="comma-separated model names (default: all)"),
    time_unit: Optional[str] = typer.Option(None, "--time-unit", help="h, min, s or d if the header does not say"),
    fraction: bool = typer.Option(False, "--fraction", help="values are fractions 0-1, not %"),
    top: int = typer.Option(10, help="rows shown"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write fits.csv, fit.png and the release block"),
    force: bool = force_option(),
    fmt: str = format_option(),
    json_flag: bool = json_option(),
):
    """Fit release models to lab data, rank by AIC and MSC (DDSolver-style)."""

    def run():
        from nanocloak.lab.release_fit import fit_all, fit_table, read_release_data

        data = read_release_data(file, time_unit, fraction)
        for w in data.warnings:
            err.print(f"warning: {w}", highlight=False, markup=False)
        chosen = [m.strip() for m in models.split(",")] if models else None
        fits, skipped = fit_all(data, chosen)
        table = fit_table(fits)
        shown = chosen_format(fmt, json_flag)
        if shown == "json":
            print_json({"fits": table.to_dict(orient="records"), "best": fits[0], "warnings": list(data.warnings)})
        elif shown == "csv":
            emit_table(table, "csv")
        else:
            t = Table(title=f"release fits of {file.name} (ranked by AIC; Korsmeyer-Peppas on <= 60% released)")
            for c in ("rank", "model", "params (95% CI)", "R2_adj", "AIC", "MSC"):
                t.add_column(c, overflow="fold")
            for row in table.head(top).itertuples():
                t.add_row(str(row.rank), row.model, row[3], f"{row.R2_adj:.4f}", f"{row.AIC:.2f}", f"{row.MSC:.2f}")
            out.print(t)
            out.print("best model, ready for the formulation file:\n" + fits[0].release_block(), highlight=False)
        if skipped:
            err.print(f"{len(skipped)} model(s) skipped (too few points or no convergence)")
        if out_dir is not None:
            from nanocloak.io.output_dir import output_folder

            with output_folder(out_dir, "release fit", force) as staged:
                table.to_csv(staged / "fits.csv", index=False)
                (staged / "release_block.yaml").write_text(fits[0].release_block(), encoding="utf-8")
                _release_figure(data, fits[:3], staged / "fit.png")
            err.print(f"wrote {out_dir}/ (fits.csv, fit.png, release_block.yaml)")

    _guard(run)


@release_app.command("compare")
def release_compare(
    reference: Path = typer.Argument(..., help="reference profile (CSV/XLSX)"),
    test: Path = typer.Argument(..., help="test profile, same time points"),
    time_unit: Optional[str] = typer.Option(None, "--time-unit"),
    fraction: bool = typer.Option(False, "--fraction"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write compare.png"),
    force: bool = force_option(),
    json_flag: bool = json_option(),
):
    """f1, f2, bootstrap f2 (with replicates) and the regulatory-style verdict."""

    def run():
        from nanocloak.lab.release_fit import compare, read_release_data

        ref, tst = read_release_data(reference, time_unit, fraction), read_release_data(test, time_unit, fraction)
        c = compare(ref, tst)
        if json_flag:
            print_json(c)
        else:
            _print_comparison(c)
        if out_dir is not None:
            from nanocloak.io.output_dir import output_folder

            with output_folder(out_dir, "release compare", force) as staged:
                _compare_figure(ref, tst, staged / "compare.png")
            err.print(f"wrote {out_dir / 'compare.png'}")

    _guard(run)


def _print_comparison(c) -> None:
    out.print(f"f1 = {c.f1:.2f}   f2 = {c.f2:.2f}   ({c.n_points} time points, up to the first above 85% in both)")
    if c.bootstrap_f2_ci90:
        out.print(f"bootstrap f2: median {c.bootstrap_f2_median:.2f}, 90% interval {c.bootstrap_f2_ci90[0]:.2f} - "
                  f"{c.bootstrap_f2_ci90[1]:.2f}")
    out.print(f"verdict: {c.verdict}")


@release_app.command("simulate")
def release_simulate(
    file: Path = typer.Argument(..., help="formulation YAML (its first payload's release law and triggers)"),
    ph: float = typer.Option(7.4, "--ph"),
    temperature_c: float = typer.Option(37.0, "--temperature-C"),
    laser: list[str] = typer.Option([], "--laser", help="at_h=1,duration_min=10 (repeatable): light on the sample"),
    ultrasound: list[str] = typer.Option([], "--ultrasound", help="at_h=1,duration_min=10 (repeatable)"),
    ros: float = typer.Option(1.0, "--ros", help="ROS level relative to normal tissue"),
    gsh: float = typer.Option(1.0, "--gsh", help="GSH level relative to normal tissue"),
    hours: float = typer.Option(72.0, "--hours"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write release.csv and release.png"),
    force: bool = force_option(),
    json_flag: bool = json_option(),
):
    """Predicted in vitro release (sink conditions) of a formulation's payload under given conditions."""

    def run():
        import pandas as pd

        from nanocloak import load
        from nanocloak.lab.release_fit import InVitroConditions, parse_windows, simulate_in_vitro

        f = load(file)
        if not f.payloads:
            raise NanocloakError(f"{file}: the formulation has no payload to release")
        cond = InVitroConditions(ph, temperature_c, ros, gsh, 1.0, parse_windows(laser), parse_windows(ultrasound))
        t, pct = simulate_in_vitro(f.payloads[0].release, cond, hours)
        t_show = [x for x in (1, 2, 4, 8, 12, 24, 48, 72, 168) if x <= hours] + [hours]
        if json_flag:
            print_json({"drug": f.payloads[0].drug, "t_h": list(dict.fromkeys(t_show)),
                        "released_pct": [float(np.interp(x, t, pct)) for x in dict.fromkeys(t_show)]})
        else:
            _print_release(f, ph, temperature_c, t, pct, t_show)
        if out_dir is not None:
            from nanocloak.io.output_dir import output_folder

            with output_folder(out_dir, "release simulate", force) as staged:
                pd.DataFrame({"t_h": t, "released_pct": pct}).to_csv(staged / "release.csv", index=False)
                _simple_curve(t, pct, "released (%)", f"{f.name}: in vitro release", staged / "release.png")
            err.print(f"wrote {out_dir}/ (release.csv, release.png)")

    _guard(run)


def _print_release(f, ph, temperature_c, t, pct, t_show) -> None:
    tab = Table(title=f"{f.payloads[0].drug} released in vitro (pH {ph:g}, {temperature_c:g} C, sink)")
    tab.add_column("time h", justify="right")
    tab.add_column("released %", justify="right")
    for x in dict.fromkeys(t_show):
        tab.add_row(f"{x:g}", f"{np.interp(x, t, pct):.1f}")
    out.print(tab)


def _release_figure(data, fits, path: Path) -> None:
    from nanocloak.model import release_laws as release_models
    from nanocloak.io.report import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.errorbar(data.t_h, data.mean_pct, yerr=data.sd_pct, fmt="o", color="k", label="data", capsize=2)
    tt = np.linspace(0, data.t_h.max(), 300)
    for fit in fits:
        ax.plot(tt, release_models.get(fit.model).cumulative_pct(tt, fit.params), label=f"{fit.model} (AIC {fit.aic:.1f})")
    ax.set_xlabel("time (h)")
    ax.set_ylabel("cumulative released (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _compare_figure(ref, tst, path: Path) -> None:
    from nanocloak.io.report import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for d, label in ((ref, "reference"), (tst, "test")):
        ax.errorbar(d.t_h, d.mean_pct, yerr=d.sd_pct, fmt="o-", capsize=2, label=f"{label}: {d.name}")
    ax.axhline(85, color="grey", ls=":", lw=1)
    ax.set_xlabel("time (h)")
    ax.set_ylabel("cumulative released (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _simple_curve(t, y, ylabel: str, title: str, path: Path) -> None:
    from nanocloak.io.report import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(t, y, lw=2)
    ax.set_xlabel("time (h)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _register_extensions() -> None:
    """Commands kept in their own modules (lab data, fitting, learning, screening)."""
    import importlib

    for name in ("lab", "screen", "fit", "learn"):
        importlib.import_module(f"nanocloak.cli.{name}").register(app)
    importlib.import_module("nanocloak.cli.evidence").register(app, calibrate_app)
    try:
        importlib.import_module("nanocloak.cli_app").register(app)   # the browser workbench, when present
    except ModuleNotFoundError:
        pass


_register_extensions()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
