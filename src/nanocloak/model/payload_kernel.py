"""Compiled integration of the payload model (payload.py): particles, the drug they hold, the free
drug and the running AUCs of one (coating class, dose) element, by the same Rodas4 method as the
particle kernel, in parallel threads over the elements of a batch.

Why a compiled form: the model is nonlinear (a compartment releases at the rate its fraction
released implies), and scipy's BDF, driven from Python, spends ~0.1 s per element in calls; here a
step costs microseconds. payload.py keeps the scipy form as the readable reference; tests hold the
two to agreement.

The method is the shared Rodas4 core (a stepper generated from solvers/rodas4_template.py); this
module supplies the model's pieces. Structure used for the linear solves of Rodas4 (I - g J) k = r: the Jacobian is block lower
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

from functools import cache

import numpy as np

from nanocloak.model import drug as drug_pbpk
from nanocloak.model import release_in_body as release_kinetics
from nanocloak.model.particle import HEART
from nanocloak.model.particle_kernel import (
    ART,
    CAP0,
    FECES,
    INITIAL_STEP_H,
    NO,
    NS,
    P_CAPT_END,
    P_CAPT_START,
    P_KDEG,
    P_KDEG_PC,
    P_PERM_END,
    P_PERM_START,
    PC0,
    TIS0,
    TUMOR,
    URINE,
    VEN,
    WS_PERM,
    hill_at,
    hill_at_step_start,
    initial_particles,
    particle_dfdt,
    particle_factor,
    particle_rhs,
    particle_solve,
    tumor_permeability,
)
from nanocloak.solvers.compiled import bisect, inlined, kernel, lu_solve, observe_state, shifted_lu
from nanocloak.solvers.stepper import rodas4_stepper, run_batch

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


@inlined
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


@kernel
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
        base = bins[k]                          # f_tab[base] <= f < f_tab[top]
        lo = base + bisect(f_tab[base:min(bins[k + 1] + 1, n_tab - 1) + 1], f)
        hi = lo + 1
        slope = (g_tab[hi] - g_tab[lo]) / (f_tab[hi] - f_tab[lo])
        g = g_tab[lo] + slope * (f - f_tab[lo])
    taper = (plateau - f) / END_TAPER
    if taper >= 1.0:
        return g, slope
    if taper <= 0.0:
        return 0.0, 0.0
    return g * taper, slope * taper - g / END_TAPER


@inlined
def _tumor_factor(windows, n_win, tau):
    """Product of the light / ultrasound / heat trigger factors of the windows open at tau."""
    m = 1.0
    for k in range(n_win):
        if windows[k, 0] <= tau < windows[k, 1]:
            m *= windows[k, 2]
    return m


@kernel
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


@inlined
def _kd(p, i):
    return p[P_KDEG_PC] if PC0 <= i < PC0 + NO else p[P_KDEG]


@kernel
def _f(p, sc, mfree, hl, perm, rate, y, out, pad, tmp):
    """Right-hand side of the joint state (rate: release of the current stage, from _release)."""
    particle_rhs(p, hl, y[YX:YX + NS], out[YX:YX + NS], perm)
    for i in range(NS):
        pad[i] = y[YD + i] if i < NB else 0.0
    particle_rhs(p, hl, pad, tmp, perm)
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
    _auc(sc, y[YD:YD + NB], y[YF:YF + NF], out[YA:YA + 4])


@inlined
def _auc(sc, d, free, out):
    """Running AUC slopes per gram into out[0:4]: tumor and heart, all drug in the tissue (held in
    particles and released) and the released drug only. Linear in (d, free). (No literal-integer
    arguments to compiled functions anywhere: numba compiles one copy per literal value.)"""
    tumor, heart = F_ORG0 + TUMOR, F_ORG0 + HEART
    if sc[S_HAS_TUMOR] > 0:
        out[0] = (d[TIS0 + TUMOR] + d[PC0 + TUMOR] + free[tumor]) / sc[S_VT_G]
        out[2] = free[tumor] / sc[S_VT_G]
    else:
        out[0], out[2] = 0.0, 0.0
    out[1] = (d[TIS0 + HEART] + d[PC0 + HEART] + free[heart]) / sc[S_VH_G]
    out[3] = free[heart] / sc[S_VH_G]


# ---- the model as the Rodas4 stepper sees it (solvers/rodas4_template.py) -------------------------
# m: an element's inputs (indices M_P .. M_NWIN, the arguments of integrate_batch per element), then
# work arrays: particle-operator factors for the particles and for the drug they hold (M_FAC, M_COEF),
# solve scratch (M_W), two state-sized scratch vectors (M_VEC), organ vectors (Hill fraction, its
# derivative, scratch: M_ORGAN), release rate, its partials d/dd and d/dx and scratch (M_REL), the
# release partials as extra loss and a zero vector (M_EXTRA), the free drug's LU (M_LU, M_PIV, M_BF),
# and ws: Hill fraction time, tumor permeability, trigger factor, releasing (0/1), rates fresh (0/1)
M_P, M_SC, M_FTAB, M_GTAB, M_NTAB, M_BINS, M_STATIC, M_MFREE, M_WIN, M_NWIN = range(10)
M_FAC, M_COEF, M_W, M_VEC, M_ORGAN, M_REL, M_EXTRA, M_LU, M_PIV, M_BF, M_WS = range(10, 21)
WS_TUMOR_M, WS_RELEASING, WS_FRESH = 2, 3, 4


@kernel
def _element(batch, e):
    """ELEMENT: element e's inputs and work arrays, and its initial state (particles mixed in the
    blood holding their drug but the burst, which is freed where it was injected)."""
    params, scalars, f_tabs, g_tabs, n_tabs, bins, statics, mfrees, windows, n_wins = batch
    p, sc = params[e], scalars[e]
    m = (p, sc, f_tabs[e], g_tabs[e], n_tabs[e], bins[e], statics[e], mfrees[e], windows[e], n_wins[e],
         np.empty((2, 9, NO)), np.empty((2, 3)), np.empty((3, NO)), np.empty((2, NY)), np.empty((3, NO)),
         np.zeros((5, NB)), np.zeros((2, NS)), np.empty((NF, NF)), np.empty(NF, dtype=np.int64), np.empty(NF),
         np.zeros(5))
    y = np.empty(NY)
    initial_particles(p, y)
    burst = sc[S_BURST]
    for i in range(NB):
        y[YD + i] = (1.0 - burst) * y[i]
        y[YF + _into(i)] += burst * y[i]
    return m, y


@inlined
def _release_of(m, u, drate_dd, drate_dx):
    """Release rates of state u into m's rate vector (and their partials into drate_dd, drate_dx)."""
    ws = m[M_WS]
    _release(m[M_P], m[M_SC], m[M_FTAB], m[M_GTAB], m[M_NTAB], m[M_BINS], m[M_STATIC], ws[WS_TUMOR_M], u[YX:YX + NS],
             u[YD:YD + NB], m[M_REL][0], drate_dd, drate_dx, ws[WS_RELEASING] > 0.0)


