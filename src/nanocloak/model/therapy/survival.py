"""Survival of a virtual cohort and its Kaplan-Meier curve (docs/therapy.md, "Survival").

An animal of the cohort is the simulated tumor with its growth rate scaled by a factor a: lambda0
and lambda1 of the Simeoni law (Simeoni M et al. 2004, Cancer Res 64:1094), or beta of the Gompertz
law (Laird AK 1964), are multiplied by a; a is lognormal with median 1 and the CV of therapy.yaml
`survival.growth_rate_cv` (inter-animal variability of the growth rate as a nonlinear mixed-effects
fit gives it, Vaghi C et al. 2020, PLoS Comput Biol 16:e1007178). The cohort is the n quantiles
a_i = exp(sigma z_i), z_i = Phi^-1((i + 1/2) / n), sigma = sqrt(ln(1 + CV^2)): deterministic, no
random draws. An animal dies (leaves the study) when its tumor first reaches the species' humane
endpoint (growth.humane_endpoint_mm3); one still below it at the follow-up is censored there.

Untreated, the growth law scaled by a is the same law in the time a t (both laws are autonomous
and their right-hand sides scale by a, the drug term being absent), so T_i = T_1 / a_i exactly:
one curve gives the whole untreated arm. Treated, the kill rate k2 C(t) does not scale, so each
animal is integrated (the compiled growth stepper, growth.py).

All animals are followed to the same time (administrative censoring only), so the Kaplan-Meier
estimate (Kaplan EL & Meier P 1958, J Am Stat Assoc 53:457) is the fraction still alive,
S(t) = #{T_i > t} / n, and its median is the smallest t with S(t) <= 1/2: the ceil(n/2)-th
smallest T_i, null (None) when that animal is censored, i.e. when more than half the cohort is
still alive at the follow-up.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np

from nanocloak.library import tables as library
from nanocloak.model.therapy import growth as tumor_growth

NO_ENDPOINT_REASON = "human survival is not modelled (no humane endpoint)"
NODES = 11                    # treated animals integrated exactly (plus the median one), _treated_days
TAIL_DECADES = 4.0            # the kill-rate tail is followed down 10^4-fold, then taken as zero
OUTPUT_STEP_H = 12.0          # output grid of the cohort's curves; crossings interpolated in log volume


def survival_constant(key: str) -> float:
    """A constant of therapy.yaml `survival` (cohort size, growth-rate CV, follow-up)."""
    return library.value(library.table("therapy")["survival"][key], f"therapy.survival.{key}")


@dataclass(frozen=True)
class Survival:
    """Each animal's time to the endpoint (days; inf: censored at follow_up_days), both arms."""
    treated_days: np.ndarray
    control_days: np.ndarray
    follow_up_days: float
    growth_factors: np.ndarray
    exposure_truncated: bool = False    # the kill rate did not decay at the simulated end: cut there

    @property
    def median_d(self) -> float | None:
        return km_median(self.treated_days)

    @property
    def median_untreated_d(self) -> float | None:
        return km_median(self.control_days)


def growth_factors(n: int, cv: float) -> np.ndarray:
    """The n growth-rate factors: quantiles (i + 1/2)/n of a lognormal of median 1 and this CV."""
    sigma = math.sqrt(math.log1p(cv * cv))
    return np.exp(sigma * _normal_quantiles(n))


@lru_cache(maxsize=16)
def _normal_quantiles(n: int) -> np.ndarray:
    """z_i = Phi^-1((i + 1/2) / n), read-only (cached: the same for every formulation of a cohort size)."""
    z = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])     # stdlib: no scipy at start-up
    z.flags.writeable = False
    return z


def km_median(days: np.ndarray) -> float | None:
    """The Kaplan-Meier median with censoring only at the common follow-up (module docstring)."""
    t = np.sort(np.asarray(days, float))
    m = t[math.ceil(t.size / 2) - 1]
    return float(m) if math.isfinite(m) else None


