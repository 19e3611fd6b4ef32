"""`nanocloak nca`: non-compartmental analysis of a lab data file (docs/lab_data.md)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional

import typer

#: columns of the per-animal table: (field, header)
TABLE_COLUMNS = (("cmax", "Cmax"), ("tmax_h", "Tmax"), ("auc_0_t", "AUC0-t"), ("auc_0_inf", "AUC0-inf"),
                 ("auc_pct_extrapolated", "%extrap"), ("t_half_h", "t1/2"), ("mrt_h", "MRT"), ("cl", "CL"),
                 ("vss", "Vss"))


def register(app: typer.Typer) -> None:
    app.command("nca")(nca_command)


def nca_command(
    data: Path = typer.Argument(..., help="lab data CSV or XLSX, or a SEND study folder (docs/lab_data.md)"),
    formulation: Optional[Path] = typer.Option(None, "--formulation",
                                               help="formulation YAML: organ masses, blood volume, dose"),
    matrix: Optional[str] = typer.Option(None, "--matrix", help="matrix to analyse (default blood, else plasma/serum)"),
    dose_ug: Optional[float] = typer.Option(None, "--dose-ug",
                                            help="dose per animal in ug (for ug/g, ug/mL ... values)"),
    method: str = typer.Option("linear", "--method", help="AUC rule: linear or linear-up/log-down"),
    json_out: bool = typer.Option(False, "--json", help="the same as --format json"),
    fmt: str = typer.Option("table", "--format", help="table, csv (the nca.csv table) or json, on stdout"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write nca.csv and nca.png here"),
    force: bool = typer.Option(False, "--force", help="write into a non-empty folder nanocloak did not write "
                               "(nothing already there is deleted or replaced)"),
):
    """NCA of lab time courses: per animal and mean curve (serial) or Bailer's AUC and SE (sparse)."""
    from nanocloak.cli.common import err, guard

    def run():
        from nanocloak.io.output_dir import check_folder
        from nanocloak.lab.nca import analyse
        from nanocloak.lab.send import read_lab_data as load_lab_data  # a CSV/XLSX or a SEND study folder
        from nanocloak.spec.formulation import load

        check_folder(out_dir, force)
        f = load(formulation) if formulation is not None else None
        lab = load_lab_data(data, f, dose_ug=dose_ug)
        analyses = analyse(lab, matrix, method)
        if out_dir is not None:
            _write_outputs(analyses, out_dir, data.name, force)
            err.print(f"wrote {out_dir}/ (nca.csv, nca.png)")
        from nanocloak.cli.common import chosen_format

        shown = chosen_format(fmt, json_out)
        if shown == "json":
            sys.stdout.write(json.dumps(_as_json(lab, analyses, method), indent=2, allow_nan=False) + "\n")
        elif shown == "csv":
            import pandas as pd

            sys.stdout.write(pd.concat([a.to_frame() for a in analyses], ignore_index=True).to_csv(index=False))
        else:
            _print_tables(analyses, method, data.name)

    guard(run)


# ------------------------------------------------------------------------------------------------
# printing
# ------------------------------------------------------------------------------------------------
def _fmt(value, digits: int = 3) -> str:
    """Significant digits without scientific notation (0.0294, 3230, 101); the table only, JSON/CSV keep all."""
    import numpy as np
    if value is None or not math.isfinite(value):
        return ""
    return np.format_float_positional(value, precision=digits, unique=True, fractional=False, trim="-")


def _print_tables(analyses, method: str, name: str) -> None:
    """One table per group: parameters as rows, animals (serial) and the mean curve as columns."""
    from rich.table import Table

    from nanocloak.cli.common import out
    from nanocloak.lab.nca import ADJ_R2_TOLERANCE, MIN_LAMBDA_Z_POINTS

    for a in analyses:
        mean = a.result.mean
        units = mean.units
        animals = list(getattr(a.result, "animals", []))
        where = f"{name}, {a.matrix}" + (f", group {a.group}" if a.group else "")
        t = Table(title=f"NCA of {where} ({a.design} sampling, {a.conc_unit}, {method} trapezoid)")
        t.add_column("parameter", no_wrap=True)
        t.add_column("unit", no_wrap=True)
        for r in animals:
            t.add_column(r.label, justify="right")
        if animals:
            t.add_column("mean (SD)", justify="right")
        t.add_column("mean curve", justify="right")
        for key, header in TABLE_COLUMNS:
            values = [getattr(r, key) for r in animals]
            if not any(math.isfinite(v) for v in [*values, getattr(mean, key)]):
                continue                    # e.g. CL and Vss of a tissue
            spread = [_mean_sd(values)] if animals else []
            t.add_row(header, units[key], *[_fmt(v) for v in values], *spread, _fmt(getattr(mean, key)))
        t.add_row("lz points", "", *[str(r.lambda_z_n_points or "-") for r in animals], *([""] if animals else []),
                  str(mean.lambda_z_n_points or "-"))
        t.add_row("lz R2adj", "", *[_r2(r) for r in animals], *([""] if animals else []), _r2(mean))
        out.print(t)
        if a.design in ("sparse", "summary"):
            b = a.result.bailer
            out.print(f"Bailer (1988) AUC0-{b.t_h[-1]:g}h = {_fmt(b.auc_0_tlast)} {units['auc_0_t']}, SE {_fmt(b.se)}, "
                      f"95% CI {_fmt(b.ci95_low)} - {_fmt(b.ci95_high)} ({len(b.t_h)} time points"
                      f"{', C(0) = 0 added' if b.starts_at_zero else ''}). {b.note}", highlight=False)
        for r in [*animals, mean]:
            if r.note:
                out.print(f"{r.label}: {r.note}", highlight=False)
    out.print(f"lambda_z: last >= {MIN_LAMBDA_Z_POINTS} points after Tmax, largest n with adjusted R2 within "
              f"{ADJ_R2_TOLERANCE:g} of the best; AUC0-inf uses the observed Clast.", highlight=False)


