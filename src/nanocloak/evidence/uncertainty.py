"""Parameter uncertainty of a calibration carried to a formulation's metrics (`simulate --uncertainty`).

The calibration file holds the fitted parameters' covariance on their fitted scales (log or
linear; evidence/calibrate.py). Draws from that normal distribution, clipped to the parameters'
bounds, become trial calibrations; the formulation is simulated under each and every numeric metric
is summarised by its 5th and 95th percentiles (`metrics_p05`, `metrics_p95`).
"""

from __future__ import annotations

import math

import numpy as np

from nanocloak.errors import NanocloakError
from nanocloak.evidence import calibrate as cal
from nanocloak.library import calibrations

DEFAULT_DRAWS = 32


def parameter_draws(calibration: str | None, n: int, seed: int = 0) -> list[dict[str, float]]:
    """n draws of the calibrated parameters (natural units) from the calibration's covariance."""
    doc = calibrations.table(calibration)
    fitted, cov = doc.get("fitted"), doc.get("covariance")
    if not fitted or not cov:
        raise NanocloakError(f"--uncertainty: calibration {calibrations.calibration_id(calibration)!r} holds no parameter "
                             "covariance (only `nanocloak calibrate evidence` calibrations do)")
    params = {p.key: p for p in cal.parameters()}
    keys = [k for k in fitted if k in params]
    values = cal.calibration_values(calibration)
    mean = np.array([params[k].to_x(values[k]) for k in keys])
    index = [fitted.index(k) for k in keys]
    sigma = np.asarray(cov, dtype=float)[np.ix_(index, index)]
    sigma = 0.5 * (sigma + sigma.T) + 1e-12 * np.eye(len(keys))
    draws = np.random.default_rng(seed).multivariate_normal(mean, sigma, size=n, method="eigh")
    out = []
    for row in draws:
        d = {}
        for k, x in zip(keys, row):
            lo, hi = params[k].x_bounds
            d[k] = params[k].from_x(float(np.clip(x, lo, hi)))
        out.append(d)
    return out


def metric_bands(f, n: int = DEFAULT_DRAWS, seed: int = 0) -> tuple[dict, dict]:
    """(metrics_p05, metrics_p95) of formulation f over n parameter draws of its calibration."""
    from nanocloak.screen.evaluation import flatten_metrics
    from nanocloak.simulation.core import simulate_many

    trials = cal.TrialCalibrations()
    try:
        forms = []
        for draw in parameter_draws(f.model.calibration, n, seed):
            g = f.model_copy(deep=True)
            g.model.calibration = trials.write(draw)
            forms.append(g)
        flat = [flatten_metrics(r.metrics) for r in simulate_many(forms)]
    finally:
        trials.close()
    keys = sorted({k for m in flat for k in m})
    p05, p95 = {}, {}
    for k in keys:
        v = np.array([m[k] for m in flat if k in m and m[k] is not None and math.isfinite(m[k])], dtype=float)
        if v.size:
            p05[k], p95[k] = float(np.percentile(v, 5)), float(np.percentile(v, 95))
    return p05, p95
