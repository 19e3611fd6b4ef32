"""Tumor growth and drug action: the Simeoni tumor-growth-inhibition model (Simeoni M et al. 2004,
Cancer Res 64:1094).

    dx1/dt = lambda0 x1 / [1 + (lambda0 w / lambda1)^psi]^(1/psi) - k2 C(t) x1
    dx2/dt = k2 C(t) x1 - k1 x2,  dx3/dt = k1 (x2 - x3),  dx4/dt = k1 (x3 - x4)
    w = x1 + x2 + x3 + x4   (tumor weight, g; 1 g = 1000 mm3)

Exponential growth at lambda0 = ln 2 / doubling time while small, linear (lambda1) once large;
damaged cells die through three transit compartments. Lines with a sourced Gompertz fit
(cell_lines.yaml `tumor_growth_gompertz`) grow instead by the Gompertz law (Gompertz B 1825; for
tumors Laird AK 1964, Br J Cancer 18:490; Benzekry S et al. 2014, PLoS Comput Biol 10:e1003800)

    dx1/dt = beta x1 ln(K / w) - k2 C(t) x1       (K: carrying capacity, beta: rate; w < K while x1 grows)

whose untreated solution is w(t) = K exp(ln(w0 / K) e^(-beta t)) (gompertz_volume_mm3); the
other lines keep the exponential-linear law, flagged `assumed` (GrowthParameters.law). Drug potency k2 from the in vitro IC50 of
the drug on the line (k2 = ln 2 / (IC50 x exposure time), therapy.yaml). Heat and light kill a
fraction of the proliferating cells at once (an impulse into x2), from photothermal.py and
photodynamic.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from nanocloak.errors import NanocloakError
from nanocloak.library import tables as library
from nanocloak.solvers.compiled import bisect, inlined, kernel, observe_state, shifted_lu, solve_into
from nanocloak.solvers.stepper import rodas4_stepper


def _g(key: str) -> float:
    return library.value(library.table("therapy")["growth"][key], f"therapy.growth.{key}")


@dataclass(frozen=True)
class GrowthParameters:
    lambda0_per_day: float
    lambda1_g_per_day: float
    psi: float
    k1_per_day: float
    doubling_time_days: float
    capacity_mm3: float = 0.0                  # Gompertz K; 0: the exponential-linear (Simeoni) law
    gompertz_rate_per_day: float = 0.0         # Gompertz beta
    assumed: bool = True                       # no sourced growth law for the line

    @property
    def law(self) -> str:
        return "gompertz" if self.capacity_mm3 > 0 else "exponential_linear"


def growth_parameters(line: str) -> GrowthParameters:
    node = library.entry("cell_lines", line, "cell line")
    td = library.value(node["tumor_doubling_time_days"], f"cell_lines.{line}.tumor_doubling_time_days")
    lam0 = math.log(2.0) / td
    base = (lam0, lam0 * _g("linear_phase_weight_g"), _g("simeoni_psi"), _g("transit_rate_per_day"), td)
    fit = node.get("tumor_growth_gompertz")
    if not isinstance(fit, dict):
        return GrowthParameters(*base)
    where = f"cell_lines.{line}.tumor_growth_gompertz"
    return GrowthParameters(*base, capacity_mm3=library.value(fit["capacity_mm3"], f"{where}.capacity_mm3"),
                            gompertz_rate_per_day=library.value(fit["rate_per_day"], f"{where}.rate_per_day"), assumed=False)


def gompertz_volume_mm3(v0_mm3: float, capacity_mm3: float, rate_per_day: float, t_days):
    """The untreated Gompertz solution V(t) = K exp(ln(V0 / K) e^(-beta t)) (module docstring)."""
    return capacity_mm3 * np.exp(math.log(v0_mm3 / capacity_mm3) * np.exp(-rate_per_day * np.asarray(t_days, float)))


def humane_endpoint_mm3(species: str) -> float | None:
    """Tumor volume at the humane endpoint (a sphere of the guideline's largest diameter), or None."""
    node = library.table("therapy")["growth"].get("humane_endpoint_diameter_mm", {}).get(species)
    if not isinstance(node, dict):
        return None
    d = library.value(node, f"therapy.growth.humane_endpoint_diameter_mm.{species}")
    return math.pi / 6.0 * d**3


def potency_per_uM_per_day(drug: str, line: str) -> float:
    """k2 from the drug's IC50 on the line (or its median IC50 if the line is not tabulated)."""
    d = library.entry("drugs", drug)
    table = d.get("ic50_uM") or {}
    values = {library.normalise_key(k): library.value(v) for k, v in table.items() if isinstance(v, dict)}
    ic50 = values.get(library.normalise_key(line))
    if ic50 is None:
        if not values:
            return 0.0
        ic50 = float(np.median(list(values.values())))
    return math.log(2.0) / (ic50 * _g("ic50_exposure_h") / 24.0)


@dataclass
class GrowthResult:
    t_h: np.ndarray
    volume_mm3: np.ndarray


def simulate_growth(params: GrowthParameters, v0_mm3: float, t_h: np.ndarray,
                    kill_rate: tuple[np.ndarray, np.ndarray] | None = None,
                    impulses: list[tuple[float, float]] | None = None) -> GrowthResult:
    """Tumor volume at t_h (h after the first dose). kill_rate: (times h, k2 C(t) in 1/day), linear
    between the times and constant beyond them; impulses: (time h, fraction of proliferating cells killed)."""
    impulses = sorted(impulses or [])
    t_kill, k_kill = kill_rate if kill_rate is not None else (np.array([0.0]), np.array([0.0]))
    t_kill = np.ascontiguousarray(t_kill, dtype=float) / 24.0
    k_kill = np.ascontiguousarray(k_kill, dtype=float)
    x = np.array([v0_mm3 / 1000.0, 0.0, 0.0, 0.0])
    out = np.empty(t_h.size)
    edges = [0.0] + [t for t, _ in impulses if 0.0 < t < t_h[-1]] + [float(t_h[-1])]
    fractions = dict(impulses)
    rates = np.array([params.lambda0_per_day, params.lambda1_g_per_day, params.psi, params.k1_per_day,
                      params.capacity_mm3 / 1000.0, params.gompertz_rate_per_day])
    for a, b in zip(edges[:-1], edges[1:]):
        if a in fractions:
            moved = fractions[a] * x[0]
            x = x + np.array([-moved, moved, 0.0, 0.0])
        sel = (t_h >= a) & (t_h <= b)
        t_eval = np.unique(np.r_[t_h[sel], b]) / 24.0
        states = np.empty((t_eval.size, 4))
        if _integrate(rates, t_kill, k_kill, a / 24.0, x, t_eval, 1e-8, 1e-12, states) < 0:
            raise NanocloakError("tumor growth model failed to integrate (step limit); check the drug potency and dose")
        if sel.any():
            out[sel] = states.sum(axis=1)[np.searchsorted(t_eval, t_h[sel] / 24.0)] * 1000.0
        x = states[-1].copy()
    if 0.0 in fractions and t_h[0] == 0.0:
        out[0] = v0_mm3
    return GrowthResult(t_h, out)


# ------------------------------------------------------------------------------------------------
# integration by the shared Rodas4 core (solvers/rodas4_template.py): the model is not stiff, but
# scipy drives a Python right-hand side thousands of times per tumor (tens of ms); compiled, a
# growth curve costs microseconds. Steps stop at the kill-rate table's knots, where the rate has
# kinks, so the method keeps its order. m = (rates, knots, kill rates, Jacobian, LU, pivots), time
# in days from the segment's start.
# ------------------------------------------------------------------------------------------------
MAX_STEPS = 1_000_000
INITIAL_STEP_DAYS = 1e-3


@kernel
def _kill(t_kill, k_kill, t):
    """k2 C(t) (1/day), linear between the knots and constant beyond them (as np.interp), and its slope."""
    n = t_kill.size
    if t <= t_kill[0]:
        return k_kill[0], 0.0
    if t >= t_kill[n - 1]:
        return k_kill[n - 1], 0.0
    lo = bisect(t_kill, t)
    hi = lo + 1
    slope = (k_kill[hi] - k_kill[lo]) / (t_kill[hi] - t_kill[lo])
    return slope * (t - t_kill[lo]) + k_kill[lo], slope


@inlined
def _element(batch, e):
    """ELEMENT: the tumor's rates, kill-rate table and work arrays, and its initial state."""
    rates, t_kill, k_kill, x0 = batch
    m = (rates, t_kill, k_kill, np.zeros((4, 4)), np.empty((4, 4)), np.empty(4, dtype=np.int64))
    return m, x0[e].copy()


@kernel
def _growth(rates, x0, w):
    """The proliferating cells' growth (1/day x g): Gompertz where a capacity is set, else Simeoni's."""
    if rates[4] > 0.0:
        return rates[5] * x0 * math.log(rates[4] / w) if w > 0.0 else 0.0
    lam0, lam1, psi = rates[0], rates[1], rates[2]
    return lam0 * x0 / (1.0 + (lam0 * w / lam1) ** psi) ** (1.0 / psi)


@kernel
def _rhs(m, t, x, out):
    """RHS: the Simeoni model, or its Gompertz growth (module docstring)."""
    rates = m[0]
    k1 = rates[3]
    w = x[0] + x[1] + x[2] + x[3]
    growth = _growth(rates, x[0], w)
    kill = _kill(m[1], m[2], t)[0] * x[0]
    out[0] = growth - kill
    out[1] = kill - k1 * x[1]
    out[2] = k1 * (x[1] - x[2])
    out[3] = k1 * (x[2] - x[3])


@kernel
def _jacobian_factor(m, tau, h, g, x, ft):
    """FACTOR: the exact Jacobian at (tau, x) and the kill rate's time derivative, then I - g J."""
    rates, jac = m[0], m[3]
    lam0, lam1, psi, k1 = rates[0], rates[1], rates[2], rates[3]
    w = x[0] + x[1] + x[2] + x[3]
    if rates[4] > 0.0:            # Gompertz: d/dw [beta x1 ln(K/w)] = -beta x1 / w; d/dx1 adds beta ln(K/w)
        d_w = -rates[5] * x[0] / w if w > 0.0 else 0.0
        d_x1 = rates[5] * math.log(rates[4] / w) if w > 0.0 else 0.0
    else:
        z = (lam0 * w / lam1) ** psi
        denom = (1.0 + z) ** (1.0 / psi)
        # d growth / d w through the saturation term: -lam0 x1 z / (w (1 + z)^(1 + 1/psi))
        d_w = -lam0 * x[0] * z / (w * denom * (1.0 + z)) if w > 0.0 else 0.0
        d_x1 = lam0 / denom
    kill = _kill(m[1], m[2], tau)[0]
    slope = _kill(m[1], m[2], tau + 0.5 * h)[1]      # steps never cross a knot
    for j in range(4):
        jac[0, j] = d_w
    jac[0, 0] += d_x1 - kill
    jac[1, 0], jac[1, 1] = kill, -k1
    jac[2, 1], jac[2, 2] = k1, -k1
    jac[3, 2], jac[3, 3] = k1, -k1
    ft[0], ft[1], ft[2], ft[3] = -slope * x[0], slope * x[0], 0.0, 0.0
    shifted_lu(jac, g, m[4], m[5])


@inlined
def _solve(m, g, r, k):
    """SOLVE: dense LU of I - g J."""
    solve_into(m[4], m[5], r, k)


@inlined
def _next_knot(m, tau, end):
    """STOP: the next knot of the kill-rate table (the rate has a kink there), or the end."""
    stop = end
    for knot in m[1]:
        if tau < knot * (1 - 1e-12) and knot < stop:
            stop = knot
            break
    return stop


@cache
def stepper():
    """The growth model's compiled Rodas4 stepper (generated on first use, compiled on first call)."""
    return rodas4_stepper("growth", ELEMENT=_element, FACTOR=_jacobian_factor, RHS=_rhs, SOLVE=_solve, STOP=_next_knot,
                          OBSERVE=observe_state)


def _integrate(rates, t_kill, k_kill, t0, x0, t_eval, rtol, atol, states) -> int:
    """States at t_eval (days, >= t0) from x0 at t0 into states (t_eval.size x 4); returns the
    accepted steps, or a negative number if the integration failed."""
    steps, rejected = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    batch = (rates, np.ascontiguousarray(t_kill - t0), k_kill, np.ascontiguousarray(x0, dtype=float)[None, :])
    stepper().integrate_range(batch, 0, 1, (t_eval - t0)[None, :], np.array([t_eval.size]), INITIAL_STEP_DAYS, rtol, atol,
                              MAX_STEPS, states[None], steps, rejected)
    return int(steps[0])
