"""`nanocloak simulate`, `params`, `compare`, `library`, `export-sbml`, `validate`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from nanocloak.cli.apps import app
from nanocloak.cli.common import chosen_format, emit_table, err, force_option, format_option, guard, json_option, out, progress
from nanocloak.errors import NanocloakError


@app.command()
def simulate(
    file: Path = typer.Argument(..., help="formulation YAML"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON on stdout"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write time courses, metrics, figures, report, parameters here"),
    force: bool = force_option(),
    uncertainty: int = typer.Option(0, "--uncertainty", help="also give 5th/95th percentile metrics over N draws of the "
                                    "calibration's parameters (e.g. 32; JSON keys metrics_p05, metrics_p95)"),
):
    """Simulate a formulation: where the particles go over time."""

    def run():
        from nanocloak.io.output_dir import check_folder
        from nanocloak.simulation.core import simulate as sim
        from nanocloak.spec.formulation import load

        check_folder(out_dir, force)
        f = load(file)
        _print_warnings(f)
        r = sim(f)
        if out_dir is not None:
            from nanocloak.io.report import write_outputs  # figures and templates: only when written

            path = write_outputs(r, out_dir, force)
            err.print(f"wrote {path}/ (report.html, timecourse.csv, metrics.json, parameters.csv, figures)")
        bands = _bands(f, uncertainty)
        if json_out:
            import json

            doc = r.to_dict()
            if bands is not None:
                doc["metrics_p05"], doc["metrics_p95"] = bands
            sys.stdout.write(json.dumps(doc) + "\n")
        elif out_dir is None:
            _print_summary(r)
            if bands is not None:
                _print_bands(r, bands)

    guard(run)


BAND_KEYS = ("blood_pct_id_24h", "blood_t_half_h", "blood_auc_pct_id_h", "tumor_pct_id_24h", "liver_pct_id_24h",
             "spleen_pct_id_24h")


def _bands(f, n: int):
    if n <= 0:
        return None
    if n < 8:
        raise NanocloakError(f"--uncertainty {n}: give at least 8 draws (32 is a good default)")
    from nanocloak.evidence.uncertainty import metric_bands

    with progress(2, "uncertainty"):
        return metric_bands(f, n)


def _print_bands(r, bands) -> None:
    from nanocloak.screen.evaluation import flatten_metrics

    flat, (lo, hi) = flatten_metrics(r.metrics), bands
    out.print(f"parameter uncertainty of calibration {r.calibration_id} (5th-95th percentile):", highlight=False)
    for k in BAND_KEYS:
        if k in lo and k in flat:
            out.print(f"  {k}: {flat[k]:.3g} ({lo[k]:.3g} - {hi[k]:.3g})", highlight=False)


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
        from nanocloak.simulation.core import resolve_formulation as resolve
        from nanocloak.spec.formulation import load

        table = resolve(load(file)).params.table()
        f = "csv" if csv else chosen_format(fmt, json_flag)
        shown = table if f != "table" else table[["name", "value", "unit", "source"]]
        emit_table(shown, f, f"parameters of {file} (use these names in model.overrides)")

    guard(run)


@app.command()
def compare(files: list[Path] = typer.Argument(..., help="two or more formulation YAMLs"),
            out_dir: Optional[Path] = typer.Option(None, "--out", help="write comparison.csv, figures and comparison.html"),
            force: bool = force_option(), fmt: str = format_option(), json_flag: bool = json_option()):
    """Put several designs side by side (table and overlaid curves)."""

    def run():
        from nanocloak.io.output_dir import check_folder
        from nanocloak.io.report import comparison_table, write_comparison
        from nanocloak.simulation.core import simulate_many
        from nanocloak.spec.formulation import load

        check_folder(out_dir, force)
        forms = [load(p) for p in files]
        with progress(len(forms), "simulating") as prog:
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

    guard(run)


LIBRARY_KINDS = ("materials", "membranes", "ligands", "drugs", "cell-lines", "species", "coating-methods",
                 "release-models", "hosts")


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

    guard(run)


@app.command("export-sbml")
def export_sbml(file: Path = typer.Argument(..., help="formulation YAML"),
                output: Optional[Path] = typer.Option(None, "-o", "--output", help="SBML file (default: stdout)"),
                force: bool = force_option()):
    """Export the formulation's particle model as SBML (COPASI, tellurium, libRoadRunner)."""

    def run():
        from nanocloak.io.output_dir import GENERATED_MARK, write_generated_file
        from nanocloak.io.sbml import to_sbml
        from nanocloak.spec.formulation import load

        text = to_sbml(load(file))
        if output is None:
            sys.stdout.write(text)
        else:
            marked = text.replace("?>", f"?>\n<!-- written by nanocloak export-sbml ({GENERATED_MARK}) -->", 1)
            write_generated_file(output, marked, force, "-o")
            err.print(f"wrote {output}")

    guard(run)


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

    guard(run)

