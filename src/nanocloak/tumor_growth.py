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
from typing import Callable

import numpy as np
from scipy.integrate import solve_ivp

from . import library


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


def simulate_growth(params: GrowthParameters, v0_mm3: float, t_h: np.ndarray, kill_rate: Callable[[float], float] | None = None,
                    impulses: list[tuple[float, float]] | None = None) -> GrowthResult:
    """Tumor volume at t_h (h after the first dose). kill_rate(t_h) = k2 C(t) (1/day); impulses:
    (time h, fraction of proliferating cells killed)."""
    impulses = sorted(impulses or [])
    psi, lam0, lam1, k1 = params.psi, params.lambda0_per_day, params.lambda1_g_per_day, params.k1_per_day

    def rhs(t_day, x):
        w = x.sum()
        growth = lam0 * x[0] / (1.0 + (lam0 * w / lam1) ** psi) ** (1.0 / psi)
        kill = (kill_rate(t_day * 24.0) if kill_rate else 0.0) * x[0]
        return [growth - kill, kill - k1 * x[1], k1 * (x[1] - x[2]), k1 * (x[2] - x[3])]

    x = np.array([v0_mm3 / 1000.0, 0.0, 0.0, 0.0])
    out = np.empty(t_h.size)
    edges = [0.0] + [t for t, _ in impulses if 0.0 < t < t_h[-1]] + [float(t_h[-1])]
    fractions = dict(impulses)
    for a, b in zip(edges[:-1], edges[1:]):
        if a in fractions:
            moved = fractions[a] * x[0]
            x = x + np.array([-moved, moved, 0.0, 0.0])
        sel = (t_h >= a) & (t_h <= b)
        t_eval = np.unique(np.r_[t_h[sel], b]) / 24.0
        sol = solve_ivp(rhs, (a / 24.0, b / 24.0), x, t_eval=t_eval, rtol=1e-8, atol=1e-12, method="LSODA")
        if sel.any():
            out[sel] = sol.y.sum(axis=0)[np.searchsorted(sol.t, t_h[sel] / 24.0)] * 1000.0
        x = sol.y[:, -1]
    if 0.0 in fractions and t_h[0] == 0.0:
        out[0] = v0_mm3
    return GrowthResult(t_h, out)
