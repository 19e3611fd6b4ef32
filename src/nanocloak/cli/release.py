"""`nanocloak release fit|compare|simulate`: release kinetics of lab data and of formulations."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from nanocloak.cli.apps import release_app
from nanocloak.cli.common import chosen_format, emit_table, err, force_option, format_option, guard, json_option, out, print_json
from nanocloak.errors import NanocloakError


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

    guard(run)


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

    guard(run)


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
    import numpy as np

    def run():
        import pandas as pd

        from nanocloak.lab.release_fit import InVitroConditions, parse_windows, simulate_in_vitro
        from nanocloak.spec.formulation import load

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

    guard(run)


def _print_release(f, ph, temperature_c, t, pct, t_show) -> None:
    import numpy as np
    tab = Table(title=f"{f.payloads[0].drug} released in vitro (pH {ph:g}, {temperature_c:g} C, sink)")
    tab.add_column("time h", justify="right")
    tab.add_column("released %", justify="right")
    for x in dict.fromkeys(t_show):
        tab.add_row(f"{x:g}", f"{np.interp(x, t, pct):.1f}")
    out.print(tab)


def _release_figure(data, fits, path: Path) -> None:
    import numpy as np

    from nanocloak.io.figures import pyplot as _plt
    from nanocloak.library import release_laws as release_models

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.errorbar(data.t_h, data.mean_pct, yerr=data.sd_pct, fmt="o", color="k", label="data", capsize=2)
    tt = np.linspace(0, data.t_h.max(), 300)
    for fit in fits:
        ax.plot(tt, release_models.get(fit.model).cumulative_pct(tt, fit.params), label=f"{fit.model} (AIC {fit.aic:.1f})")
    _save_release_axes(fig, ax, path)


def _save_release_axes(fig, ax, path: Path) -> None:
    """Label a cumulative-release plot the one way both release figures share, and write it as PNG."""
    from nanocloak.io.figures import png

    ax.set_xlabel("time (h)")
    ax.set_ylabel("cumulative released (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.write_bytes(png(fig))


def _compare_figure(ref, tst, path: Path) -> None:
    from nanocloak.io.figures import pyplot as _plt
    from nanocloak.lab.release_fit import F2_LAST_POINT_RELEASE_PCT

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for d, label in ((ref, "reference"), (tst, "test")):
        ax.errorbar(d.t_h, d.mean_pct, yerr=d.sd_pct, fmt="o-", capsize=2, label=f"{label}: {d.name}")
    ax.axhline(F2_LAST_POINT_RELEASE_PCT, color="grey", ls=":", lw=1)   # where f2 stops counting points
    _save_release_axes(fig, ax, path)


def _simple_curve(t, y, ylabel: str, title: str, path: Path) -> None:
    from nanocloak.io.figures import pyplot as _plt

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

