"""`nanocloak fit FORMULATION DATA`: calibrate the particle model to lab data (docs/fitting.md)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from nanocloak.inference.settings import DEFAULT_STEPS


def register(app: typer.Typer) -> None:
    app.command("fit")(fit_command)


def fit_command(
    formulation: Path = typer.Argument(..., help="formulation YAML (the experiment the data come from)"),
    data: Path = typer.Argument(..., help="lab data CSV/XLSX (docs/lab_data.md): animal, time, matrix, value, unit"),
    param: list[str] = typer.Option([], "--param", help="parameter(s) to fit, as `nanocloak params FILE` names "
                                    "them (repeatable or comma-separated; default: chosen from the data)"),
    method: str = typer.Option("mcmc", "--method", help="lsq (weighted least squares) or mcmc (Bayesian, emcee)"),
    walkers: Optional[int] = typer.Option(None, "--walkers", help="emcee walkers (default max(16, 4 x dimensions))"),
    steps: int = typer.Option(DEFAULT_STEPS, "--steps", help="emcee steps per walker"),
    burn: Optional[int] = typer.Option(None, "--burn", help="steps discarded as burn-in (default steps / 5)"),
    seed: int = typer.Option(0, "--seed", help="random seed (walker start and moves)"),
    error: str = typer.Option("auto", "--error", help="proportional error: auto (the data's SD where given, "
                              "else estimated), estimate, or a fixed SD of ln %ID (e.g. 0.2)"),
    prior: list[str] = typer.Option([], "--prior", help="NAME=FACTOR: the prior's fold change at 1 SD for a fitted "
                                    "parameter (repeatable)"),
    matrix: list[str] = typer.Option([], "--matrix", help="fit only these matrices (repeatable)"),
    group: Optional[str] = typer.Option(None, "--group", help="the data's group to fit, when the file has several"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write parameters.csv, predictions.csv, fold_errors.csv, "
                                           "samples.csv, summary.json, fit.png, pairs.png, calibrated.yaml, posterior.nc"),
    save_formulation: Optional[Path] = typer.Option(None, "--save-formulation",
                                                    help="write the calibrated formulation YAML (re-simulate it with "
                                                    "`nanocloak simulate`)"),
    force: bool = typer.Option(False, "--force", help="write into a non-empty folder (or over a file) nanocloak did "
                               "not write; nothing already there is deleted"),
):
    """Calibrate model parameters to lab data: least squares, then Bayesian estimation (emcee)."""
    from nanocloak.cli.common import guard

    guard(lambda: _run(formulation, data, param, method, walkers, steps, burn, seed, error, prior, matrix, group,
                        out_dir, save_formulation, force))


def _run(formulation, data, param, method, walkers, steps, burn, seed, error, prior, matrix, group, out_dir,
         save_path, force=False) -> None:
    from nanocloak.cli.common import err, progress
    from nanocloak.inference.fit_report import fold_error_table, parameter_table, posterior_predictive, save_formulation, write_outputs
    from nanocloak.inference.fitting import fit
    from nanocloak.io.output_dir import check_file, check_folder
    from nanocloak.lab.labdata import load_lab_data
    from nanocloak.spec.formulation import load

    check_folder(out_dir, force)
    check_file(save_path, force, "--save-formulation")
    f = load(formulation)
    lab = load_lab_data(data, f)
    frame = _select_group(lab, group, data)
    method = method.strip().lower()
    with progress(steps if method == "mcmc" else 0, "sampling") as prog:
        task = prog.add_task("sampling (emcee)", total=steps)
        names = [n.strip() for item in param for n in item.split(",") if n.strip()]
        result = fit(f, frame, names or None, method, walkers, steps, burn, seed, error,
                     _prior_factors(prior), matrix or None, on_step=lambda i: prog.update(task, completed=i))
    pred = posterior_predictive(result)
    _print_parameters(parameter_table(result), result)
    _print_fold_errors(fold_error_table(result, pred))
    _print_diagnostics(result)
    if lab.sampling == "serial":
        result.warnings.append("serial sampling (several times per animal): the fit treats every measurement as "
                               "independent, so intervals may be somewhat too narrow")
    for w in result.warnings:
        err.print(f"warning: {w}", highlight=False, markup=False)
    if out_dir is not None:
        path = write_outputs(result, out_dir, pred, data_label=str(data), force=force)
        err.print(f"wrote {path}/ (parameters.csv, predictions.csv, fold_errors.csv, samples.csv, summary.json, fit.png, "
                  "pairs.png, calibrated.yaml, posterior.nc after MCMC)", highlight=False, markup=False)
    if save_path is not None:
        save_formulation(result, save_path, data_label=str(data), force=force)
        err.print(f"wrote {save_path} (re-simulate with: nanocloak simulate {save_path})", highlight=False, markup=False)


def _select_group(lab, group: str | None, path: Path):
    from nanocloak.errors import NanocloakError, did_you_mean

    groups = [g for g in lab.groups if g]
    if group is None:
        if len(groups) > 1:
            raise NanocloakError(f"{path}: the data hold several groups ({', '.join(groups)}); choose one with --group")
        return lab.frame
    if group not in groups:
        raise NanocloakError(f"--group {group!r}: not in {path}{did_you_mean(group, groups)}; groups: "
                             f"{', '.join(groups) or '(none)'}")
    return lab.frame[lab.frame["group"] == group]


def _prior_factors(items: list[str]) -> dict[str, float]:
    from nanocloak.errors import NanocloakError

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise NanocloakError(f"--prior {item!r}: write NAME=FACTOR, e.g. tumor.PATC=10 (fold change at 1 SD)")
    return out


def _fmt(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"


def _print_parameters(table, result) -> None:
    from rich.table import Table

    from nanocloak.cli.common import out

    t = Table(title=f"calibrated parameters ({result.method}; 90% intervals)")
    for col in ("parameter", table.attrs.get("estimate_label", "estimate"), "median", "90% interval", "prior median",
                "prior 90%", "x default"):
        t.add_column(col, overflow="fold", justify="left" if col == "parameter" else "right")
    for r in table.itertuples():
        t.add_row(r.parameter, _fmt(r.estimate), _fmt(r.median), f"{_fmt(r.ci90_low)} - {_fmt(r.ci90_high)}",
                  _fmt(r.prior_median), f"{_fmt(r.prior_ci90_low)} - {_fmt(r.prior_ci90_high)}", _fmt(r.fold_change))
    out.print(t)


def _print_fold_errors(table) -> None:
    from rich.table import Table

    from nanocloak.cli.common import out

    t = Table(title="observed vs predicted (GMFE = geometric mean fold error)")
    for col in ("matrix", "model", "n", "within 2-fold", "within 3-fold", "GMFE", "bias"):
        t.add_column(col, justify="left" if col in ("matrix", "model") else "right")
    pct = lambda v: "" if v is None else f"{v:.0%}"  # noqa: E731
    for r in table.itertuples():
        t.add_row(r.matrix, r.model, str(r.n), pct(r.within_2_fold), pct(r.within_3_fold), _fmt(r.gmfe), _fmt(r.bias))
    out.print(t)


def _print_diagnostics(result) -> None:
    from nanocloak.cli.common import out

    prob = result.problem
    line = f"{len(prob.obs)} observations, {prob.n_evaluations} model evaluations"
    if prob.estimate_sigma:
        line += f"; proportional error estimated (least squares: SD of ln %ID {result.lsq.sigma:.3g})"
    m = result.mcmc
    if m is not None:
        steps, walkers, _ = m.chain.shape
        taus = ", ".join(f"{n} {t:.0f}" for n, t in zip(prob.labels, m.autocorr))
        line += (f"\nemcee: {walkers} walkers x {steps} steps (burn-in {m.burn}); acceptance {m.acceptance:.2f}; "
                 f"autocorrelation time (steps): {taus}; ~{m.effective_samples:.0f} effective samples")
        if m.convergence:
            worst = max(v["r_hat"] for v in m.convergence.values())
            fewest = min(v["ess_bulk"] for v in m.convergence.values())
            line += f"\nArviZ: worst R-hat {worst:.3f} (target <= 1.01), smallest bulk ESS {fewest:.0f} (target >= 400)"
    out.print(line, highlight=False, markup=False)
