"""The fit's fast model: the base formulation resolved once, each theta a rescaling of its arrays.

A fit evaluates the same formulation thousands of times with a few `model.overrides` changed.
Resolving every parameter, building a SimulationResult and its metrics each time costs ~3x the
integration (docs/fitting.md, profile). Here the base is resolved once; the ParticleSystem arrays
(and the element weights) are probed for how they depend on each fitted parameter p. Every entry
that the probes show to be a monomial, entry = entry0 * prod_k (p_k / p0_k)^a_k with integer a_k
(p enters the arrays as a factor or a divisor: an uptake rate times a recognition factor, a ramp's
half-time), is rebuilt from theta by that product; the batch is integrated by the compiled engine
and the model read at the data times directly. When a probe finds anything else (a parameter
feeding a sum, a clamp, a derived size), or a validation at random joint points differs from the
full resolution by more than VALIDATION_RTOL, the fit keeps the full path (`available` is False).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from nanocloak.errors import NanocloakError
from nanocloak.library import tables as library
from nanocloak.model import particle as whole_body
from nanocloak.model import particle_kernel
from nanocloak.model.parameters import particle_systems
from nanocloak.model.parameters.core import check_override, override_range
from nanocloak.simulation.core import DEFAULT_ATOL, DEFAULT_RTOL, output_grid, resolve_formulation
from nanocloak.spec.formulation import Formulation, ModelOptions

#: the probes' steps in ln(parameter) (two, so an exponent is measured twice)
PROBE_STEPS = (0.4, -0.3)
#: a probed exponent this close to an integer is taken to be that integer (rounding noise ~1e-15)
EXPONENT_TOLERANCE = 1e-9
#: the rebuilt arrays must equal a full resolution this closely at the validation points
VALIDATION_RTOL = 1e-12
VALIDATION_POINTS = 3
#: what resolution raises for values it refuses (fitting.py imports it from here)
MODEL_REFUSALS = (NanocloakError, ValueError, FloatingPointError, np.linalg.LinAlgError)


class FastModel:
    """Model %ID at the data for rows of ln(parameters), or `available` False (use the full path)."""

    def __init__(self, base: Formulation, names: list[str], log_center: np.ndarray, log_bounds: tuple,
                 observables: np.ndarray, time_h: np.ndarray, seed: int = 0):
        self.base, self.names = base, list(names)
        self.center = np.asarray(log_center, dtype=float)
        self.available = False
        self.reason = ""
        try:
            self._build(observables, time_h, log_bounds, np.random.default_rng(seed))
        except _NotMonomial as e:
            self.reason = str(e)
        except MODEL_REFUSALS as e:     # the model refused a probe's values: keep the full path
            self.reason = f"probe refused: {e}"

    # ---- setting up ------------------------------------------------------------------------
    def _arrays(self, log_values: np.ndarray, describe: bool = False):
        """(resolved, {field: array}) of one full resolution at ln(parameters) (describe: with units)."""
        overrides = {**self.base.model.overrides, **dict(zip(self.names, np.exp(log_values).tolist()))}
        f = self.base.model_copy(update={"model": ModelOptions(overrides=overrides)})
        r = resolve_formulation(f, describe=describe)
        system, weights, t_dose = particle_systems(r)
        arrays = {fl.name: np.asarray(getattr(system, fl.name), dtype=float) for fl in fields(system)}
        arrays["weights"] = np.asarray(weights, dtype=float)
        arrays["t_dose"] = np.asarray(t_dose, dtype=float)
        return r, arrays

    def _build(self, observables, time_h, log_bounds, rng) -> None:
        r0, a0 = self._arrays(self.center, describe=True)     # the units: for the allowed ranges
        if r0.formulation.dose.route != "iv" or np.any(a0["depot0"] > 0):
            raise _NotMonomial("a depot route (integrated apart, with a depot series)")
        self.units = [r0.params.parameter(n).unit for n in self.names]
        ranges = [override_range(n, u) for n, u in zip(self.names, self.units)]
        self.range_lo = np.array([library.value(g["min"]) for g in ranges], dtype=float)
        self.range_hi = np.array([library.value(g["max"]) for g in ranges], dtype=float)
        self.range_exclusive = np.array([bool(g.get("min_exclusive")) for g in ranges])
        self.a0 = a0
        self.exponents = {k: np.zeros((len(self.names),) + v.shape) for k, v in a0.items()}
        for j in range(len(self.names)):
            self._probe(j)
        lo, hi = log_bounds
        for corner in _corners(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)):
            self._same_refusal(corner)  # refusals in the search box: the allowed ranges only (intervals)
        for theta in self._accepted(rng, lo, hi):
            _, full = self._arrays(theta)
            fast = self._scaled(theta[None, :])
            for k, v in full.items():
                if not np.allclose(fast[k][..., 0, :], v, rtol=VALIDATION_RTOL, atol=0.0):
                    raise _NotMonomial(f"{k} differs from the full resolution at a validation point")
        self.grid = output_grid(r0.formulation)
        self.offsets = np.searchsorted(self.grid, a0["t_dose"], side="right")
        self.tau = np.full((len(self.grid), len(a0["t_dose"])), np.nan)
        for e, (td, off) in enumerate(zip(a0["t_dose"], self.offsets)):
            self.tau[: len(self.grid) - off, e] = self.grid[off:] - td
        self._reading(r0, observables, time_h)
        self.available = True

    def _same_refusal(self, theta: np.ndarray) -> None:
        refused = not self.accepted(theta[None, :])[0]
        try:
            self._arrays(theta)
        except MODEL_REFUSALS:
            if not refused:
                raise _NotMonomial("the model refuses values inside the allowed ranges") from None
            return
        if refused:
            raise _NotMonomial("the allowed ranges refuse values the model accepts")

    def _accepted(self, rng, lo, hi, tries: int = 100):
        """VALIDATION_POINTS draws over the search box inside the allowed ranges."""
        found = 0
        for _ in range(tries):
            theta = rng.uniform(lo, hi)
            if self.accepted(theta[None, :])[0]:
                found += 1
                yield theta
                if found == VALIDATION_POINTS:
                    return
        raise _NotMonomial("no validation point inside the allowed ranges")

    def _probe(self, j: int) -> None:
        ratios = {}
        for step in PROBE_STEPS:
            theta = self.center.copy()
            theta[j] += step
            _, a = self._arrays(theta)
            ratios[step] = a
        for k, v0 in self.a0.items():
            measured = []
            for step, a in ratios.items():
                v = a[k]
                zero = v0 == 0
                if np.any(v[zero] != 0) or np.any((v == 0) & ~zero) or np.any(np.sign(v) != np.sign(v0)):
                    raise _NotMonomial(f"{self.names[j]} moves {k} through zero")
                with np.errstate(divide="ignore", invalid="ignore"):
                    measured.append(np.where(zero, 0.0, np.log(np.abs(v) / np.where(zero, 1.0, np.abs(v0))) / step))
            a1, a2 = measured
            rounded = np.round(a1)
            if np.any(np.abs(a1 - rounded) > EXPONENT_TOLERANCE) or np.any(np.abs(a2 - rounded) > EXPONENT_TOLERANCE):
                raise _NotMonomial(f"{k} is not a power of {self.names[j]}")
            self.exponents[k][j] = rounded

    def _reading(self, r0, observables, time_h) -> None:
        """Which grid row and which observable(s) each data row reads (SimulationResult.build's
        series: 'rest' holds muscle too)."""
        self.rows = np.searchsorted(self.grid, np.asarray(time_h, dtype=float))
        if np.any(self.grid[np.minimum(self.rows, len(self.grid) - 1)] != time_h):
            raise _NotMonomial("a data time is not on the output grid")
        names = list(whole_body.OBSERVABLES)
        self.columns = []
        for name in observables:
            if name not in names or name == "muscle" or (name == "tumor" and r0.formulation.subject.tumor is None):
                raise _NotMonomial(f"observable {name!r} is not a plain model series")
            cols = [names.index(name)] + ([names.index("muscle")] if name == "rest" else [])
            self.columns.append(cols)

    # ---- evaluating ------------------------------------------------------------------------
    def _scaled(self, log_values: np.ndarray) -> dict[str, np.ndarray]:
        """{field: array (..., n, elements)}: each base array rebuilt for every row of theta."""
        d = np.exp(log_values - self.center[None, :])          # (n, p) p / p0
        out = {}
        for k, v0 in self.a0.items():
            a = self.exponents[k]
            if not np.any(a):
                out[k] = np.repeat(v0[..., None, :], len(d), axis=-2)
                continue
            factor = np.ones((len(d),) + v0.shape)
            for j in range(len(self.names)):
                if np.any(a[j]):
                    factor = factor * d[:, j].reshape((-1,) + (1,) * v0.ndim) ** a[j][None]
            out[k] = np.moveaxis(v0[None] * factor, 0, -2)      # (..., n, elements)
        return out

    def check(self, log_values: np.ndarray) -> None:
        """The refusals resolution would raise for these values (allowed ranges of overrides)."""
        for row in np.exp(np.atleast_2d(log_values)):
            for name, value, unit in zip(self.names, row.tolist(), self.units):
                check_override(name, value, unit)

    def accepted(self, log_values: np.ndarray) -> np.ndarray:
        """Per row: inside every allowed range (check_override's test, vectorised; the corners of the
        search box hold it to resolution's refusals)."""
        p = np.exp(np.atleast_2d(log_values))
        out = np.all(np.isfinite(p) & (p <= self.range_hi), axis=1)
        return out & np.all(np.where(self.range_exclusive, p > self.range_lo, p >= self.range_lo), axis=1)

    def predict(self, log_values: np.ndarray) -> np.ndarray:
        """Model %ID at every observation, shape (n, n_obs) (NaN rows: refused), in the full path's
        summation order."""
        log_values = np.atleast_2d(log_values)
        ok = self.accepted(log_values)
        out = np.full((len(log_values), len(self.rows)), np.nan)     # refused rows: NaN, as the full path
        if ok.any():
            out[ok] = self._predict(log_values[ok])
        return out

    def _predict(self, log_values: np.ndarray) -> np.ndarray:
        n, e = len(log_values), len(self.a0["t_dose"])
        scaled = self._scaled(log_values)
        weights = scaled.pop("weights").reshape(n, e)
        scaled.pop("t_dose")
        system = whole_body.ParticleSystem(**{k: v.reshape(v.shape[:-2] + (n * e,)) for k, v in scaled.items()})
        tau = np.tile(self.tau, (1, n))
        obs = particle_kernel.integrate(system, tau, DEFAULT_RTOL, DEFAULT_ATOL).observations   # (time, observable, n*e)
        out = np.zeros((n, len(self.rows)))
        for i, (g, cols) in enumerate(zip(self.rows, self.columns)):
            for c in cols:
                total = np.zeros(n)
                for k, off in enumerate(self.offsets):
                    if g >= off:
                        total = total + weights[:, k] * obs[g - off, c, k::e][:n]
                out[:, i] = total if c == cols[0] else out[:, i] + total
        return out


def fast_model(base: Formulation, names: list[str], log_center: np.ndarray, log_bounds: tuple, obs) -> FastModel | None:
    """The fast model of a fit's problem (obs: its Observations), or None where the full path stays."""
    fast = FastModel(base, names, log_center, log_bounds, obs.observable, obs.time_h)
    return fast if fast.available else None


class _NotMonomial(Exception):
    pass


def _corners(lo: np.ndarray, hi: np.ndarray):
    for mask in range(2 ** len(lo)):
        yield np.where([(mask >> j) & 1 for j in range(len(lo))], hi, lo)
