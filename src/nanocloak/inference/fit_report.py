"""Tables, figures and files of a calibration (`nanocloak fit`, docs/fitting.md).

Parameter table (estimate, posterior median, 90% credible interval, prior), fold errors of the
model at the data (before and after calibration), the posterior-predictive figure per matrix, a
pairs figure of the posterior, and the calibrated formulation as YAML.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError
from nanocloak.inference import diagnostics
from nanocloak.inference.fitting import Z90, FitResult

PREDICTIVE_DRAWS = 200   # posterior draws simulated for the bands (~0.2-0.7 s)


# ------------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------------
def parameter_table(result: FitResult) -> pd.DataFrame:
    """One row per fitted parameter (and sigma when estimated), in natural units."""
    prob = result.problem
    priors = prob.all_priors
    if result.mcmc is not None:
        s = result.mcmc.samples
        best = result.mcmc.chain.reshape(-1, prob.ndim)[int(np.argmax(result.mcmc.log_prob.reshape(-1)))]
        lo, med, hi = np.percentile(s, [5, 50, 95], axis=0)
        label = "MAP (best sample)"
    else:
        best = result.lsq.log_values
        sd = np.sqrt(np.clip(np.diag(result.lsq.cov), 0, None))
        lo, med, hi = best - Z90 * sd, best, best + Z90 * sd
        if prob.estimate_sigma:   # sigma is a point estimate in least squares
            sig = math.log(result.lsq.sigma)
            best, lo, med, hi = (np.append(a, v) for a, v in ((best, sig), (lo, np.nan), (med, sig), (hi, np.nan)))
        label = "least squares"
    rows = []
    for i, p in enumerate(priors):
        p5, p95 = p.interval()
        rows.append({"parameter": p.name, "unit": p.unit, "estimate": math.exp(best[i]), "median": math.exp(med[i]),
                     "ci90_low": math.exp(lo[i]), "ci90_high": math.exp(hi[i]), "prior_median": p.median,
                     "prior_ci90_low": p5, "prior_ci90_high": p95, "prior_factor_1sd": p.factor,
                     "fold_change": math.exp(med[i]) / p.median, "prior_source": p.source})
    table = pd.DataFrame(rows)
    table.attrs["estimate_label"] = label
    return table


# ------------------------------------------------------------------------------------------------
# predictions
# ------------------------------------------------------------------------------------------------
@dataclass
class Prediction:
    """Model curves of posterior draws on the fit's grid, and at the data rows."""

    t_h: np.ndarray
    curves: dict[str, np.ndarray]          # observable -> (draws, len(t_h)) %ID
    noise: np.ndarray                      # (draws, n_obs) SD of ln %ID of each row, per draw
    at_data: np.ndarray                    # (draws, n_obs)
    default_curves: dict[str, np.ndarray]  # the library's values (the prior medians)
    default_at_data: np.ndarray

    def predictive_curve(self, observable: str, noise_sd: np.ndarray, seed: int = 0) -> np.ndarray:
        """Curves with the proportional error drawn (posterior predictive)."""
        rng = np.random.default_rng(seed)
        c = self.curves[observable]
        return c * np.exp(noise_sd[:, None] * rng.standard_normal(c.shape))


def posterior_predictive(result: FitResult, n_draws: int = PREDICTIVE_DRAWS, seed: int = 0) -> Prediction:
    prob = result.problem
    p = len(prob.names)
    draws = result.theta_draws(n_draws, seed)
    sims = prob.simulate(np.vstack([prob.mu[None, :], draws[:, :p]]))
    default, sims = sims[0], sims[1:]
    keep = [i for i, r in enumerate(sims) if r is not None]
    if default is None or not keep:
        raise NanocloakError("the model refuses the posterior's parameter values; nothing to predict")
    sims, draws = [sims[i] for i in keep], draws[keep]
    t = sims[0].t_h
    curves = {o: np.vstack([r.series[o] for r in sims]) for o in prob.obs.observables}
    at_data = np.vstack([prob._at_data(r) for r in sims])
    sigma = np.exp(draws[:, -1]) if prob.estimate_sigma else np.full(len(draws), prob.sigma_fixed)
    noise = prob.sigmas(sigma)
    return Prediction(t, curves, noise, at_data, {o: default.series[o] for o in prob.obs.observables},
                      prob._at_data(default))