@kernel
def _step_factor(m, tau, h, g, y, ft):
    """FACTOR: the step's constants, the time derivative and the Jacobian blocks at (tau, y)."""
    p, organ, rel, vec, extra, fac, coef, ws = m[M_P], m[M_ORGAN], m[M_REL], m[M_VEC], m[M_EXTRA], m[M_FAC], m[M_COEF], m[M_WS]
    mid = tau + 0.5 * h                          # steps never straddle a window edge
    ws[WS_PERM] = tumor_permeability(p, mid)
    ws[WS_TUMOR_M] = _tumor_factor(m[M_WIN], m[M_NWIN], mid)
    ws[WS_RELEASING] = 1.0 if m[M_SC][S_RELEASES] > 0 and mid >= m[M_SC][S_LAG] else 0.0
    hill_at_step_start(p, tau, h, organ, ws)
    # time derivative: only the uptake ramp acts on particles and on the drug they carry
    for i in range(NY):
        ft[i] = 0.0
    particle_dfdt(p, organ[1], y[YX:YX + NS], ft[YX:YX + NS])
    pad, tmp = vec[0], vec[1]
    for i in range(NS):
        pad[i] = y[YD + i] if i < NB else 0.0
    particle_dfdt(p, organ[1], pad, tmp)
    for i in range(NB):
        ft[YD + i] = tmp[i]
    _release_of(m, y, rel[1], rel[2])
    for i in range(NB):
        extra[0, i] = rel[1, i]
    particle_factor(p, organ[0], g, fac[0], coef[0], ws[WS_PERM], extra[1])
    particle_factor(p, organ[0], g, fac[1], coef[1], ws[WS_PERM], extra[0])
    shifted_lu(m[M_MFREE], g, m[M_LU], m[M_PIV])
    ws[WS_FRESH] = 1.0                           # the rates just computed are those of the first stage