def km_curve(days: np.ndarray, follow_up_days: float) -> tuple[np.ndarray, np.ndarray]:
    """(t, S) of the step function S(t) = #{T > t} / n from 0 to the follow-up (for drawing)."""
    t = np.sort(np.asarray(days, float))
    events = t[np.isfinite(t)]
    times = np.r_[0.0, events, follow_up_days]
    alive = np.r_[t.size, t.size - np.arange(1, events.size + 1), t.size - events.size] / t.size
    return times, alive


def first_crossing_days(t_h: np.ndarray, v: np.ndarray, level: float) -> float:
    """Days until v first reaches level, interpolated in log v (exact for exponential growth); inf if never."""
    above = np.flatnonzero(v >= level)
    if not above.size:
        return math.inf
    i = int(above[0])
    if i == 0:
        return float(t_h[0]) / 24.0
    lo, hi = math.log(max(v[i - 1], 1e-300)), math.log(v[i])
    frac = (math.log(level) - lo) / (hi - lo) if hi > lo else 1.0
    return float(t_h[i - 1] + frac * (t_h[i] - t_h[i - 1])) / 24.0


def scaled(params: tumor_growth.GrowthParameters, a: float) -> tumor_growth.GrowthParameters:
    """The growth law with its rates times a (lambda0, lambda1, beta; the doubling time / a)."""
    return dataclasses.replace(params, lambda0_per_day=params.lambda0_per_day * a,
                               lambda1_g_per_day=params.lambda1_g_per_day * a,
                               gompertz_rate_per_day=params.gompertz_rate_per_day * a,
                               doubling_time_days=params.doubling_time_days / a)


def extend_kill(kill, end_h: float, horizon_h: float):
    """The kill-rate table beyond the simulated end: continued by its own exponential decay over
    the last day (the free drug in the tumor is being cleared), or cut to zero there when it does not
    decay. Returns (table or None, truncated)."""
    if kill is None:
        return None, False
    t, k = np.asarray(kill[0], float), np.asarray(kill[1], float)
    t_end, r_end = float(t[-1]), float(k[-1])
    if t_end >= horizon_h or r_end <= 0.0:
        return (np.r_[t, horizon_h], np.r_[k, 0.0]) if t_end < horizon_h else (t, k), False
    prev = np.flatnonzero(t <= t_end - 24.0)
    r_prev = float(k[prev[-1]]) if prev.size else r_end
    if r_prev <= r_end:
        return (np.r_[t, t_end + 1.0, horizon_h], np.r_[k, 0.0, 0.0]), True
    rate = math.log(r_prev / r_end) / (t_end - float(t[prev[-1]]))          # 1/h
    step = min(24.0, math.log(2.0) / rate)
    last = min(horizon_h, t_end + TAIL_DECADES * math.log(10.0) / rate)   # then zero: fewer knots to stop at
    tail = np.minimum(t_end + step * np.arange(1, int(math.ceil((last - t_end) / step)) + 1), last)
    rates = r_end * np.exp(-rate * (tail - t_end))
    if last < horizon_h:
        tail, rates = np.r_[tail, horizon_h], np.r_[rates, 0.0]
    return (np.r_[t, tail], np.r_[k, rates]), False


