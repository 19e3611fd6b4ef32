"""The terminal phase of a concentration curve by the NCA rule: log-linear least squares over the
last n >= 3 positive points after Tmax, the largest n whose adjusted R2 is within 1e-4 of the best
(PKNCA's rule). Used by lab NCA and by the model's `blood_t_half_nca_h` (sampled as a lab samples)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: a typical blood sampling schedule of nanoparticle PK studies (h): 5 and 30 min, 1, 2, 4, 8, 24,
#: 48, 72, 120, 168 h, then weekly (assumption: what the model's NCA half-life samples)
LAB_SAMPLING_H = (0.083, 0.5, 1.0, 2.0, 4.0, 8.0, 24.0, 48.0, 72.0, 120.0, 168.0, 336.0, 504.0)


MIN_LAMBDA_Z_POINTS = 3


ADJ_R2_TOLERANCE = 1e-4          # PKNCA default adj.r.squared.factor


@dataclass
class LambdaZ:
    """Terminal log-linear fit: ln C = intercept - lambda_z t over the chosen points."""

    lambda_z: float
    intercept: float
    n_points: int
    r2: float
    r2_adjusted: float
    t_first: float
    t_last: float
    used: np.ndarray = field(repr=False)   # boolean mask over the observed points


def fit_lambda_z(t: np.ndarray, c: np.ndarray) -> LambdaZ | None:
    """The adjusted-R2 rule (module docstring); None with fewer than 3 positive points after Tmax."""
    t, c = np.asarray(t, float), np.asarray(c, float)
    i_max = int(np.argmax(c))
    candidates = np.flatnonzero((np.arange(t.size) > i_max) & (c > 0))
    times, logs = t[candidates].tolist(), np.log(c[candidates]).tolist()
    best: list[tuple[float, int, tuple[float, float, float]]] = []      # (adjusted R2, n, fit)
    for n in range(MIN_LAMBDA_Z_POINTS, candidates.size + 1):
        fit = _line(times[-n:], logs[-n:])
        if fit is None or fit[0] <= 0:
            continue
        r2_adj = 1.0 - (1.0 - fit[2]) * (n - 1) / (n - 2)
        best.append((r2_adj, n, fit))
    if not best:
        return None
    top = max(b[0] for b in best)
    r2_adj, n, (lam, intercept, r2) = max((b for b in best if b[0] >= top - ADJ_R2_TOLERANCE), key=lambda b: b[1])
    idx = candidates[-n:]
    used = np.zeros(t.size, bool)
    used[idx] = True
    return LambdaZ(lam, intercept, n, r2, r2_adj, float(t[idx[0]]), float(t[idx[-1]]), used)


def _line(t: list[float], y: list[float]) -> tuple[float, float, float] | None:
    """log_linear on a few points as plain floats (fit_lambda_z fits up to a dozen windows per curve,
    for every simulated design: numpy's per-call cost would be most of it)."""
    if max(t) - min(t) == 0:
        return None
    n = len(t)
    t_mean, y_mean = math.fsum(t) / n, math.fsum(y) / n
    sxx = math.fsum((a - t_mean) ** 2 for a in t)
    slope = math.fsum((a - t_mean) * (b - y_mean) for a, b in zip(t, y)) / sxx
    intercept = y_mean - slope * t_mean
    ss_tot = math.fsum((b - y_mean) ** 2 for b in y)
    ss_res = math.fsum((b - (intercept + slope * a)) ** 2 for a, b in zip(t, y))
    r2 = 1.0 if ss_tot == 0 else 1.0 - ss_res / ss_tot
    return -slope, intercept, r2


def log_linear(t: np.ndarray, y: np.ndarray) -> tuple[float, float, float] | None:
    """(lambda, intercept, R2) of the least-squares line y = intercept - lambda t."""
    if np.ptp(t) == 0:
        return None
    # the least-squares line in centred form (slope = Sxy / Sxx; e.g. Draper & Smith 1998, Applied
    # Regression Analysis, ch. 1): the solution np.polyfit(t, y, 1) gives by SVD, agreeing with it to
    # rounding (~1e-15), at a tenth of its cost (it runs for every simulated design)
    t_mean, y_mean = float(t.mean()), float(y.mean())
    dt = t - t_mean
    slope = float(dt @ (y - y_mean)) / float(dt @ dt)
    intercept = y_mean - slope * t_mean
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - (intercept + slope * t)) ** 2))
    r2 = 1.0 if ss_tot == 0 else 1.0 - ss_res / ss_tot
    return -float(slope), float(intercept), r2



def nca_half_life(t: np.ndarray, y: np.ndarray, t_last_dose: float) -> float | None:
    """Terminal half-life by the NCA rule of the curve (t, y) sampled at LAB_SAMPLING_H after the last dose."""
    times = np.array([t_last_dose + s for s in LAB_SAMPLING_H if t_last_dose + s <= t[-1] + 1e-9])
    if times.size < MIN_LAMBDA_Z_POINTS:
        return None
    fit = fit_lambda_z(times - t_last_dose, np.interp(times, t, y))
    return None if fit is None else math.log(2.0) / fit.lambda_z