@inlined
def _stage_rhs(m, t, u, f):
    """RHS: the joint right-hand side at a stage (the release partials are not needed: the step keeps
    its Jacobian)."""
    p, organ, rel, vec, ws = m[M_P], m[M_ORGAN], m[M_REL], m[M_VEC], m[M_WS]
    hill_at(p, t, organ, ws)
    if ws[WS_FRESH] > 0.0:
        ws[WS_FRESH] = 0.0
    else:
        _release_of(m, u, rel[3], rel[4])
    _f(p, m[M_SC], m[M_MFREE], organ[0], ws[WS_PERM], rel[0], u, f, vec[0], vec[1])


@kernel
def _stage_solve(m, g, r, k):
    """SOLVE: k = (I - g J)^-1 r by forward substitution over the blocks."""
    p, fac, coef, w, vec, rel, bf = m[M_P], m[M_FAC], m[M_COEF], m[M_W], m[M_VEC], m[M_REL], m[M_BF]
    pad, tmp, drate_dd, drate_dx = vec[0], vec[1], rel[1], rel[2]
    particle_solve(p, g, fac[0], coef[0], r[YX:YX + NS], k[YX:YX + NS], w)
    for i in range(NS):
        pad[i] = r[YD + i] - g * drate_dx[i] * k[YX + i] if i < NB else 0.0
    particle_solve(p, g, fac[1], coef[1], pad, tmp, w)
    for i in range(NB):
        k[YD + i] = tmp[i]
    k[YB] = r[YB] + tmp[URINE] + tmp[FECES]          # excretion of particles with their drug
    for i in range(NF):
        bf[i] = r[YF + i]
    for i in range(NB):
        bf[_into(i)] += g * ((_kd(p, i) + drate_dd[i]) * k[YD + i] + drate_dx[i] * k[YX + i])
    lu_solve(m[M_LU], m[M_PIV], bf)
    for i in range(NF):
        k[YF + i] = bf[i]
    _auc(m[M_SC], k[YD:YD + NB], k[YF:YF + NF], bf[:4])
    for j in range(4):
        k[YA + j] = r[YA + j] + g * bf[j]


@inlined
def _next_stop(m, tau, end):
    """STOP: the heat window's edges, the release lag and the trigger windows' edges."""
    p, sc, windows = m[M_P], m[M_SC], m[M_WIN]
    stop = end
    for edge in (p[P_PERM_START], p[P_PERM_END], p[P_CAPT_START], p[P_CAPT_END], sc[S_LAG]):
        if tau < edge * (1 - 1e-12) and edge < stop:
            stop = edge
    for k in range(m[M_NWIN]):
        for edge in (windows[k, 0], windows[k, 1]):
            if tau < edge * (1 - 1e-12) and edge < stop:
                stop = edge
    return stop


@cache
def stepper():
    """The payload model's compiled Rodas4 stepper (generated on first use, compiled on first call:
    a formulation without payloads never compiles it)."""
    return rodas4_stepper("payload", depends=("nanocloak.model.particle_kernel", "nanocloak.model.particle",
                                              "nanocloak.model.drug", "nanocloak.model.release_in_body"),
                          ELEMENT=_element, FACTOR=_step_factor, RHS=_stage_rhs, SOLVE=_stage_solve, STOP=_next_stop,
                          OBSERVE=observe_state)


def integrate_batch(params, scalars, f_tabs, g_tabs, n_tabs, bins, statics, mfrees, windows, n_wins, tau_out, n_out,
                    rtol, atol, max_steps, obs, steps, rejected) -> None:
    """Integrate every element (row) of the inputs through its output times tau_out[e, :n_out[e]],
    the joint state into obs (element, time, NY); steps[e] < 0 where an element failed (-1
    non-finite values, -2 step limit). Elements run in threads (solvers.stepper.run_batch)."""
    batch = (params, scalars, f_tabs, g_tabs, n_tabs, bins, statics, mfrees, windows, n_wins)
    run_batch(stepper().integrate_range, batch, params.shape[0], tau_out, n_out, INITIAL_STEP_H, rtol, atol, max_steps,
              obs, steps, rejected)


_integrate_batch = integrate_batch   # the name payload.py calls