def data_table(result: FitResult, pred: Prediction) -> pd.DataFrame:
    """Every fitted row: observed, predicted (median and 90% band of the model), default model, fold."""
    obs = result.problem.obs
    lo, med, hi = np.percentile(pred.at_data, [5, 50, 95], axis=0)
    return pd.DataFrame({"time_h": obs.time_h, "matrix": obs.matrix, "observable": obs.observable,
                         "observed_pct_id": obs.pct_id, "sd_log": obs.sd_log, "predicted_pct_id": med,
                         "predicted_ci90_low": lo, "predicted_ci90_high": hi,
                         "default_pct_id": pred.default_at_data, "fold_predicted_over_observed": med / obs.pct_id})


def fold_errors(observed: np.ndarray, predicted: np.ndarray) -> dict:
    """Fraction within 2-fold and 3-fold, GMFE = exp(mean |ln(pred/obs)|) (the absolute average fold
    error of PBPK evaluations, after Obach RS et al. 1997, J Pharmacol Exp Ther 283:46) and the bias
    exp(mean ln(pred/obs))."""
    ratio = np.log(np.asarray(predicted) / np.asarray(observed))
    ratio = ratio[np.isfinite(ratio)]
    if not len(ratio):
        return {"n": 0, "within_2_fold": None, "within_3_fold": None, "gmfe": None, "bias": None}
    return {"n": int(len(ratio)), "within_2_fold": float(np.mean(np.abs(ratio) <= math.log(2))),
            "within_3_fold": float(np.mean(np.abs(ratio) <= math.log(3))), "gmfe": float(np.exp(np.abs(ratio).mean())),
            "bias": float(np.exp(ratio.mean()))}


def fold_error_table(result: FitResult, pred: Prediction) -> pd.DataFrame:
    """Fold errors per matrix and overall, of the calibrated and the default model."""
    d = data_table(result, pred)
    rows = []
    for name, part in [("all", d)] + list(d.groupby("matrix", sort=False)):
        for model, col in (("calibrated", "predicted_pct_id"), ("default", "default_pct_id")):
            rows.append({"matrix": name, "model": model, **fold_errors(part["observed_pct_id"], part[col])})
    return pd.DataFrame(rows)


def summary(result: FitResult, pred: Prediction) -> dict:
    prob = result.problem
    out = {"method": result.method, "parameters": result.estimates(), "n_observations": len(prob.obs),
           "matrices": list(dict.fromkeys(prob.obs.matrix)), "proportional_error": (
               "estimated" if prob.estimate_sigma else "from the data's SD" if math.isnan(prob.sigma_fixed)
               else f"fixed {prob.sigma_fixed:g}"),
           "fold_errors": fold_error_table(result, pred).to_dict(orient="records"),
           "model_evaluations": prob.n_evaluations, "warnings": result.warnings,
           "least_squares": {"success": result.lsq.success, "message": result.lsq.message, "sigma": result.lsq.sigma}}
    m = result.mcmc
    if m is not None:
        steps, walkers, _ = m.chain.shape
        out["mcmc"] = {"walkers": walkers, "steps": steps, "burn": m.burn, "acceptance_fraction": m.acceptance,
                       "autocorrelation_time": dict(zip(prob.labels, m.autocorr.tolist())),
                       "effective_samples": m.effective_samples, "convergence": m.convergence}
    return out