def _r2(r) -> str:
    return f"{r.lambda_z_r2_adjusted:.4f}" if r.lambda_z_n_points else ""


def _mean_sd(values: list[float]) -> str:
    import numpy as np
    x = np.array([v for v in values if math.isfinite(v)])
    if x.size == 0:
        return ""
    return f"{_fmt(x.mean())} ({_fmt(x.std(ddof=1), 2)})" if x.size > 1 else _fmt(x.mean())


def _as_json(lab, analyses, method: str) -> dict:
    from nanocloak.lab.nca import ADJ_R2_TOLERANCE, MIN_LAMBDA_Z_POINTS

    groups = []
    for a in analyses:
        entry = {"group": a.group, "matrix": a.matrix, "design": a.design, "conc_unit": a.conc_unit,
                 "units": a.result.mean.units, "mean_curve": a.result.mean.to_dict()}
        if a.design == "serial":
            entry["animals"] = [r.to_dict() for r in a.result.animals]
        else:
            entry["bailer"] = a.result.bailer.to_dict()
        groups.append(entry)
    return {"file": lab.source, "sampling": lab.sampling, "method": method,
            "rules": {"lambda_z_min_points": MIN_LAMBDA_Z_POINTS, "adj_r2_tolerance": ADJ_R2_TOLERANCE,
                      "clast": "observed", "bailer": "Bailer AJ 1988, J Pharmacokinet Biopharm 16:303"},
            "groups": groups}


# ------------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------------
def _write_outputs(analyses, out_dir: Path, name: str, force: bool = False) -> None:
    import pandas as pd

    from nanocloak.io.output_dir import output_folder

    table = pd.concat([a.to_frame() for a in analyses], ignore_index=True)
    with output_folder(out_dir, "nca", force) as staged:
        table.to_csv(staged / "nca.csv", index=False)
        _figure(analyses, staged / "nca.png", name)


def _figure(analyses, path: Path, name: str) -> None:
    """Semi-log concentration-time plot; the points used for lambda_z (mean curve) are highlighted."""
    import numpy as np

    from nanocloak.io.figures import pyplot as _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for i, a in enumerate(analyses):
        color = f"C{i}"
        tag = f"{a.group}: " if a.group else ""
        for r in getattr(a.result, "animals", []):
            ok = r.c > 0
            ax.plot(r.t_h[ok], r.c[ok], "o-", color=color, alpha=0.3, lw=0.8, ms=3)
        points = getattr(a.result, "points", None)
        if points is not None:
            shown = points[points["value"] > 0]
            ax.plot(shown["time_h"], shown["value"], "o", color=color, alpha=0.35, ms=4)
        mean = a.result.mean
        ok = mean.c > 0
        curve = a.result.mean_curve
        if a.design != "serial" and curve["sd"].notna().any():
            ax.errorbar(curve["time_h"][ok], curve["mean"][ok], yerr=curve["sd"][ok], fmt="none", ecolor=color,
                        capsize=2)
        ax.plot(mean.t_h[ok], mean.c[ok], "s-", color=color, lw=2, label=f"{tag}mean ({a.design})")
        used = mean.lambda_z_used
        if used.any():
            ax.plot(mean.t_h[used], mean.c[used], "o", ms=10, mfc="none", mec="red", mew=1.5,
                    label=f"{tag}lambda_z points (t1/2 {mean.t_half_h:.3g} h)")
            tt = np.linspace(mean.lambda_z_t_first_h, mean.lambda_z_t_last_h, 50)
            ax.plot(tt, np.exp(mean.lambda_z_intercept - mean.lambda_z_per_h * tt), "--", color="red", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("time (h)")
    ax.set_ylabel(f"{analyses[0].matrix} ({analyses[0].conc_unit})")
    ax.set_title(f"{name}: concentration-time (semi-log)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