def cohort_survival(params: tumor_growth.GrowthParameters, v0_mm3: float, endpoint_mm3: float, end_h: float,
                    kill=None, impulses=None, n: int | None = None, cv: float | None = None,
                    follow_up_days: float | None = None) -> Survival:
    """The cohort's times to the endpoint, treated (kill, impulses as growth.simulate_growth takes
    them) and untreated; n, cv and follow-up default to therapy.yaml `survival`."""
    n = int(survival_constant("cohort_size")) if n is None else n
    cv = survival_constant("growth_rate_cv") if cv is None else cv
    follow = max(survival_constant("follow_up_days") if follow_up_days is None else follow_up_days, end_h / 24.0)
    a = growth_factors(n, cv)
    control = _untreated_days(params, float(v0_mm3), float(endpoint_mm3), n, float(cv), float(follow))
    if kill is None and not impulses:
        return Survival(control, control, follow, a)
    kill_ext, truncated = extend_kill(kill, end_h, follow * 24.0)
    grid = _grid(follow * 24.0, impulses)

    first: list[float] = []          # the first animal's time (the median one, _treated_days) bounds the others'

    def crossing(x: float, horizon_d: float) -> float:
        g = grid[grid <= horizon_d * 24.0 + 1e-9]
        return first_crossing_days(g, tumor_growth.simulate_growth(scaled(params, x), v0_mm3, g, kill_ext,
                                                                   impulses).volume_mm3, endpoint_mm3)

    def days(x: float) -> float:
        # growth past the crossing does not matter: integrate to a guess first (T ~ 1/a untreated,
        # widened for a slower animal), to the follow-up only if the guess falls short
        t = crossing(x, min(follow, 1.25 * first[0] / min(x, 1.0) ** 2)) if first and math.isfinite(first[0]) else math.inf
        if not math.isfinite(t):
            t = crossing(x, follow)
        first.append(t)
        return t if t <= follow else math.inf

    return Survival(_treated_days(days, a), control, follow, a, truncated)


def _treated_days(days, a: np.ndarray) -> np.ndarray:
    """Each animal's treated time to the endpoint. Integrated exactly at NODES animals spread over
    the cohort and at the median animal; the others interpolated monotonically (PCHIP in ln a, ln T: monotone_cubic)
    between integrated neighbours, which keeps the median exact while T falls with a. Where the nodes
    do not fall monotonically, or next to a censored node, every animal is integrated."""
    n = a.size
    if a[-1] <= a[0] * (1.0 + 1e-12):                     # no spread: one animal stands for all
        return np.full(n, days(float(a[0])))
    if n <= 2 * NODES:
        return np.array([days(float(x)) for x in a])
    mid = n - math.ceil(n / 2)                          # a ascends, T descends: the median animal
    idx = np.unique(np.r_[np.linspace(0, n - 1, NODES).round().astype(int), mid - 1, mid, mid + 1])
    out = np.full(n, np.nan)
    for i in [mid, *[j for j in idx if j != mid]]:      # the median animal first
        out[i] = days(float(a[i]))
    if np.any(np.diff(out[idx]) > 0):
        return np.array([out[i] if i in idx else days(float(a[i])) for i in range(n)])
    finite = idx[np.isfinite(out[idx])]
    if finite.size >= 2:
        span = np.arange(finite[0], finite[-1] + 1)
        fill = monotone_cubic(np.log(a[finite]), np.log(out[finite]), np.log(a[span]))
        out[span] = np.where(np.isnan(out[span]), np.exp(fill), out[span])
    for i in np.flatnonzero(np.isnan(out)):              # beside a censored node: integrate
        out[i] = days(float(a[i]))
    return out


def _pchip_slopes(h: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Node derivatives of the monotone piecewise-cubic Hermite interpolant: a weighted harmonic mean
    of the neighbouring secants where they agree in sign, else 0 (Fritsch FN & Butland J 1984, SIAM J
    Sci Stat Comput 5:300), and the shape-preserving three-point rule at the ends."""
    d = np.zeros(h.size + 1)
    w1, w2 = 2.0 * h[1:] + h[:-1], h[1:] + 2.0 * h[:-1]
    same = (np.sign(m[:-1]) * np.sign(m[1:])) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        d[1:-1] = np.where(same, (w1 + w2) / (w1 / m[:-1] + w2 / m[1:]), 0.0)
    for end, (h0, h1, m0, m1) in ((0, (h[0], h[1], m[0], m[1])), (-1, (h[-1], h[-2], m[-1], m[-2]))):
        e = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        if np.sign(e) != np.sign(m0):
            e = 0.0
        elif np.sign(m0) != np.sign(m1) and abs(e) > abs(3.0 * m0):
            e = 3.0 * m0
        d[end] = e
    return d


def monotone_cubic(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Monotone cubic (PCHIP) interpolation of (x, y) at xq, x increasing, >= 3 nodes, else linear.
    The same interpolant as scipy.interpolate.PchipInterpolator (tests/test_survival.py holds them
    together), written out because importing scipy.interpolate pulls scipy.special into every
    simulate with a drug (~0.2 s of start-up, issue 12)."""
    if x.size < 3:
        return np.interp(xq, x, y)
    h, dy = np.diff(x), np.diff(y)
    d = _pchip_slopes(h, dy / h)
    k = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, x.size - 2)
    t = (xq - x[k]) / h[k]
    h00, h10, h01, h11 = (2 * t**3 - 3 * t**2 + 1), (t**3 - 2 * t**2 + t), (-2 * t**3 + 3 * t**2), (t**3 - t**2)
    return h00 * y[k] + h10 * h[k] * d[k] + h01 * y[k + 1] + h11 * h[k] * d[k + 1]