# ------------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------------
def fit_figure(result: FitResult, pred: Prediction):
    """Observed data with the posterior-predictive median and 90% bands, one panel per matrix."""
    from nanocloak.io.figures import pyplot as _plt

    plt = _plt()
    obs = result.problem.obs
    names = obs.observables
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    t = pred.t_h
    show = t > 0
    for ax, name in zip(axes.flat, names):
        m = obs.observable == name
        noise = np.median(pred.noise[:, m], axis=1)
        predictive = pred.predictive_curve(name, noise)
        ax.fill_between(t[show], *np.percentile(predictive, [5, 95], axis=0)[:, show], color="C0", alpha=0.15,
                        lw=0, label="90% predictive")
        ax.fill_between(t[show], *np.percentile(pred.curves[name], [5, 95], axis=0)[:, show], color="C0", alpha=0.35,
                        lw=0, label="90% model curve")
        ax.plot(t[show], np.median(pred.curves[name], axis=0)[show], color="C0", lw=2, label="posterior median")
        ax.plot(t[show], pred.default_curves[name][show], color="grey", ls="--", lw=1, label="default model")
        y, sd = obs.pct_id[m], obs.sd_log[m]
        err = np.where(np.isfinite(sd), [y - y * np.exp(-sd), y * np.exp(sd) - y], 0)
        ax.errorbar(obs.time_h[m], y, yerr=err, fmt="o", color="k", ms=4, capsize=2, label="data")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(", ".join(dict.fromkeys(obs.matrix[m])))
        ax.set_xlabel("time (h)")
        ax.set_ylabel("%ID")
        ax.grid(alpha=0.3, which="both")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def pairs_figure(result: FitResult, n_points: int = 2000):
    """Corner-style posterior of log10(parameters): histograms with the prior on the diagonal,
    draws below it."""
    from nanocloak.io.figures import pyplot as _plt

    plt = _plt()
    prob = result.problem
    priors = prob.all_priors
    x = result.theta_draws(n_points, seed=1) / math.log(10)
    k = x.shape[1]
    fig, axes = plt.subplots(k, k, figsize=(2.3 * k + 0.6, 2.3 * k + 0.6), squeeze=False)
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            if i == j:
                ax.hist(x[:, i], bins=30, density=True, color="C0", alpha=0.6)
                lo, hi = ax.get_xlim()
                grid = np.linspace(lo, hi, 200)
                mu, sd = priors[i].mu / math.log(10), priors[i].sd_log / math.log(10)
                ax.plot(grid, np.exp(-0.5 * ((grid - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi)), color="grey",
                        ls="--", lw=1)
                ax.set_yticks([])
            else:
                ax.plot(x[:, j], x[:, i], ".", ms=1.5, alpha=0.3, color="C0")
            if i == k - 1:
                ax.set_xlabel(f"log10 {priors[j].name}", fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(f"log10 {priors[i].name}", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle("posterior (dashed: prior)", fontsize=9)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------------
def calibrated_yaml(result: FitResult, data_label: str = "") -> str:
    what = "posterior medians" if result.mcmc is not None else "least-squares estimates"
    from nanocloak.io.output_dir import GENERATED_MARK

    header = (f"# calibrated by `nanocloak fit` ({result.method}, {_dt.date.today().isoformat()}; {GENERATED_MARK})"
              f"{' on ' + data_label if data_label else ''}\n"
              f"# model.overrides: {what} of {', '.join(result.problem.names)}; docs/fitting.md\n")
    return header + result.calibrated_formulation().to_yaml()


def save_formulation(result: FitResult, path: str | Path, data_label: str = "", force: bool = False) -> Path:
    """Write the calibrated formulation (atomically; never over a file nanocloak did not write)."""
    from nanocloak.io.output_dir import write_generated_file

    return write_generated_file(path, calibrated_yaml(result, data_label), force, "--save-formulation")


def samples_frame(result: FitResult) -> pd.DataFrame:
    """Posterior samples in natural units (MCMC after burn-in; LSQ: Laplace draws), with walker/step."""
    prob = result.problem
    if result.mcmc is not None:
        chain = result.mcmc.chain[result.mcmc.burn:]
        steps, walkers, _ = chain.shape
        df = pd.DataFrame(np.exp(chain.reshape(-1, prob.ndim)), columns=prob.labels)
        df.insert(0, "walker", np.tile(np.arange(walkers), steps))
        df.insert(0, "step", np.repeat(np.arange(result.mcmc.burn, result.mcmc.burn + steps), walkers))
        df["log_posterior"] = result.mcmc.log_prob[result.mcmc.burn:].reshape(-1)
        return df
    return pd.DataFrame(np.exp(result.theta_draws(2000)), columns=prob.labels)


def write_outputs(result: FitResult, out_dir: str | Path, pred: Prediction | None = None, data_label: str = "",
                  force: bool = False) -> Path:
    """parameters.csv, predictions.csv, fold_errors.csv, samples.csv, summary.json, fit.png, pairs.png,
    calibrated.yaml and, after MCMC, posterior.nc (ArviZ NetCDF); built in a temporary directory and moved in place."""
    from nanocloak.io.figures import png as _png

    pred = pred or posterior_predictive(result)
    from nanocloak.io.output_dir import output_folder

    out = Path(out_dir)
    with output_folder(out, "fit", force) as tmp:
        parameter_table(result).to_csv(tmp / "parameters.csv", index=False)
        data_table(result, pred).to_csv(tmp / "predictions.csv", index=False)
        fold_error_table(result, pred).to_csv(tmp / "fold_errors.csv", index=False)
        samples_frame(result).to_csv(tmp / "samples.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary(result, pred), indent=2, default=float), encoding="utf-8")
        (tmp / "fit.png").write_bytes(_png(fit_figure(result, pred)))
        (tmp / "pairs.png").write_bytes(_png(pairs_figure(result)))
        (tmp / "calibrated.yaml").write_text(calibrated_yaml(result, data_label), encoding="utf-8")
        if result.mcmc is not None:
            m = result.mcmc
            diagnostics.write_netcdf(m.chain, m.burn, result.problem.labels, m.log_prob, tmp / "posterior.nc")
    return out
