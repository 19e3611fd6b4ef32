"""Metrics of a simulated time course, as the spec's "Definitions" section defines them."""

from __future__ import annotations

import math

import numpy as np

from nanocloak.solvers.series import value_at  # noqa: F401  (metrics read values on the grid)

from nanocloak.solvers.compiled import entry, kernel
from nanocloak.solvers.stepper import run_batch

PARTITION = ("blood", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "rest",
             "excreted_urine", "excreted_feces", "degraded")
ORGAN_KEYS = ("liver", "spleen", "lung", "kidney", "heart", "brain", "tumor")


def mass_balance_error(t: np.ndarray, partition_sum: np.ndarray, n_given: np.ndarray) -> float:
    """max_t |sum of partition - 100 n| / (100 n) over times after the first dose."""
    mask = n_given > 0
    if not mask.any():
        return 0.0
    return float(np.max(np.abs(partition_sum[mask] - 100.0 * n_given[mask]) / (100.0 * n_given[mask])))


#: a slow phase holding less than this share of the initial level is a trickle, not a terminal phase
MIN_TERMINAL_AMPLITUDE_SHARE = 0.25
#: blood assays quantify ~50-fold below the post-dose peak; later points are not fitted
QUANTIFIABLE_FRACTION_OF_PEAK = 0.02


# The fit below runs compiled (numba): it is evaluated for every simulation of a batch, and in numpy
# it cost more than the simulation itself. Scalar loops only (no matrix products, no array
# expressions): they compile in a fraction of the time.
COARSE_RATES = np.geomspace(1e-4, 50.0, 80)
ZOOM_LEVELS, ZOOM_POINTS = 8, 9


@kernel
def _pair(tau, y, n, a, b):
    """Non-negative least-squares amplitudes for fixed rates a > b, and the residual sum of squares
    (a one-phase fit where a two-phase one would need a negative amplitude)."""
    gaa = gbb = gab = pa = pb = yy = 0.0
    for k in range(n):
        ea, eb = math.exp(-a * tau[k]), math.exp(-b * tau[k])
        gaa += ea * ea
        gbb += eb * eb
        gab += ea * eb
        pa += ea * y[k]
        pb += eb * y[k]
        yy += y[k] * y[k]
    det = gaa * gbb - gab * gab
    if det > 1e-300:
        amp_a = (gbb * pa - gab * pb) / det
        amp_b = (gaa * pb - gab * pa) / det
        if amp_a >= 0.0 and amp_b >= 0.0:
            return amp_a, amp_b, yy - amp_a * pa - amp_b * pb
    if pa * pa / gaa >= pb * pb / gbb:
        return max(pa / gaa, 0.0), 0.0, yy - max(pa, 0.0) ** 2 / gaa
    return 0.0, max(pb / gbb, 0.0), yy - max(pb, 0.0) ** 2 / gbb


@kernel
def _decays(tau, y, n, rates, e, gram, proj):
    """e[i, k] = exp(-rates[i] tau[k]), the Gram matrix of the decays and their projections on y."""
    m = rates.size
    for i in range(m):
        acc = 0.0
        for k in range(n):
            e[i, k] = math.exp(-rates[i] * tau[k])
            acc += e[i, k] * y[k]
        proj[i] = acc
    for i in range(m):
        for j in range(i, m):
            acc = 0.0
            for k in range(n):
                acc += e[i, k] * e[j, k]
            gram[i, j] = acc
            gram[j, i] = acc


@kernel
def _best_pair(g, p, rates):
    """Coarse grid: the pair of rates i < j whose non-negative two-phase fit explains most of y
    (score, i, j); i = -1 if there is none."""
    best, bi, bj = -1.0, -1, -1
    for i in range(p.size):
        for j in range(i + 1, p.size):
            det = g[i, i] * g[j, j] - g[i, j] ** 2
            if det <= 1e-300:
                continue
            ai = (g[j, j] * p[i] - g[i, j] * p[j]) / det
            aj = (g[i, i] * p[j] - g[i, j] * p[i]) / det
            if ai >= 0.0 and aj >= 0.0 and ai * p[i] + aj * p[j] > best:
                best, bi, bj = ai * p[i] + aj * p[j], i, j
    return best, bi, bj


