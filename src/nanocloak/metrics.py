"""Metrics of a simulated time course, as the spec's "Definitions" section defines them."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares

PARTITION = ("blood", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "rest",
             "excreted_urine", "excreted_feces", "degraded")
ORGAN_KEYS = ("liver", "spleen", "lung", "kidney", "heart", "brain", "tumor")


def value_at(t: np.ndarray, y: np.ndarray, at: float) -> float | None:
    """y at time `at` if it is within the simulated span (grid holds the spec's times exactly)."""
    if at > t[-1] + 1e-9:
        return None
    i = int(np.argmin(np.abs(t - at)))
    if abs(t[i] - at) <= 1e-9 * max(1.0, at):
        return float(y[i])
    return float(np.interp(at, t, y))


def mass_balance_error(t: np.ndarray, partition_sum: np.ndarray, n_given: np.ndarray) -> float:
    """max_t |sum of partition - 100 n| / (100 n) over times after the first dose."""
    mask = n_given > 0
    if not mask.any():
        return 0.0
    return float(np.max(np.abs(partition_sum[mask] - 100.0 * n_given[mask]) / (100.0 * n_given[mask])))


#: a phase holding less than this share of the initial blood level is a trickle, not a terminal phase
MIN_TERMINAL_PHASE_SHARE = 0.05


def terminal_half_life(t: np.ndarray, y: np.ndarray, t_last_dose: float) -> float | None:
    """Terminal half-life from a bi-exponential fit A e^-at + B e^-bt (a >= b) of y after the last dose.

    Ordinary least squares on the %ID values, as two-phase fits of blood curves are usually done
    (e.g. Hu 2011), started from several ratios of the two rates, keeping the best fit. The slow
    phase counts as terminal if it holds at least 5% of the initial level; a smaller one is the
    late trickle of particles released back from phagocytes, which a two-phase description cannot
    resolve, and the fast phase is then the terminal (elimination) phase.
    """
    mask = (t > t_last_dose + 1e-9) & np.isfinite(y)
    tau, obs = t[mask] - t_last_dose, y[mask]
    if tau.size < 4 or np.max(obs) <= 0:
        return None
    scale = float(np.max(obs))
    data = obs / scale
    positive = data > 0
    late = positive & (tau >= np.median(tau))
    sel = late if late.sum() >= 2 else positive
    if sel.sum() < 2:
        return None
    slope, intercept = np.polyfit(tau[sel], np.log(data[sel]), 1)
    b0 = max(-slope, 1e-6)

    def curve(p):
        amp_a, amp_b, log_b, log_gap = p
        b = np.exp(log_b)
        return amp_a * np.exp(-b * (1.0 + np.exp(log_gap)) * tau) + amp_b * np.exp(-b * tau)

    best = None
    for log_b in (math.log(b0), math.log(b0) + 1.5, math.log(b0) + 3.0):
        for ratio in (3.0, 10.0, 30.0):
            p0 = [0.5, 0.5, log_b, math.log(ratio - 1.0)]
            try:
                fit = least_squares(lambda p: curve(p) - data, p0, method="trf", max_nfev=3000,
                                    bounds=([0, 0, math.log(1e-8), -10], [10, 10, math.log(1e4), 15]))
            except (ValueError, FloatingPointError):
                continue
            if best is None or fit.cost < best.cost:
                best = fit
    if best is None:
        b = b0
    else:
        amp_a, amp_b, log_b, log_gap = best.x
        b = math.exp(log_b)
        if amp_b < MIN_TERMINAL_PHASE_SHARE * (amp_a + amp_b):
            b *= 1.0 + math.exp(log_gap)
    return math.log(2.0) / b if math.isfinite(b) and b > 0 else None


def trapezoid_auc(t: np.ndarray, y: np.ndarray) -> float:
    return float(np.trapezoid(y, t)) if hasattr(np, "trapezoid") else float(np.trapz(y, t))
