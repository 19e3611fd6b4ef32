"""Compiled integration of the payload model (payload.py): particles, the drug they hold, the free
drug and the running AUCs of one (coating class, dose) element, by the same Rodas4 method as the
particle kernel, in parallel threads over the elements of a batch.

Why a compiled form: the model is nonlinear (a compartment releases at the rate its fraction
released implies), and scipy's BDF, driven from Python, spends ~0.1 s per element in calls; here a
step costs microseconds. payload.py keeps the scipy form as the readable reference; tests hold the
two to agreement.

Structure used for the linear solves of Rodas4 (I - g J) k = r: the Jacobian is block lower
triangular, particles -> drug in particles -> free drug -> accumulators, so the solve is a forward
substitution (Hairer & Wanner 1996, Solving ODEs II, sec. IV.7 for Rosenbrock methods with exact
Jacobians):
  particles:       the particle operator A (particle_kernel's structured solve);
  drug held:       the same operator with the release rate's derivative on the diagonal;
  free drug:       the small dense matrix of drug_pbpk (13 x 13, LU with partial pivoting);
  excreted and AUC accumulators: explicit.
Drug amounts are integrated in %ID-equivalents of the element's particles (drug / (dose / 100)),
so particles and drug share one error scale; the caller multiplies back to micrograms.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from nanocloak.model import drug as drug_pbpk
from nanocloak.solvers.rodas4 import A21, A31, A32, A41, A42, A43, A51, A52, A53, A54, C2, C3, C4, C21, C31, C32, C41, C42, C43, C51, C52, C53, C54, C61, C62, C63, C64, C65, D1, D2, D3, D4, GAMMA
from nanocloak.model import release_in_body as release_kinetics
from nanocloak.model.particle_kernel import ART, CAP0, CAPZERO, FAST, FECES, NO, NS, P_ART0, P_KDEG, P_KDEG_PC, P_PERM_END, P_PERM_START, P_VEN0, PC0, TIS0, TUMOR, URINE, VEN, _dfdt, _factor, _hill, _rhs, _solve, _tumor_perm, error_norm, interpolate, next_step
from nanocloak.model.particle import HEART

NB = URINE                          # particle compartments that hold drug
NF = drug_pbpk.N_FREE
F_ART, F_VEN, F_ORG0 = drug_pbpk.F_ART, drug_pbpk.F_VEN, drug_pbpk.F_ORG0
# state layout: particles (NS) | drug held (NB) | free drug (NF) | excreted in particles | 4 AUCs
YX, YD = 0, NS
YF = YD + NB
YB = YF + NF
YA = YB + 1
NY = YA + 4
END_TAPER = release_kinetics.END_TAPER
# per-element scalars
S_LAG, S_PLATEAU, S_BURST, S_VT_G, S_VH_G, S_HAS_TUMOR, S_RELEASES = range(7)
N_SCALARS = 7


@njit(cache=True, fastmath=FAST)
def _into(i):
    """Free-drug state that particle compartment i releases into."""
    if i == ART:
        return F_ART
    if i == VEN:
        return F_VEN
    return F_ORG0 + (i - CAP0) % NO


#: uniform bins in F that bracket the law's (non-uniform) table, so a lookup bisects a few entries
#: instead of 6000 (the lookup runs 29 times per stage)
N_BINS = 4096


def table_bins(f_tab: np.ndarray) -> np.ndarray:
    """bins[k]: last table index with F <= k / N_BINS (a start for the scan in _law)."""
    edges = np.arange(N_BINS + 1) / N_BINS
    return np.clip(np.searchsorted(f_tab, edges, side="right") - 1, 0, max(f_tab.size - 2, 0)).astype(np.int64)


@njit(cache=True, fastmath=FAST)
def _law(f_tab, g_tab, n_tab, bins, plateau, fraction):
    """The release law's rate G(F) and dG/dF: linear interpolation in the law's table (as
    release_kinetics.ReleaseRate.rate), with the end taper over the last 1% the law can release."""
    f = min(max(fraction, 0.0), 1.0)
    if f <= f_tab[0]:
        g, slope = g_tab[0], 0.0
    elif f >= f_tab[n_tab - 1]:
        g, slope = 0.0, 0.0
    else:
        k = int(f * N_BINS)
        lo, hi = bins[k], min(bins[k + 1] + 1, n_tab - 1)   # f_tab[lo] <= f < f_tab[hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if f_tab[mid] <= f:
                lo = mid
            else:
                hi = mid
        slope = (g_tab[hi] - g_tab[lo]) / (f_tab[hi] - f_tab[lo])
        g = g_tab[lo] + slope * (f - f_tab[lo])
    taper = (plateau - f) / END_TAPER
    if taper >= 1.0:
        return g, slope
    if taper <= 0.0:
        return 0.0, 0.0
    return g * taper, slope * taper - g / END_TAPER


@njit(cache=True, fastmath=FAST)
def _tumor_factor(windows, n_win, tau):
    """Product of the light / ultrasound / heat trigger factors of the windows open at tau."""
    m = 1.0
    for k in range(n_win):
        if windows[k, 0] <= tau < windows[k, 1]:
            m *= windows[k, 2]
    return m


@njit(cache=True, fastmath=FAST)
def _release(p, sc, f_tab, g_tab, n_tab, bins, static, tumor_m, x, d, rate, drate_dd, drate_dx, releasing):
    """Release rate of every compartment and its partial derivatives (0 before the lag)."""
    for i in range(NB):
        rate[i], drate_dd[i], drate_dx[i] = 0.0, 0.0, 0.0
        if not releasing:
            continue
        held = x[i]
        if held <= 1e-300:
            continue
        m = static[i]
        if sc[S_HAS_TUMOR] > 0 and (i == CAP0 + TUMOR or i == TIS0 + TUMOR or i == PC0 + TUMOR):
            m *= tumor_m
        frac = 1.0 - d[i] / held
        g, dg = _law(f_tab, g_tab, n_tab, bins, sc[S_PLATEAU], frac)
        rate[i] = held * g * m
        drate_dd[i] = -dg * m                        # dF/dd = -1/held
        drate_dx[i] = m * (g + dg * (1.0 - frac))     # dF/dx = d/held^2


@njit(cache=True, fastmath=FAST)
def _kd(p, i):
    return p[P_KDEG_PC] if PC0 <= i < PC0 + NO else p[P_KDEG]


@njit(cache=True, fastmath=FAST)
def _f(p, sc, mfree, hl, perm, rate, y, out, pad, tmp):
    """Right-hand side of the joint state (rate: release of the current stage, from _release)."""
    _rhs(p, hl, y[YX:YX + NS], out[YX:YX + NS], perm)
    for i in range(NS):
        pad[i] = y[YD + i] if i < NB else 0.0
    _rhs(p, hl, pad, tmp, perm)
    for i in range(NF):
        acc = 0.0
        for j in range(NF):
            acc += mfree[i, j] * y[YF + j]
        out[YF + i] = acc
    for i in range(NB):
        freed = _kd(p, i) * y[YD + i] + rate[i]
        out[YD + i] = tmp[i] - rate[i]
        out[YF + _into(i)] += freed
    out[YB] = tmp[URINE] + tmp[FECES]
    _auc(sc, y[YD:YD + NB], y[YF:YF + NF], out, YA)


@njit(cache=True, fastmath=FAST)
def _auc(sc, d, free, out, at):
    """Running AUC slopes per gram into out[at:at+4]: tumor and heart, all drug in the tissue
    (held in particles and released) and the released drug only. Linear in (d, free)."""
    tumor, heart = F_ORG0 + TUMOR, F_ORG0 + HEART
    if sc[S_HAS_TUMOR] > 0:
        out[at] = (d[TIS0 + TUMOR] + d[PC0 + TUMOR] + free[tumor]) / sc[S_VT_G]
        out[at + 2] = free[tumor] / sc[S_VT_G]
    else:
        out[at], out[at + 2] = 0.0, 0.0
    out[at + 1] = (d[TIS0 + HEART] + d[PC0 + HEART] + free[heart]) / sc[S_VH_G]
    out[at + 3] = free[heart] / sc[S_VH_G]


@njit(cache=True, fastmath=FAST)
def _lu(a, piv):
    """In-place LU with partial pivoting of a small dense matrix (numba has no LAPACK-free LU)."""
    n = a.shape[0]
    for k in range(n):
        best, arg = abs(a[k, k]), k
        for i in range(k + 1, n):
            if abs(a[i, k]) > best:
                best, arg = abs(a[i, k]), i
        piv[k] = arg
        if arg != k:
            for j in range(n):
                a[k, j], a[arg, j] = a[arg, j], a[k, j]
        for i in range(k + 1, n):
            a[i, k] /= a[k, k]
            for j in range(k + 1, n):
                a[i, j] -= a[i, k] * a[k, j]


@njit(cache=True, fastmath=FAST)
def _lu_solve(a, piv, b):
    n = a.shape[0]
    for k in range(n):
        if piv[k] != k:
            b[k], b[piv[k]] = b[piv[k]], b[k]
    for i in range(n):
        for j in range(i):
            b[i] -= a[i, j] * b[j]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            b[i] -= a[i, j] * b[j]
        b[i] /= a[i, i]


@njit(cache=True, fastmath=FAST)
def _stage_solve(p, sc, g, minv, coef, minv_d, coef_d, lu, piv, drate_dd, drate_dx, r, k, w, pad, tmp, bf):
    """k = (I - g J)^-1 r by forward substitution over the blocks."""
    _solve(p, g, minv, coef, r[YX:YX + NS], k[YX:YX + NS], w)
    for i in range(NS):
        pad[i] = r[YD + i] - g * drate_dx[i] * k[YX + i] if i < NB else 0.0
    _solve(p, g, minv_d, coef_d, pad, tmp, w)
    for i in range(NB):
        k[YD + i] = tmp[i]
    k[YB] = r[YB] + tmp[URINE] + tmp[FECES]          # excretion of particles with their drug
    for i in range(NF):
        bf[i] = r[YF + i]
    for i in range(NB):
        bf[_into(i)] += g * ((_kd(p, i) + drate_dd[i]) * k[YD + i] + drate_dx[i] * k[YX + i])
    _lu_solve(lu, piv, bf)
    for i in range(NF):
        k[YF + i] = bf[i]
    _auc(sc, k[YD:YD + NB], k[YF:YF + NF], bf, 0)
    for j in range(4):
        k[YA + j] = r[YA + j] + g * bf[j]


@njit(cache=True, fastmath=FAST)
def _next_stop(p, sc, windows, n_win, tau, end):
    stop = end
    for edge in (p[P_PERM_START], p[P_PERM_END], sc[S_LAG]):
        if tau < edge * (1 - 1e-12) and edge < stop:
            stop = edge
    for k in range(n_win):
        for edge in (windows[k, 0], windows[k, 1]):
            if tau < edge * (1 - 1e-12) and edge < stop:
                stop = edge
    return stop


@njit(cache=True, fastmath=FAST)
def _initial(p, sc, y):
    for i in range(NY):
        y[i] = 0.0
    y[ART], y[VEN] = p[P_ART0], p[P_VEN0]
    for o in range(NO):
        y[CAP0 + o] = p[CAPZERO + o]
    burst = sc[S_BURST]
    for i in range(NB):
        y[YD + i] = (1.0 - burst) * y[i]
        y[YF + _into(i)] += burst * y[i]              # the burst is freed where it was injected


@njit(cache=True, fastmath=FAST)
def _integrate_one(p, sc, f_tab, g_tab, n_tab, bins, static, mfree, windows, n_win, tau_out, n_out, rtol, atol, max_steps, obs):
    y, yn, u, f, ft, r = np.empty(NY), np.empty(NY), np.empty(NY), np.empty(NY), np.empty(NY), np.empty(NY)
    k1, k2, k3, k4, k5, k6 = np.empty(NY), np.empty(NY), np.empty(NY), np.empty(NY), np.empty(NY), np.empty(NY)
    minv, coef, minv_d, coef_d = np.empty((9, NO)), np.empty(3), np.empty((9, NO)), np.empty(3)
    w, pad, tmp = np.empty((3, NO)), np.empty(NY), np.empty(NY)
    hl, dh, scratch = np.empty(NO), np.empty(NO), np.empty(NO)
    rate, drate_dd, drate_dx, s_dd, s_dx = np.empty(NB), np.empty(NB), np.empty(NB), np.empty(NB), np.empty(NB)
    extra, no_extra = np.zeros(NS), np.zeros(NS)
    lu, piv, bf = np.empty((NF, NF)), np.empty(NF, dtype=np.int64), np.empty(NF)
    _initial(p, sc, y)
    tau, idx, steps, rejected = 0.0, 0, 0, 0
    end = tau_out[n_out - 1]
    h = min(1e-3, tau_out[0])
    while idx < n_out:
        stop = _next_stop(p, sc, windows, n_win, tau, end)
        ht = min(h, stop - tau)
        g = GAMMA * ht
        ih = 1.0 / ht
        mid = tau + 0.5 * ht                          # steps never straddle a window edge
        perm = _tumor_perm(p, mid)
        tumor_m = _tumor_factor(windows, n_win, mid)
        releasing = sc[S_RELEASES] > 0 and mid >= sc[S_LAG]
        if tau > 0.0:
            _hill(p, tau, hl, dh)
        else:
            _hill(p, 1e-3 * ht, scratch, dh)
            _hill(p, tau, hl, scratch)
        # time derivative: only the uptake ramp acts on particles and on the drug they carry
        for i in range(NY):
            ft[i] = 0.0
        _dfdt(p, dh, y[YX:YX + NS], ft[YX:YX + NS])
        for i in range(NS):
            pad[i] = y[YD + i] if i < NB else 0.0
        _dfdt(p, dh, pad, tmp)
        for i in range(NB):
            ft[YD + i] = tmp[i]
        ft[YB] = 0.0
        # Jacobian blocks at the step start
        _release(p, sc, f_tab, g_tab, n_tab, bins, static, tumor_m, y[YX:YX + NS], y[YD:YD + NB], rate, drate_dd, drate_dx,
                 releasing)
        for i in range(NB):
            extra[i] = drate_dd[i]
        _factor(p, hl, g, minv, coef, perm, no_extra)
        _factor(p, hl, g, minv_d, coef_d, perm, extra)
        for i in range(NF):
            for j in range(NF):
                lu[i, j] = (1.0 if i == j else 0.0) - g * mfree[i, j]
        _lu(lu, piv)
        # stages
        _f(p, sc, mfree, hl, perm, rate, y, f, pad, tmp)
        for i in range(NY):
            r[i] = g * (f[i] + ht * D1 * ft[i])
        _stage_solve(p, sc, g, minv, coef, minv_d, coef_d, lu, piv, drate_dd, drate_dx, r, k1, w, pad, tmp, bf)
        for i in range(NY):
            u[i] = y[i] + A21 * k1[i]
        _stage_rhs(p, sc, f_tab, g_tab, n_tab, bins, static, tumor_m, releasing, mfree, tau + C2 * ht, perm, u, f, hl, dh,
                   rate, pad, tmp, s_dd, s_dx)
        for i in range(NY):
            r[i] = g * (f[i] + ht * D2 * ft[i] + ih * C21 * k1[i])
        _stage_solve(p, sc, g, minv, coef, minv_d, coef_d, lu, piv, drate_dd, drate_dx, r, k2, w, pad, tmp, bf)
        for i in range(NY):
            u[i] = y[i] + A31 * k1[i] + A32 * k2[i]
        _stage_rhs(p, sc, f_tab, g_tab, n_tab, bins, static, tumor_m, releasing, mfree, tau + C3 * ht, perm, u, f, hl, dh,
                   rate, pad, tmp, s_dd, s_dx)
        for i in range(NY):
            r[i] = g * (f[i] + ht * D3 * ft[i] + ih * (C31 * k1[i] + C32 * k2[i]))
        _stage_solve(p, sc, g, minv, coef, minv_d, coef_d, lu, piv, drate_dd, drate_dx, r, k3, w, pad, tmp, bf)
        for i in range(NY):
            u[i] = y[i] + A41 * k1[i] + A42 * k2[i] + A43 * k3[i]
        _stage_rhs(p, sc, f_tab, g_tab, n_tab, bins, static, tumor_m, releasing, mfree, tau + C4 * ht, perm, u, f, hl, dh,
                   rate, pad, tmp, s_dd, s_dx)
        for i in range(NY):
            r[i] = g * (f[i] + ht * D4 * ft[i] + ih * (C41 * k1[i] + C42 * k2[i] + C43 * k3[i]))
        _stage_solve(p, sc, g, minv, coef, minv_d, coef_d, lu, piv, drate_dd, drate_dx, r, k4, w, pad, tmp, bf)
        for i in range(NY):
            u[i] = y[i] + A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]
        _stage_rhs(p, sc, f_tab, g_tab, n_tab, bins, static, tumor_m, releasing, mfree, tau + ht, perm, u, f, hl, dh,
                   rate, pad, tmp, s_dd, s_dx)
        for i in range(NY):
            r[i] = g * (f[i] + ih * (C51 * k1[i] + C52 * k2[i] + C53 * k3[i] + C54 * k4[i]))
        _stage_solve(p, sc, g, minv, coef, minv_d, coef_d, lu, piv, drate_dd, drate_dx, r, k5, w, pad, tmp, bf)
        for i in range(NY):
            u[i] += k5[i]
        _stage_rhs(p, sc, f_tab, g_tab, n_tab, bins, static, tumor_m, releasing, mfree, tau + ht, perm, u, f, hl, dh,
                   rate, pad, tmp, s_dd, s_dx)
        for i in range(NY):
            r[i] = g * (f[i] + ih * (C61 * k1[i] + C62 * k2[i] + C63 * k3[i] + C64 * k4[i] + C65 * k5[i]))
        _stage_solve(p, sc, g, minv, coef, minv_d, coef_d, lu, piv, drate_dd, drate_dx, r, k6, w, pad, tmp, bf)
        for i in range(NY):
            yn[i] = u[i] + k6[i]
        err = error_norm(y, yn, k6, rtol, atol)
        if not math.isfinite(err):
            return -1, rejected
        if err <= 1.0:
            t_new = tau + ht
            while idx < n_out and tau_out[idx] <= t_new * (1 + 1e-12):
                s = (tau_out[idx] - tau) / ht
                if s >= 1.0:
                    obs[idx, :] = yn
                else:
                    interpolate(s, y, yn, k1, k2, k3, k4, k5, obs[idx])
                idx += 1
            tau = stop if ht == stop - tau else t_new
            y[:] = yn
            steps += 1
        else:
            rejected += 1
        h = next_step(ht, h, err)
        if steps + rejected > max_steps:
            return -2, rejected
    return steps, rejected


@njit(cache=True, fastmath=FAST)
def _stage_rhs(p, sc, f_tab, g_tab, n_tab, bins, static, tumor_m, releasing, mfree, t, perm, u, f, hl, dh, rate, pad, tmp,
               unused_dd, unused_dx):
    """f at a stage: the release partials of the stage are not needed (the step keeps its Jacobian)."""
    _hill(p, t, hl, dh)
    _release(p, sc, f_tab, g_tab, n_tab, bins, static, tumor_m, u[YX:YX + NS], u[YD:YD + NB], rate, unused_dd, unused_dx,
             releasing)
    _f(p, sc, mfree, hl, perm, rate, u, f, pad, tmp)


@njit(cache=True, parallel=True, fastmath=FAST)
def _integrate_batch(params, scalars, f_tabs, g_tabs, n_tabs, bins, statics, mfrees, windows, n_wins, tau_out, n_out, rtol,
                     atol, max_steps, obs, steps, rejected):
    for e in prange(params.shape[0]):
        s, rj = _integrate_one(params[e], scalars[e], f_tabs[e], g_tabs[e], n_tabs[e], bins[e], statics[e], mfrees[e],
                               windows[e], n_wins[e], tau_out[e], n_out[e], rtol, atol, max_steps, obs[e])
        steps[e] = s
        rejected[e] = rj
