"""Tumor growth and drug action: the Simeoni tumor-growth-inhibition model (Simeoni M et al. 2004,
Cancer Res 64:1094).

    dx1/dt = lambda0 x1 / [1 + (lambda0 w / lambda1)^psi]^(1/psi) - k2 C(t) x1
    dx2/dt = k2 C(t) x1 - k1 x2,  dx3/dt = k1 (x2 - x3),  dx4/dt = k1 (x3 - x4)
    w = x1 + x2 + x3 + x4   (tumor weight, g; 1 g = 1000 mm3)

Exponential growth at lambda0 = ln 2 / doubling time while small, linear (lambda1) once large;
damaged cells die through three transit compartments. Drug potency k2 from the in vitro IC50 of
the drug on the line (k2 = ln 2 / (IC50 x exposure time), therapy.yaml). Heat and light kill a
fraction of the proliferating cells at once (an impulse into x2), from photothermal.py and
photodynamic.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from nanocloak.library import tables as library
from nanocloak.errors import NanocloakError
from nanocloak.solvers.rodas4 import FAC_MIN, SAFETY
from nanocloak.model.particle_kernel import error_norm  # the weighted RMS norm all compiled kernels share


def _g(key: str) -> float:
    return library.value(library.table("therapy")["growth"][key], f"therapy.growth.{key}")


@dataclass(frozen=True)
class GrowthParameters:
    lambda0_per_day: float
    lambda1_g_per_day: float
    psi: float
    k1_per_day: float
    doubling_time_days: float


def growth_parameters(line: str) -> GrowthParameters:
    node = library.entry("cell_lines", line, "cell line")
    td = library.value(node["tumor_doubling_time_days"], f"cell_lines.{line}.tumor_doubling_time_days")
    lam0 = math.log(2.0) / td
    return GrowthParameters(lam0, lam0 * _g("linear_phase_weight_g"), _g("simeoni_psi"), _g("transit_rate_per_day"), td)


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
    rates = np.array([params.lambda0_per_day, params.lambda1_g_per_day, params.psi, params.k1_per_day])
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
# compiled Dormand-Prince 5(4) (Dormand JR & Prince PJ 1980, J Comput Appl Math 6:19): the model is
# not stiff, but scipy drives a Python right-hand side thousands of times per tumor (tens of ms);
# compiled, a growth curve costs microseconds. Steps stop at the kill-rate table's knots, where the
# rate has kinks, so the method keeps its order.
# ------------------------------------------------------------------------------------------------
DP_A = np.array([[0, 0, 0, 0, 0], [1 / 5, 0, 0, 0, 0], [3 / 40, 9 / 40, 0, 0, 0], [44 / 45, -56 / 15, 32 / 9, 0, 0],
                 [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0],
                 [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656]])
DP_C = np.array([0.0, 0.2, 0.3, 0.8, 8 / 9, 1.0])
DP_B = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])
DP_E = np.array([71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])


@njit(cache=True)
def _rhs(rates, t_kill, k_kill, t, x, out):
    lam0, lam1, psi, k1 = rates[0], rates[1], rates[2], rates[3]
    w = x[0] + x[1] + x[2] + x[3]
    growth = lam0 * x[0] / (1.0 + (lam0 * w / lam1) ** psi) ** (1.0 / psi)
    kill = np.interp(t, t_kill, k_kill) * x[0]
    out[0] = growth - kill
    out[1] = kill - k1 * x[1]
    out[2] = k1 * (x[1] - x[2])
    out[3] = k1 * (x[2] - x[3])


@njit(cache=True)
def _integrate(rates, t_kill, k_kill, t0, x0, t_eval, rtol, atol, states):
    a, c, b, e = DP_A, DP_C, DP_B, DP_E
    k = np.zeros((7, 4))
    x, xs, xn, local_error = x0.copy(), np.empty(4), np.empty(4), np.empty(4)
    t, h, idx, steps = t0, 1e-3, 0, 0
    while idx < t_eval.size:
        stop = t_eval[idx]
        for knot in t_kill:                     # next kink of the kill rate, if before the output
            if t < knot * (1 - 1e-12) and knot < stop:
                stop = knot
                break
        ht = min(h, stop - t)
        if ht <= 0.0:
            states[idx] = x
            idx += 1
            continue
        _rhs(rates, t_kill, k_kill, t, x, k[0])
        for s in range(1, 6):
            for i in range(4):
                acc = 0.0
                for j in range(s):
                    acc += a[s, j] * k[j, i]
                xs[i] = x[i] + ht * acc
            _rhs(rates, t_kill, k_kill, t + c[s] * ht, xs, k[s])
        for i in range(4):
            acc = 0.0
            for j in range(6):
                acc += b[j] * k[j, i]
            xn[i] = x[i] + ht * acc
        _rhs(rates, t_kill, k_kill, t + ht, xn, k[6])
        for i in range(4):
            acc = 0.0
            for j in range(7):
                acc += e[j] * k[j, i]
            local_error[i] = ht * acc
        err = error_norm(x, xn, local_error, rtol, atol)
        # order-5 controller (exponent 1/5), growth capped at 5x (Hairer, Norsett & Wanner 1993, II.4)
        fac = min(5.0, max(FAC_MIN, SAFETY * max(err, 1e-10) ** -0.2))
        if err <= 1.0:
            t = stop if ht == stop - t else t + ht
            x[:] = xn
            while idx < t_eval.size and t >= t_eval[idx] * (1 - 1e-12):
                states[idx] = x
                idx += 1
            h = max(h, ht * fac) if ht < h else ht * fac
        else:
            h = ht * fac
        steps += 1
        if steps > 1_000_000:
            return -1
    return steps
