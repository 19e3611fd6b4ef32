"""Metrics of a simulated time course, as the spec's "Definitions" section defines them."""

from __future__ import annotations

import math

import numpy as np

from nanocloak.solvers.series import value_at  # noqa: F401  (metrics read values on the grid)

PARTITION = ("blood", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "rest",
             "excreted_urine", "excreted_feces", "degraded", "depot")   # depot: only where dose.route has one
ORGAN_KEYS = ("liver", "spleen", "lung", "kidney", "heart", "brain", "tumor")


def blood_peak(t: np.ndarray, blood: np.ndarray, t_first_dose: float) -> dict[str, float]:
    """The lab blood sample's peak after the first dose and when it comes (dose routes other than
    iv, docs/routes.md): blood_cmax_pct_id, blood_tmax_h (h after the first dose)."""
    after = np.flatnonzero(t >= t_first_dose)
    if after.size == 0:
        return {}
    i = after[np.argmax(blood[after])]
    return {"blood_cmax_pct_id": float(blood[i]), "blood_tmax_h": float(t[i] - t_first_dose)}


def mass_balance_error(t: np.ndarray, partition_sum: np.ndarray, n_given: np.ndarray) -> float:
    """max_t |sum of partition - 100 n| / (100 n) over times after the first dose."""
    mask = n_given > 0
    if not mask.any():
        return 0.0
    return float(np.max(np.abs(partition_sum[mask] - 100.0 * n_given[mask]) / (100.0 * n_given[mask])))


#: the spec's terminal half-life is the bi-exponential fit's SLOW phase whatever its amplitude (a
#: free drug's terminal phase holds ~10% of the initial level yet is the elimination phase labels
#: report, 20-48 h for doxorubicin); the quantifiable window below keeps a particle's late trickle
#: out of the fit. (The earlier 0.25 rule reported doxorubicin's 0.14 h distribution phase.)
MIN_TERMINAL_AMPLITUDE_SHARE = 0.0
#: blood assays quantify ~50-fold below the post-dose peak; later points are not fitted
QUANTIFIABLE_FRACTION_OF_PEAK = 0.02


# The fit below runs vectorised over the curves of a batch (numpy): it is evaluated for every
# simulation, and curve by curve in numpy it cost more than the simulation itself; batched it costs
# about what a compiled fit did, and nothing to compile.
COARSE_RATES = np.geomspace(1e-4, 50.0, 80)
ZOOM_LEVELS, ZOOM_POINTS = 8, 9
#: curves fitted together (bounds the temporaries: FIT_BLOCK x 80 x 80 floats each)
FIT_BLOCK = 64