@kernel
def _zoom_pair(g, p, yy, logs, log_fast, log_slow, step):
    """A zoom: among fast candidates (second half of logs) and slow ones (first half), the pair of
    positive amplitudes with the least residual; the current pair if there is none. The two grids
    can overlap: candidates that coincide but for rounding are one rate, not a pair."""
    m = p.size // 2
    rss_best, f_best, s_best = np.inf, log_fast, log_slow
    for u in range(m, 2 * m):
        for v in range(m):
            if logs[u] <= logs[v] + 1e-9 * step:
                continue
            det = g[u, u] * g[v, v] - g[u, v] ** 2
            if det <= 1e-300:
                continue
            amp_f = (g[v, v] * p[u] - g[u, v] * p[v]) / det
            amp_s = (g[u, u] * p[v] - g[u, v] * p[u]) / det
            if amp_f > 0.0 and amp_s > 0.0:
                rss = yy - amp_f * p[u] - amp_s * p[v]
                if rss < rss_best:
                    rss_best, f_best, s_best = rss, logs[u], logs[v]
    return f_best, s_best


@kernel
def _two_phase(tau, y, n, rates, min_slow_share):
    """Global coarse grid over rate pairs, then 9 x 9 zooms in log space; returns the terminal rate."""
    nr = rates.size
    g, p = np.empty((nr, nr)), np.empty(nr)
    _decays(tau, y, n, rates, np.empty((nr, n)), g, p)
    single, si = -1.0, 0
    for i in range(nr):
        if p[i] * p[i] / g[i, i] > single:
            single, si = p[i] * p[i] / g[i, i], i
    best, bi, bj = _best_pair(g, p, rates)
    if bi < 0 or single >= best:
        return rates[si]
    log_fast, log_slow = math.log(rates[bj]), math.log(rates[bi])
    step = math.log(rates[1] / rates[0])
    m = ZOOM_POINTS
    yy = 0.0
    for k in range(n):
        yy += y[k] * y[k]
    logs, zr = np.empty(2 * m), np.empty(2 * m)          # slow candidates, then fast ones
    gz, pz, ez = np.empty((2 * m, 2 * m)), np.empty(2 * m), np.empty((2 * m, n))
    for _ in range(ZOOM_LEVELS):
        for u in range(m):
            logs[u] = log_slow + step * (2.0 * u / (m - 1) - 1.0)
            logs[m + u] = log_fast + step * (2.0 * u / (m - 1) - 1.0)
        for u in range(2 * m):
            zr[u] = math.exp(logs[u])
        _decays(tau, y, n, zr, ez, gz, pz)
        log_fast, log_slow = _zoom_pair(gz, pz, yy, logs, log_fast, log_slow, step)
        step /= (m - 1) / 2.0
    fast, slow = math.exp(log_fast), math.exp(log_slow)
    amp_f, amp_s, _ = _pair(tau, y, n, fast, slow)
    return slow if amp_s >= min_slow_share * (amp_f + amp_s) else fast


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


@entry
def _two_phase_range(batch, lo, hi, rates, min_slow_share, out):
    taus, ys, lengths = batch
    for c in range(lo, hi):
        out[c] = _two_phase(taus[c], ys[c], lengths[c], rates, min_slow_share)


def _two_phase_batch(taus, ys, lengths, rates, min_slow_share, out):
    """The terminal rate of every curve (row; lengths: its points) into out, in threads."""
    run_batch(_two_phase_range, (taus, ys, lengths), lengths.size, rates, min_slow_share, out)


def terminal_half_lives(curves) -> list[float | None]:
    """terminal_half_life for many (t, y, t_last_dose) curves at once, in parallel threads."""
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
    zooming grids. The terminal phase is the slower phase unless it holds under a quarter of the
    initial level: such a phase is the trickle of particles released back from phagocytes and
    tissues (or a split of one phase into two), not the elimination phase a lab reports, and the
    other phase is then the terminal one. A curve no two-phase fit improves on is mono-exponential.
    """
    return terminal_half_lives([(t, y, t_last_dose)])[0]


def trapezoid_auc(t: np.ndarray, y: np.ndarray) -> float:
    return float(np.trapezoid(y, t)) if hasattr(np, "trapezoid") else float(np.trapz(y, t))