def _grid(horizon_h: float, impulses=None, step_h: float = OUTPUT_STEP_H) -> np.ndarray:
    if not impulses:
        return _plain_grid(float(horizon_h), float(step_h))
    steps = max(int(math.ceil(horizon_h / step_h)), 1)
    return np.unique(np.r_[np.linspace(0.0, horizon_h, steps + 1), [t for t, _ in impulses or [] if t < horizon_h]])


@lru_cache(maxsize=64)
def _plain_grid(horizon_h: float, step_h: float) -> np.ndarray:
    """_grid without impulses, read-only (cached: every formulation of a follow-up shares it)."""
    steps = max(int(math.ceil(horizon_h / step_h)), 1)
    grid = np.unique(np.linspace(0.0, horizon_h, steps + 1))
    grid.flags.writeable = False
    return grid


@lru_cache(maxsize=256)
def _untreated_days(params, v0_mm3: float, endpoint_mm3: float, n: int, cv: float, follow: float) -> np.ndarray:
    """T_i = T_1 / a_i (module docstring): one untreated curve, long enough for the fastest animal
    (cached: the untreated arm depends only on the line, the start volume and the cohort)."""
    a = growth_factors(n, cv)
    horizon_h = follow * 24.0 * float(a.max())
    grid = _grid(horizon_h, step_h=1.0)                   # one curve: a fine grid costs little
    t1 = first_crossing_days(grid, tumor_growth.simulate_growth(params, v0_mm3, grid).volume_mm3, endpoint_mm3)
    days = t1 / a
    days[days > follow] = math.inf
    days.flags.writeable = False                 # shared between results
    return days


def survival_metrics(s: Survival | None, species: str) -> dict:
    """metrics.therapy survival keys (docs/spec.md): medians (null when more than half are censored
    or the species has no humane endpoint) and what a null means."""
    if s is None:
        return {"survival_median_d": None, "survival_median_untreated_d": None, "survival_note": NO_ENDPOINT_REASON
                if species == "human" else f"no humane-endpoint volume for species {species!r}: survival not modelled"}
    m: dict[str, Any] = {"survival_median_d": s.median_d, "survival_median_untreated_d": s.median_untreated_d,
         "survival_censored_fraction": float(np.mean(~np.isfinite(s.treated_days))),
         "survival_censored_fraction_untreated": float(np.mean(~np.isfinite(s.control_days))),
         "survival_follow_up_d": s.follow_up_days, "survival_cohort_size": int(s.growth_factors.size)}
    censored = [arm for arm, v in (("treated", s.median_d), ("untreated", s.median_untreated_d)) if v is None]
    if censored:
        m["survival_note"] = (f"more than half of the {' and '.join(censored)} cohort is below the humane endpoint at "
                              f"the {s.follow_up_days:g}-day follow-up (censored): median not reached")
    if s.exposure_truncated:
        earlier = f"{m['survival_note']}; " if "survival_note" in m else ""
        m["survival_note"] = earlier + "the drug's kill rate had not decayed by simulate.end_h and is taken as stopping there"
    return m