def _decays(rates: np.ndarray, tau: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(curve, rate, point) exp(-rate tau), zero at a curve's padding; rates: (curve, rate) or (rate,)."""
    rates = np.broadcast_to(rates, (tau.shape[0], rates.shape[-1]))
    return np.exp(-rates[:, :, None] * tau[:, None, :]) * mask[:, None, :]


def _pair(tau, y, mask, a, b):
    """Non-negative least-squares amplitudes of every curve for its fixed rates a > b (a one-phase
    fit where a two-phase one would need a negative amplitude)."""
    ea, eb = _decays(a[:, None], tau, mask)[:, 0], _decays(b[:, None], tau, mask)[:, 0]
    gaa, gbb, gab = (ea * ea).sum(1), (eb * eb).sum(1), (ea * eb).sum(1)
    pa, pb = (ea * y).sum(1), (eb * y).sum(1)
    det = gaa * gbb - gab * gab
    amp_a, amp_b = (gbb * pa - gab * pb) / det, (gaa * pb - gab * pa) / det
    two = (det > 1e-300) & (amp_a >= 0.0) & (amp_b >= 0.0)
    first = pa * pa / gaa >= pb * pb / gbb
    return (np.where(two, amp_a, np.where(first, np.maximum(pa / gaa, 0.0), 0.0)),
            np.where(two, amp_b, np.where(first, 0.0, np.maximum(pb / gbb, 0.0))))


def _best_pairs(g, p):
    """Coarse grid: per curve the pair of rates i < j whose non-negative two-phase fit explains most
    of y, (score, i, j) with i = -1 where there is none; ties go to the first pair in (i, j) order."""
    n_curves, n_rates = p.shape
    gd = np.diagonal(g, axis1=1, axis2=2)
    pi, pj = p[:, :, None], p[:, None, :]
    det = gd[:, :, None] * gd[:, None, :] - g ** 2
    ai = (gd[:, None, :] * pi - g * pj) / det
    aj = (gd[:, :, None] * pj - g * pi) / det
    score = ai * pi + aj * pj
    upper = np.triu(np.ones((n_rates, n_rates), dtype=bool), 1)
    ok = upper & (det > 1e-300) & (ai >= 0.0) & (aj >= 0.0) & (score > -1.0)
    flat = np.where(ok, score, -np.inf).reshape(n_curves, -1)
    k = np.argmax(flat, axis=1)
    found = ok.reshape(n_curves, -1).any(axis=1)
    bi, bj = np.divmod(k, n_rates)
    return np.where(found, flat[np.arange(n_curves), k], -1.0), np.where(found, bi, -1), bj


def _zoom(tau, y, mask, log_fast, log_slow, step):
    """9 x 9 zooms in log space around each curve's coarse pair: per level the pair (fast > slow) of
    positive amplitudes with the least residual, ties to the first in (fast, slow) order."""
    m = ZOOM_POINTS
    grid = 2.0 * np.arange(m) / (m - 1) - 1.0
    rows = np.arange(tau.shape[0])
    yy = (y * y).sum(1)
    for _ in range(ZOOM_LEVELS):
        lf, ls = log_fast[:, None] + step * grid, log_slow[:, None] + step * grid
        ef, es = _decays(np.exp(lf), tau, mask), _decays(np.exp(ls), tau, mask)
        gff, gss, gfs = (ef * ef).sum(2), (es * es).sum(2), ef @ np.swapaxes(es, 1, 2)
        pf, ps = (ef @ y[:, :, None])[..., 0], (es @ y[:, :, None])[..., 0]
        det = gff[:, :, None] * gss[:, None, :] - gfs ** 2
        amp_f = (gss[:, None, :] * pf[:, :, None] - gfs * ps[:, None, :]) / det
        amp_s = (gff[:, :, None] * ps[:, None, :] - gfs * pf[:, :, None]) / det
        rss = yy[:, None, None] - amp_f * pf[:, :, None] - amp_s * ps[:, None, :]
        ok = (lf[:, :, None] > ls[:, None, :]) & (det > 1e-300) & (amp_f > 0.0) & (amp_s > 0.0) & (rss < np.inf)
        k = np.argmin(np.where(ok, rss, np.inf).reshape(len(rows), -1), axis=1)
        found = ok.reshape(len(rows), -1).any(axis=1)
        u, v = np.divmod(k, m)
        log_fast, log_slow = np.where(found, lf[rows, u], log_fast), np.where(found, ls[rows, v], log_slow)
        step /= (m - 1) / 2.0
    return np.exp(log_fast), np.exp(log_slow)


def _two_phase_block(tau, y, mask, rates, min_slow_share):
    """Terminal rate of each curve: global coarse grid over rate pairs, then zooms (see
    terminal_half_life)."""
    e = _decays(rates, tau, mask)
    g = e @ np.swapaxes(e, 1, 2)
    p = (e @ y[:, :, None])[..., 0]
    single = p * p / np.diagonal(g, axis1=1, axis2=2)
    single = np.where(np.isnan(single), -np.inf, single)
    si = np.argmax(single, axis=1)
    best, bi, bj = _best_pairs(g, p)
    terminal = rates[si]
    zoom = (bi >= 0) & (np.maximum(single.max(axis=1), -1.0) < best)
    if zoom.any():
        z = np.flatnonzero(zoom)
        fast, slow = _zoom(tau[z], y[z], mask[z], np.log(rates[bj[z]]), np.log(rates[bi[z]]), math.log(rates[1] / rates[0]))
        amp_f, amp_s = _pair(tau[z], y[z], mask[z], fast, slow)
        terminal[z] = np.where(amp_s >= min_slow_share * (amp_f + amp_s), slow, fast)
    return terminal


def _two_phase_batch(taus, ys, lengths, rates, min_slow_share, out):
    """The terminal rate of every curve (row of taus, ys; lengths: its points) into out."""
    mask = np.arange(taus.shape[1])[None, :] < lengths[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for lo in range(0, lengths.size, FIT_BLOCK):
            block = slice(lo, lo + FIT_BLOCK)
            out[block] = _two_phase_block(taus[block], ys[block] * mask[block], mask[block], rates, min_slow_share)


def _fit_window(t: np.ndarray, y: np.ndarray, t_last_dose: float):
    """Times since the last dose and normalised values of the quantifiable points, or None."""
    mask = (t > t_last_dose + 1e-9) & np.isfinite(y)
    tau, obs = t[mask] - t_last_dose, y[mask]
    if tau.size < 4 or np.max(obs) <= 0:
        return None
    quantifiable = obs >= QUANTIFIABLE_FRACTION_OF_PEAK * np.max(obs)
    tau, obs = tau[quantifiable], obs[quantifiable]
    if tau.size < 4:
        return None
    return np.ascontiguousarray(tau), np.ascontiguousarray(obs / np.max(obs))


def terminal_half_lives(curves) -> list[float | None]:
    """terminal_half_life for many (t, y, t_last_dose) curves at once."""
    windows = [_fit_window(t, y, last) for t, y, last in curves]
    fit = [i for i, w in enumerate(windows) if w is not None]
    out: list[float | None] = [None] * len(windows)
    if not fit:
        return out
    width = max(windows[i][0].size for i in fit)
    taus, ys = np.zeros((len(fit), width)), np.zeros((len(fit), width))
    lengths = np.zeros(len(fit), dtype=np.int64)
    for row, i in enumerate(fit):
        tau, y = windows[i]
        taus[row, : tau.size], ys[row, : tau.size], lengths[row] = tau, y, tau.size
    rates = np.empty(len(fit))
    _two_phase_batch(taus, ys, lengths, COARSE_RATES, MIN_TERMINAL_AMPLITUDE_SHARE, rates)
    for row, i in enumerate(fit):
        r = rates[row]
        out[i] = math.log(2.0) / r if math.isfinite(r) and r > 0 else None
    return out


def terminal_half_life(t: np.ndarray, y: np.ndarray, t_last_dose: float) -> float | None:
    """Terminal half-life from a bi-exponential fit A e^-at + B e^-bt (a > b) of y after the last dose.

    Ordinary least squares on the %ID values, as two-phase fits of blood curves are usually done
    (e.g. Hu 2011), on the points above 2% of the post-dose peak (what an assay quantifies). The
    amplitudes enter linearly, so for each pair of rates they are solved exactly (variable
    projection, Golub & Pereyra 1973); the rates come from a global grid over 1e-4..50 /h refined by
    zooming grids. The terminal phase is the slower phase (MIN_TERMINAL_AMPLITUDE_SHARE is 0). A
    curve no two-phase fit improves on is mono-exponential.
    """
    return terminal_half_lives([(t, y, t_last_dose)])[0]


def trapezoid_auc(t: np.ndarray, y: np.ndarray) -> float:
    return float(np.trapezoid(y, t))
