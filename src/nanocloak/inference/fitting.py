"""Calibrating the particle model to lab data: weighted least squares, then Bayesian estimation.

The data are %ID in a whole organ (or in the whole blood, as a lab measures it) at times after
dosing; the unknowns are named model parameters (`nanocloak params FILE`), fitted on the log
scale and passed to the model as `model.overrides`. Every observation is lognormal around the
model: ln(y_obs) ~ N(ln(y_model), sigma^2), with sigma from the row's SD when the lab gives one
and otherwise one proportional error estimated with the parameters. Priors are lognormal,
centred on the value the library gives (data/fit_priors.yaml holds their spreads).

1. `fit_lsq`: scipy least_squares on ln(parameters), residuals on ln(%ID) weighted by 1/sigma,
   with the priors as penalty rows (a MAP estimate), and a Laplace covariance from its Jacobian.
2. `fit_mcmc`: emcee's ensemble sampler (Foreman-Mackey et al. 2013, PASP 125:306) with
   differential-evolution moves, started around the least-squares estimate; all walkers of a
   step are simulated in one batch (vectorize=True; `simulate_particles`, simulate_many's engine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError, did_you_mean
from nanocloak.inference import diagnostics
from nanocloak.inference.fast_model import MODEL_REFUSALS, fast_model

# the inputs of a fit, defined in observations.py and priors.py, are part of this module's API
from nanocloak.inference.observations import (
    OBSERVABLE_OF_MATRIX,  # noqa: F401
    Observations,  # noqa: F401
    observations_from,  # noqa: F401
)
from nanocloak.inference.priors import (
    LIVER_UPTAKE,  # noqa: F401
    OTHER_MPS,  # noqa: F401
    SIGMA,  # noqa: F401
    SPLEEN_UPTAKE,  # noqa: F401
    STEALTH,  # noqa: F401
    TUMOR_PARAMETERS,  # noqa: F401
    UPTAKE_ONSET,  # noqa: F401
    Z90,  # noqa: F401
    Prior,  # noqa: F401
    check_parameters,  # noqa: F401
    default_parameters,  # noqa: F401
    ntd_prior_factors,  # noqa: F401
    prior_factor,  # noqa: F401
    prior_table,  # noqa: F401
    sigma_prior,  # noqa: F401
)
from nanocloak.inference.settings import DEFAULT_STEPS, MIN_WALKERS, WALKERS_PER_DIM  # noqa: F401 (re-exported)
from nanocloak.simulation.core import simulate_many, simulate_particles
from nanocloak.spec.formulation import Formulation, ModelOptions, from_dict

#: emcee's guidance: trust the chain when it is longer than ~50 autocorrelation times
AUTOCORR_LENGTHS = 50
# warn outside this acceptance band: looser than emcee's usual 0.2-0.5 (Foreman-Mackey et al. 2013,
# PASP 125:306), because differential-evolution moves run well a little outside it
ACCEPTANCE_WARN = (0.15, 0.8)
# two parameters whose sensitivity columns have |cosine| above this are reported as not separately
# identified (a choice: at 0.99 their effects differ by < 15 degrees)
COLLINEAR_COSINE = 0.99
PRIOR_BOUND_SD = 5.0              # the search never leaves prior median x/÷ factor^5 (mass outside: 6e-7)
FD_STEP_LOG = 1e-2                # central differences on ln(parameter): truncation ~1e-4, noise ~1e-3
TINY_PCT_ID = 1e-12               # a model value of exactly 0 gets this floor on the log scale



# ------------------------------------------------------------------------------------------------
# the model at the data
# ------------------------------------------------------------------------------------------------
def fitting_base(formulation: Formulation, obs: Observations) -> Formulation:
    """The formulation the fit simulates: payloads left out (they do not act on the particles,
    tests/test_fitting.py checks this; dropping them makes a simulation ~100x faster), the data
    times on the output grid and end_h reaching the last one."""
    d = formulation.model_dump()
    d["payloads"] = []
    d["dose"]["basis"] = "particle"      # %ID does not depend on the dose mass (the model is linear)
    end = max(float(d["simulate"]["end_h"]), float(obs.time_h.max()))
    d["simulate"]["end_h"] = end
    d["simulate"]["output_times_h"] = sorted(set(d["simulate"]["output_times_h"]) | set(obs.time_h.tolist()))
    return from_dict(d, "lab data times")


class CalibrationProblem:
    """Data, parameters, priors and the batched model; theta = ln(parameters) [+ ln(sigma)]."""

    def __init__(self, formulation: Formulation, obs: Observations, priors: list[Prior], error: str | float = "auto"):
        self.formulation = formulation
        self.base = fitting_base(formulation, obs)
        self.sigma_fixed, self.estimate_sigma = _error_mode(error, obs)
        if error == "estimate":          # the lab's SDs are set aside: one error for every row
            obs = replace(obs, sd_log=np.full(len(obs), np.nan))
        self.obs = obs
        self.priors = priors
        self.names = [p.name for p in priors]
        self.mu = np.array([p.mu for p in priors])
        self.sd = np.array([p.sd_log for p in priors])
        self.sigma_prior = sigma_prior()
        #: no treatment: nothing after the particle model acts on the particles (simulate_particles: no
        #: payload, no therapy step, which change no particle %ID without lasers
        #: or ultrasound; tests/test_fitting.py checks its series equal simulate_many's)
        self.particles_only = not (self.base.treatment.lasers or self.base.treatment.ultrasound)
        self.n_evaluations = 0
        #: the base resolved once, theta a rescaling of its arrays (fast_model.py); None: the full path
        self.fast = fast_model(self.base, self.names, self.mu, self.bounds, obs) if self.particles_only else None

    @property
    def ndim(self) -> int:
        return len(self.priors) + int(self.estimate_sigma)

    @property
    def labels(self) -> list[str]:
        return self.names + ([SIGMA] if self.estimate_sigma else [])

    @property
    def all_priors(self) -> list[Prior]:
        """The parameters' priors, then sigma's when it is estimated (the order of labels)."""
        return list(self.priors) + ([self.sigma_prior] if self.estimate_sigma else [])

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Where the search for ln(parameters) may go: prior median x/÷ factor^PRIOR_BOUND_SD."""
        return self.mu - PRIOR_BOUND_SD * self.sd, self.mu + PRIOR_BOUND_SD * self.sd

    def formulations(self, log_values: np.ndarray) -> list[Formulation]:
        base_overrides = dict(self.base.model.overrides)
        return [self.base.model_copy(update={"model": ModelOptions(
            overrides={**base_overrides, **dict(zip(self.names, np.exp(row).tolist()))})}) for row in log_values]

    def simulate(self, log_values: np.ndarray) -> list:
        """SimulationResults for rows of ln(parameters); None where the model refuses the values."""
        forms = self.formulations(np.atleast_2d(log_values))
        self.n_evaluations += len(forms)
        run = simulate_particles if self.particles_only else simulate_many
        try:
            return run(forms)
        except MODEL_REFUSALS:
            return [_one_or_none(run, f) for f in forms]   # find which ones fail, keep the others

    def predict(self, log_values: np.ndarray) -> np.ndarray:
        """Model %ID at every observation, shape (n, n_obs); NaN rows where the model failed."""
        if self.fast is not None:
            try:
                out = self.fast.predict(log_values)
                self.n_evaluations += len(out)
                return out
            except MODEL_REFUSALS:
                pass                    # which rows the model refuses: the full path finds them
        return self.predict_full(log_values)

    def predict_full(self, log_values: np.ndarray) -> np.ndarray:    # through SimulationResults (self.simulate)
        results = self.simulate(log_values)
        out = np.full((len(results), len(self.obs)), np.nan)
        for i, r in enumerate(results):
            if r is not None:
                out[i] = self._at_data(r)
        return out

    def _at_data(self, r) -> np.ndarray:
        idx = np.searchsorted(r.t_h, self.obs.time_h)   # data times are grid points (fitting_base)
        vals = np.empty(len(self.obs))
        for name in self.obs.observables:
            m = self.obs.observable == name
            vals[m] = r.series[name][idx[m]]
        return vals

    def sigmas(self, sigma: np.ndarray | float) -> np.ndarray:
        """Per-row SD of ln %ID, shape (n, n_obs): the row's own where the lab gave one."""
        s = np.atleast_1d(np.asarray(sigma, dtype=float))[:, None]
        return np.where(self.obs.has_sd[None, :], self.obs.sd_log[None, :], s)

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        z = (theta[:, : len(self.priors)] - self.mu) / self.sd
        lp = -0.5 * (z ** 2).sum(axis=1)
        inside = (np.abs(z) <= PRIOR_BOUND_SD).all(axis=1)
        if self.estimate_sigma:
            zs = (theta[:, -1] - self.sigma_prior.mu) / self.sigma_prior.sd_log
            lp += -0.5 * zs ** 2
            inside &= np.abs(zs) <= PRIOR_BOUND_SD
        return np.where(inside, lp, -np.inf)

    def log_likelihood(self, pred: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
        s = self.sigmas(sigma)
        r = (np.log(self.obs.pct_id)[None, :] - np.log(np.maximum(pred, TINY_PCT_ID))) / s
        ll = -0.5 * (r ** 2).sum(axis=1) - np.log(s).sum(axis=1)
        return np.where(np.isfinite(ll), ll, -np.inf)

    def log_posterior(self, theta: np.ndarray) -> np.ndarray:
        """Vectorised over rows of theta (emcee's vectorize=True): one batched simulation per call."""
        theta = np.atleast_2d(theta)
        lp = self.log_prior(theta)
        ok = np.isfinite(lp)
        if ok.any():
            pred = self.predict(theta[ok, : len(self.priors)])
            sigma = np.exp(theta[ok, -1]) if self.estimate_sigma else self.sigma_fixed
            lp[ok] += self.log_likelihood(pred, sigma)
        return lp


def _error_mode(error: str | float, obs: Observations) -> tuple[float, bool]:
    """(fixed sigma, estimate sigma?) from --error: auto, estimate, or a number (SD of ln %ID)."""
    if isinstance(error, str) and error not in ("auto", "estimate"):
        try:
            error = float(error)
        except ValueError:
            raise NanocloakError(f"--error {error!r}: use auto, estimate, or the SD of ln %ID as a number (e.g. 0.2)") from None
    if isinstance(error, (int, float)):
        if not (math.isfinite(error) and 0 < error < 5):
            raise NanocloakError(f"--error {error!r}: the SD of ln %ID must be a number between 0 and 5 (0.2 = ~20%)")
        return float(error), False
    if error == "estimate":
        return math.nan, True
    return math.nan, not obs.has_sd.all()


def _one_or_none(run, f: Formulation):
    try:
        return run([f])[0]
    except MODEL_REFUSALS:
        return None


# ------------------------------------------------------------------------------------------------
# 1. weighted least squares (MAP with the priors as penalty rows)
# ------------------------------------------------------------------------------------------------
@dataclass
class LsqResult:
    log_values: np.ndarray        # ln(parameters) at the optimum
    cov: np.ndarray               # Laplace covariance of ln(parameters)
    sigma: float                  # SD of ln %ID used for rows without one (estimated or fixed)
    success: bool
    message: str
    degenerate: list[tuple[str, str, float]] = field(default_factory=list)   # near-collinear pairs


def fit_lsq(problem: CalibrationProblem, max_nfev: int = 200) -> LsqResult:
    """Two passes when sigma is estimated: fit with the prior's sigma, re-estimate sigma from the
    residuals (RMS with n - p degrees of freedom), refit (sigma only weighs data against priors)."""
    from scipy.optimize import least_squares

    sigma = problem.sigma_prior.median if problem.estimate_sigma else problem.sigma_fixed
    lo, hi = problem.bounds
    x = problem.mu.copy()
    for _ in range(2 if problem.estimate_sigma else 1):
        res = least_squares(lambda th: _residuals(problem, th, sigma), x,  # noqa: B023 (used within the iteration)
                            jac=lambda th: _jacobian(problem, th, sigma),  # noqa: B023
                            bounds=(lo, hi), x_scale=problem.sd, max_nfev=max_nfev, method="trf")
        x = res.x
        if problem.estimate_sigma:
            sigma = _sigma_hat(problem, x, sigma)
    J = _jacobian(problem, x, sigma)
    cov = _laplace_covariance(J, problem.sd)
    return LsqResult(x, cov, float(sigma), bool(res.success), str(res.message), _collinear(problem, J))


def _residuals(problem: CalibrationProblem, theta: np.ndarray, sigma: float) -> np.ndarray:
    pred = problem.predict(theta[None, :])[0]
    s = problem.sigmas(sigma)[0]
    r = (np.log(problem.obs.pct_id) - np.log(np.maximum(pred, TINY_PCT_ID))) / s
    r = np.where(np.isfinite(r), r, 1e3)     # a refused parameter set: far away, never NaN
    return np.concatenate([r, (theta - problem.mu) / problem.sd])


def _jacobian(problem: CalibrationProblem, theta: np.ndarray, sigma: float) -> np.ndarray:
    """Central differences in ln(parameter), all 2p simulations in one batch."""
    p = len(theta)
    steps = np.vstack([theta + FD_STEP_LOG * e for e in np.eye(p)] + [theta - FD_STEP_LOG * e for e in np.eye(p)])
    pred = np.log(np.maximum(problem.predict(steps), TINY_PCT_ID))
    s = problem.sigmas(sigma)[0]
    d_log = (pred[:p] - pred[p:]) / (2 * FD_STEP_LOG)            # d ln(model) / d theta, (p, n_obs)
    d_log = np.where(np.isfinite(d_log), d_log, 0.0)
    return np.vstack([(-d_log / s).T, np.diag(1.0 / problem.sd)])


def _sigma_hat(problem: CalibrationProblem, theta: np.ndarray, current: float) -> float:
    free = ~problem.obs.has_sd
    pred = problem.predict(theta[None, :])[0]
    r = np.log(problem.obs.pct_id[free]) - np.log(np.maximum(pred[free], TINY_PCT_ID))
    dof = max(free.sum() - len(theta), 1)
    s = math.sqrt(float((r ** 2).sum()) / dof)
    return s if math.isfinite(s) and s > 0 else current


def _laplace_covariance(J: np.ndarray, prior_sd: np.ndarray) -> np.ndarray:
    try:
        cov = np.linalg.inv(J.T @ J)
    except np.linalg.LinAlgError:
        cov = np.diag(prior_sd ** 2)
    return (cov + cov.T) / 2


def _collinear(problem: CalibrationProblem, J: np.ndarray, threshold: float = COLLINEAR_COSINE) -> list[tuple[str, str, float]]:
    """Parameter pairs whose effects on these data are (nearly) the same: only their combination is
    identified, and the priors decide the split."""
    d = J[: len(problem.obs)]
    norms = np.linalg.norm(d, axis=0)
    out = []
    for i in range(d.shape[1]):
        for j in range(i + 1, d.shape[1]):
            if norms[i] > 0 and norms[j] > 0:
                c = float(abs(d[:, i] @ d[:, j]) / (norms[i] * norms[j]))
                if c >= threshold:
                    out.append((problem.names[i], problem.names[j], c))
    return out


# ------------------------------------------------------------------------------------------------
# 2. Bayesian estimation (emcee)
# ------------------------------------------------------------------------------------------------
@dataclass
class McmcResult:
    chain: np.ndarray             # (steps, walkers, ndim), theta
    log_prob: np.ndarray          # (steps, walkers)
    burn: int
    acceptance: float
    autocorr: np.ndarray          # integrated autocorrelation time of each dimension (steps)
    warnings: list[str] = field(default_factory=list)
    convergence: dict[str, dict[str, float]] = field(default_factory=dict)  # label -> r_hat, ess_bulk, ess_tail

    @property
    def samples(self) -> np.ndarray:
        return self.chain[self.burn:].reshape(-1, self.chain.shape[2])

    @property
    def effective_samples(self) -> float:
        steps, walkers = self.chain[self.burn:].shape[:2]
        return steps * walkers / max(float(np.nanmax(self.autocorr)), 1.0)


def default_walkers(ndim: int) -> int:
    return max(MIN_WALKERS, WALKERS_PER_DIM * ndim)


def fit_mcmc(problem: CalibrationProblem, start: LsqResult, walkers: int | None = None, steps: int = DEFAULT_STEPS,
             burn: int | None = None, seed: int | None = 0,
             on_step: Callable[[int], None] | None = None) -> McmcResult:
    """Sample the posterior; walkers start from the Laplace approximation around the LSQ estimate."""
    from nanocloak.errors import require

    emcee = require("emcee", "fit")

    ndim = problem.ndim
    walkers = walkers or default_walkers(ndim)
    if walkers < 2 * ndim or walkers % 2:
        raise NanocloakError(f"--walkers {walkers}: emcee needs an even number of walkers, at least {2 * ndim} "
                             f"(twice the {ndim} fitted dimensions)")
    if steps < 10:
        raise NanocloakError(f"--steps {steps}: at least 10 steps")
    burn = steps // 5 if burn is None else burn
    if not 0 <= burn < steps:
        raise NanocloakError(f"--burn {burn}: must be between 0 and steps - 1 ({steps - 1})")
    rng = np.random.default_rng(seed)
    p0 = _initial_walkers(problem, start, walkers, rng)
    sampler = emcee.EnsembleSampler(walkers, ndim, problem.log_posterior, vectorize=True, moves=_moves())
    state = emcee.State(p0, random_state=np.random.RandomState(rng.integers(2 ** 31)).get_state())
    for i, _ in enumerate(sampler.sample(state, iterations=steps)):
        if on_step is not None:
            on_step(i + 1)
    tau = sampler.get_autocorr_time(discard=burn, tol=0)
    result = McmcResult(sampler.get_chain(), sampler.get_log_prob(), burn, float(np.mean(sampler.acceptance_fraction)), tau)
    result.convergence = diagnostics.convergence(result.chain, burn, problem.labels)
    result.warnings = _diagnose(result, steps) + diagnostics.convergence_warnings(result.convergence)
    return result


def _moves():
    """Differential-evolution proposals (ter Braak 2006, Stat Comput 16:239; snooker: ter Braak & Vrugt
    2008, Stat Comput 18:435), the mixture emcee's documentation suggests: on these posteriors the
    autocorrelation time measured ~3x shorter than with the default stretch move (docs/fitting.md)."""
    from nanocloak.errors import require

    emcee = require("emcee", "fit")

    return [(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)]


def _initial_walkers(problem: CalibrationProblem, start: LsqResult, walkers: int, rng, tries: int = 20) -> np.ndarray:
    """Draws from N(estimate, Laplace covariance) (sigma: its estimate, SE ~ 1/sqrt(2n)) with a
    finite posterior; a covariance that is not usable falls back to a small ball in prior units."""
    center = start.log_values
    cov = start.cov if np.all(np.isfinite(start.cov)) else np.diag((0.1 * problem.sd) ** 2)
    if problem.estimate_sigma:
        n_free = max(int((~problem.obs.has_sd).sum()), 2)
        center = np.append(center, math.log(start.sigma))
        cov = np.block([[cov, np.zeros((len(cov), 1))], [np.zeros((1, len(cov))), np.array([[0.5 / n_free]])]])
    p0 = np.empty((walkers, problem.ndim))
    todo = np.arange(walkers)
    for _ in range(tries):
        draw = rng.multivariate_normal(center, cov, size=len(todo), method="eigh")
        lp = problem.log_posterior(draw)
        good = np.isfinite(lp)
        p0[todo[good]] = draw[good]
        todo = todo[~good]
        if not len(todo):
            return p0
        cov = cov / 4                   # too wide for the model: shrink toward the estimate
    raise NanocloakError("the sampler could not start: the model refuses parameter values around the least-squares "
                         "estimate (try --method lsq, other --param choices, or check the data)")


def _diagnose(result: McmcResult, steps: int) -> list[str]:
    warnings = []
    kept = steps - result.burn
    tau = float(np.nanmax(result.autocorr))
    if not math.isfinite(tau) or kept < AUTOCORR_LENGTHS * tau:
        warnings.append(f"chain is short: {kept} steps after burn-in, autocorrelation time {tau:.0f} steps "
                        f"(emcee's guidance: > {AUTOCORR_LENGTHS} x tau = {AUTOCORR_LENGTHS * tau:.0f}); "
                        "interval ends may be noisy, run more --steps")
    low, high = ACCEPTANCE_WARN
    if not low <= result.acceptance <= high:
        warnings.append(f"acceptance fraction {result.acceptance:.2f} is outside {low}-{high} (emcee's usual range: "
                        "0.2-0.5): the posterior may be multimodal or badly scaled")
    return warnings


# ------------------------------------------------------------------------------------------------
# the whole calibration
# ------------------------------------------------------------------------------------------------
@dataclass
class FitResult:
    problem: CalibrationProblem
    method: str
    lsq: LsqResult
    mcmc: McmcResult | None = None
    warnings: list[str] = field(default_factory=list)

    def theta_draws(self, n: int, seed: int | None = 0) -> np.ndarray:
        """Posterior draws of theta: chain samples (MCMC) or the Laplace normal (LSQ), sigma last."""
        rng = np.random.default_rng(seed)
        if self.mcmc is not None:
            s = self.mcmc.samples
            return s[rng.choice(len(s), size=min(n, len(s)), replace=False)]
        d = rng.multivariate_normal(self.lsq.log_values, self.lsq.cov, size=n, method="eigh")
        d = np.clip(d, *self.problem.bounds)
        return np.hstack([d, np.full((n, 1), math.log(self.lsq.sigma))]) if self.problem.estimate_sigma else d

    def estimates(self) -> dict[str, float]:
        """The calibrated values: posterior medians (MCMC) or the least-squares estimate."""
        if self.mcmc is not None:
            med = np.median(self.mcmc.samples[:, : len(self.problem.names)], axis=0)
        else:
            med = self.lsq.log_values
        return dict(zip(self.problem.names, np.exp(med).tolist()))

    def calibrated_formulation(self) -> Formulation:
        """The user's formulation (payloads kept) with model.overrides set to the estimates, the
        data times on its output grid and end_h reaching the last one."""
        d = self.problem.formulation.model_dump()
        d["model"]["overrides"] = {**d["model"]["overrides"], **self.estimates()}
        d["simulate"]["end_h"] = float(self.problem.base.simulate.end_h)
        d["simulate"]["output_times_h"] = list(self.problem.base.simulate.output_times_h)
        d["name"] = f"{d['name']} (calibrated)"[:200]
        return from_dict(d, "calibrated formulation")


def fit(formulation: Formulation, frame: pd.DataFrame, parameters: list[str] | None = None, method: str = "mcmc",
        walkers: int | None = None, steps: int = DEFAULT_STEPS, burn: int | None = None, seed: int | None = 0,
        error: str | float = "auto", prior_factors: dict[str, float] | None = None, matrices: list[str] | None = None,
        on_step: Callable[[int], None] | None = None) -> FitResult:
    """Calibrate `formulation` to a tidy frame (time_h, matrix, pct_id[, sd_pct_id])."""
    from nanocloak.simulation.core import resolve_formulation as resolve

    if method not in ("lsq", "mcmc"):
        raise NanocloakError(f"--method {method!r}: use lsq (least squares) or mcmc (Bayesian, emcee)")
    if formulation.core.is_free_drug:
        raise NanocloakError("core.material: free: `nanocloak fit` calibrates the particle model, and a free drug has "
                             "no particle")
    obs = observations_from(frame, formulation, matrices)
    table = resolve(formulation).params.table()
    names = list(parameters) if parameters else default_parameters(obs.observables)
    priors = _with_factors(check_parameters(names, table), prior_factors or {})
    problem = CalibrationProblem(formulation, obs, priors, error)
    lsq = fit_lsq(problem)
    warnings = list(obs.notes)
    if not lsq.success:
        warnings.append(f"least squares did not converge: {lsq.message}")
    for a, b, c in lsq.degenerate:
        warnings.append(f"{a} and {b} act almost identically on these data (|correlation of effects| {c:.3f}): only "
                        "their combination is identified; the priors decide the split")
    mcmc = fit_mcmc(problem, lsq, walkers, steps, burn, seed, on_step) if method == "mcmc" else None
    if mcmc is not None:
        warnings += mcmc.warnings
    return FitResult(problem, method, lsq, mcmc, warnings)


def _with_factors(priors: list[Prior], factors: dict[str, float]) -> list[Prior]:
    names = [p.name for p in priors]
    for name, f in factors.items():
        if name not in names:
            raise NanocloakError(f"--prior {name!r}: not a fitted parameter{did_you_mean(name, names)}; fitted: {', '.join(names)}")
        if not (math.isfinite(f) and f > 1):
            raise NanocloakError(f"--prior {name}={f:g}: the factor at 1 SD must be a number above 1 (e.g. 3)")
    return [Prior(p.name, p.median, factors[p.name], "--prior (user)", p.unit) if p.name in factors else p for p in priors]
