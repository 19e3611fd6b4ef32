"""Compiled batch integration of the particle model: the same equations and structured solve as
particle.py, written as scalar loops for numba, integrated by the shared Rodas4 core (a stepper
generated from solvers/rodas4_template.py, see solvers/stepper.py) in threads over a batch.

Why a second, compiled form: in numpy every step allocates and sweeps dozens of arrays, so a
simulation costs milliseconds; compiled, one simulation's 33 states stay in cache and it costs
~0.1-0.3 ms, and threads share a batch across cores without copying. The numpy engine (particle.py
with solvers/rodas4.py) remains the reference: tests hold the two to agreement within the
integration tolerance.
"""

from __future__ import annotations

import math
from functools import cache

import numba
import numpy as np

from nanocloak.model import particle as wb
from nanocloak.solvers.compiled import FAST, inlined, kernel  # noqa: F401  (FAST: as before)
from nanocloak.solvers.rodas4 import BatchSolution, IntegrationError
from nanocloak.solvers.stepper import rodas4_stepper, run_batch

# numba's own thread pool rather than OpenMP, should anything start it: a process that has run the
# kernel can still fork workers (simulate_many), which GNU OpenMP forbids
numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]  # numba fills config at import
#: first step (h): the dose starts mixed in the blood, the fastest processes are minutes to hours
INITIAL_STEP_H = 1e-3

NO = wb.N_ORGANS
NS = wb.N_STATES
NOBS = len(wb.OBSERVABLES)
LUNG, LIVER, SPLEEN, KIDNEY, TUMOR = wb.LUNG, wb.LIVER, wb.SPLEEN, wb.KIDNEY, wb.TUMOR
ART, VEN, CAP0, TIS0, PC0 = wb.ART, wb.VEN, wb.CAP0, wb.TIS0, wb.PC0
URINE, FECES, DEGRADED, AUC = wb.URINE, wb.FECES, wb.DEGRADED, wb.AUC_LAB_BLOOD
# organ roles as 0/1 vectors, so the organ loops have no branches
DRAIN = np.array([0.0 if o in (LUNG, SPLEEN) else 1.0 for o in range(NO)])   # drains to the venous pool
IS_TUMOR = np.array([1.0 if o == TUMOR else 0.0 for o in range(NO)])

# parameter vector layout: 10 scalars, 14 per-organ blocks, then the route's 3 scalars (after the
# blocks, so the blocks keep their offsets and the compiled loops their iv results bit for bit)
P_ART_OUT, P_VEN_OUT, P_KDEG, P_LAB, P_ART0, P_VEN0, P_KDEG_PC = 0, 1, 2, 3, 4, 5, 6
P_PERM_START, P_PERM_END, P_PERM_FACTOR = 7, 8, 9
_BLOCKS = ("q_out", "pa_cap", "pa_tis", "inflow", "kmax_c", "kmax_t", "nlogk50", "hill", "krel_c", "krel_t", "ex_c", "ex_t",
           "cap0", "inv_k50")
B = {name: 10 + i * NO for i, name in enumerate(_BLOCKS)}
_END_OF_BLOCKS = 10 + len(_BLOCKS) * NO
P_DEPOT0, P_KABS, P_DEPOT_INTO = _END_OF_BLOCKS, _END_OF_BLOCKS + 1, _END_OF_BLOCKS + 2   # dose.route: depot %ID, k_abs, target
# treatment.magnets (model/magnetic.py): one-way capture from the tumor's capillary blood into its
# retained (cell-associated) pool at P_CAPT_RATE (1/h) inside [start, end); P_CAPT_NOW is the rate of the current step (set with the
# step's permeability factor by tumor_permeability, read by particle_rhs and particle_factor)
P_CAPT_START, P_CAPT_END, P_CAPT_RATE, P_CAPT_NOW = (_END_OF_BLOCKS + 3, _END_OF_BLOCKS + 4, _END_OF_BLOCKS + 5,
                                                     _END_OF_BLOCKS + 6)
N_PARAMS = _END_OF_BLOCKS + 7
Q_OUT, PA_CAP, PA_TIS, INFLOW = B["q_out"], B["pa_cap"], B["pa_tis"], B["inflow"]
KMAX_C, KMAX_T, NLOGK50, HILL = B["kmax_c"], B["kmax_t"], B["nlogk50"], B["hill"]
KREL_C, KREL_T, EX_C, EX_T, CAPZERO, INV_K50 = B["krel_c"], B["krel_t"], B["ex_c"], B["ex_t"], B["cap0"], B["inv_k50"]
MAX_INTEGER_HILL = 8


def pack(system: wb.ParticleSystem) -> np.ndarray:
    """(B, N_PARAMS) rate constants of a batch, from the same derivation as the numpy engine."""
    r = system.rates()
    n = system.batch_size
    p = np.zeros((n, N_PARAMS))
    p[:, P_ART_OUT], p[:, P_VEN_OUT], p[:, P_KDEG], p[:, P_LAB] = r.art_out, r.ven_out, r.k_deg, r.lab_blood
    x0 = wb.initial_state(system)                               # dose mixed in the blood (whole_body)
    p[:, P_ART0], p[:, P_VEN0] = x0[wb.ART], x0[wb.VEN]
    p[:, P_KDEG_PC] = r.k_deg_pc
    p[:, P_PERM_START], p[:, P_PERM_END], p[:, P_PERM_FACTOR] = system.perm_start, system.perm_end, system.perm_factor
    p[:, P_DEPOT0], p[:, P_KABS] = wb.depot_amount(system, np.zeros(n)), system.k_abs
    p[:, P_DEPOT_INTO] = system.depot_into
    p[:, P_CAPT_START], p[:, P_CAPT_END], p[:, P_CAPT_RATE] = system.capture_start, system.capture_end, system.capture_rate
    with np.errstate(divide="ignore"):
        nlogk50 = system.hill * np.log(system.k50)
        inv_k50 = 1.0 / system.k50
    blocks = {"q_out": r.q_out, "pa_cap": r.pa_cap, "pa_tis": r.pa_tis, "inflow": r.inflow_art,
              "kmax_c": system.kmax_cap, "kmax_t": system.kmax_tis, "nlogk50": nlogk50, "hill": system.hill,
              "krel_c": r.krel_cap, "krel_t": r.krel_tis, "ex_c": r.excrete_cap, "ex_t": r.excrete_tis,
              "cap0": x0[wb.CAP0:wb.TIS0], "inv_k50": inv_k50}
    for name, arr in blocks.items():
        p[:, B[name]: B[name] + NO] = arr.T
    return p


@kernel
def _hill(p, tau, hill, dhill):
    """Hill fraction of every organ at tau (and its derivative in tau). Integer exponents (the
    tabulated 1 and 5) by repeated products, others through one log and one exp: the ramp is
    evaluated five times per step, and transcendental calls dominated the step's cost."""
    if tau <= 0.0:
        for o in range(NO):
            hill[o], dhill[o] = 0.0, 0.0
        return
    lt = 0.0
    for o in range(NO):
        if p[KMAX_C + o] == 0.0 and p[KMAX_T + o] == 0.0:
            hill[o], dhill[o] = 0.0, 0.0
            continue
        n = p[HILL + o]
        if n == math.floor(n) and 1.0 <= n <= MAX_INTEGER_HILL:
            ratio = tau * p[INV_K50 + o]
            powered = ratio
            for _ in range(int(n) - 1):
                powered *= ratio
            h = powered / (1.0 + powered)
        else:
            if lt == 0.0:
                lt = math.log(tau)
            h = 1.0 / (1.0 + math.exp(p[NLOGK50 + o] - n * lt))
        hill[o], dhill[o] = h, n * h * (1.0 - h) / tau


@inlined
def tumor_permeability(p, tau):
    """Factor on the tumor's PA: heat-opened vessels inside [start, end), 1 outside. Also sets the
    step's magnetic capture rate P_CAPT_NOW (inside the magnet window, 0 outside): every step that
    takes its permeability factor here takes its capture rate with it."""
    p[P_CAPT_NOW] = p[P_CAPT_RATE] if p[P_CAPT_START] <= tau < p[P_CAPT_END] else 0.0
    return p[P_PERM_FACTOR] if p[P_PERM_START] <= tau < p[P_PERM_END] else 1.0


@kernel
def particle_rhs(p, hill, x, out, perm):
    """dx/dtau. The organ loop has no branches (organ roles enter as 0/1 vectors, the lung's venous
    inflow and the spleen's outflow into the liver are added after it), so LLVM vectorises it."""
    kd, kd_pc = p[P_KDEG], p[P_KDEG_PC]
    art, ven = x[ART], x[VEN]
    ven_in = 0.0
    total = art + ven
    inside = 0.0
    for o in range(NO):
        cap, tis, pc = x[CAP0 + o], x[TIS0 + o], x[PC0 + o]
        h = hill[o]
        wash = p[Q_OUT + o] * cap
        exch = (1.0 + (perm - 1.0) * IS_TUMOR[o]) * (p[PA_CAP + o] * cap - p[PA_TIS + o] * tis)
        up_c, up_t = p[KMAX_C + o] * h * cap, p[KMAX_T + o] * h * tis
        up_c += p[P_CAPT_NOW] * IS_TUMOR[o] * cap                 # magnetic capture (one way, into the retained pool)
        rel_c, rel_t = p[KREL_C + o] * pc, p[KREL_T + o] * pc
        out[CAP0 + o] = p[INFLOW + o] * art - wash - exch - up_c + rel_c - p[EX_C + o] * cap - kd * cap
        out[TIS0 + o] = exch - up_t + rel_t - p[EX_T + o] * tis - kd * tis
        out[PC0 + o] = up_c + up_t - rel_c - rel_t - kd_pc * pc
        ven_in += DRAIN[o] * wash
        total += cap + tis
        inside += pc
    out[CAP0 + LUNG] += p[P_VEN_OUT] * ven                      # arterial inflow of the lung is 0
    out[CAP0 + LIVER] += p[Q_OUT + SPLEEN] * x[CAP0 + SPLEEN]   # portal: spleen -> liver
    out[ART] = p[Q_OUT + LUNG] * x[CAP0 + LUNG] - p[P_ART_OUT] * art - kd * art
    out[VEN] = ven_in - p[P_VEN_OUT] * ven - kd * ven
    out[URINE] = p[EX_C + KIDNEY] * x[CAP0 + KIDNEY]
    out[FECES] = p[EX_T + LIVER] * x[TIS0 + LIVER]
    out[DEGRADED] = kd * total + kd_pc * inside
    out[AUC] = p[P_LAB] * ven


@kernel
def particle_dfdt(p, dhill, x, out):
    for i in range(NS):
        out[i] = 0.0
    for o in range(NO):
        dh = dhill[o]
        dc, dt = p[KMAX_C + o] * dh * x[CAP0 + o], p[KMAX_T + o] * dh * x[TIS0 + o]
        out[CAP0 + o] = -dc
        out[TIS0 + o] = -dt
        out[PC0 + o] = dc + dt


@kernel
def particle_factor(p, hill, g, minv, coef, perm, extra):
    """Per-organ 3x3 inverses of I - g L and the circulation chain coefficients (see whole_body).

    minv is organ-minor, minv[3 i + j, o] (row i, column j of organ o's inverse), so the organ
    loops of particle_factor and particle_solve vectorise. extra: a rate added to each compartment's own loss (NS
    vector; zero for the particles, the release rate's derivative for the drug they carry)."""
    kd = p[P_KDEG]
    for o in range(NO):
        h = hill[o]
        ku_c, ku_t = p[KMAX_C + o] * h + p[P_CAPT_NOW] * IS_TUMOR[o], p[KMAX_T + o] * h
        pm = 1.0 + (perm - 1.0) * IS_TUMOR[o]
        pa_c, pa_t = pm * p[PA_CAP + o], pm * p[PA_TIS + o]
        m00 = 1 + g * (p[Q_OUT + o] + pa_c + ku_c + p[EX_C + o] + kd + extra[CAP0 + o])
        m01 = -g * pa_t
        m02 = -g * p[KREL_C + o]
        m10 = -g * pa_c
        m11 = 1 + g * (pa_t + ku_t + p[EX_T + o] + kd + extra[TIS0 + o])
        m12 = -g * p[KREL_T + o]
        m20 = -g * ku_c
        m21 = -g * ku_t
        m22 = 1 + g * (p[KREL_C + o] + p[KREL_T + o] + p[P_KDEG_PC] + extra[PC0 + o])
        c00 = m11 * m22 - m12 * m21
        c01 = m02 * m21 - m01 * m22
        c02 = m01 * m12 - m02 * m11
        c10 = m12 * m20 - m10 * m22
        c11 = m00 * m22 - m02 * m20
        c12 = m02 * m10 - m00 * m12
        c20 = m10 * m21 - m11 * m20
        c21 = m01 * m20 - m00 * m21
        c22 = m00 * m11 - m01 * m10
        inv = 1.0 / (m00 * c00 + m01 * c10 + m02 * c20)
        minv[0, o], minv[1, o], minv[2, o] = c00 * inv, c01 * inv, c02 * inv
        minv[3, o], minv[4, o], minv[5, o] = c10 * inv, c11 * inv, c12 * inv
        minv[6, o], minv[7, o], minv[8, o] = c20 * inv, c21 * inv, c22 * inv
    s2l = p[Q_OUT + SPLEEN]
    beta_spleen = g * p[INFLOW + SPLEEN] * minv[0, SPLEEN]
    d_ven = 1 + g * (p[P_VEN_OUT] + kd + extra[VEN])
    acc = 0.0
    for o in range(NO):
        acc += DRAIN[o] * p[Q_OUT + o] * g * p[INFLOW + o] * minv[0, o]
    acc += p[Q_OUT + LIVER] * g * s2l * beta_spleen * minv[0, LIVER]
    delta_ven = g * acc / d_ven
    beta_lung = g * p[P_VEN_OUT] * minv[0, LUNG] * delta_ven
    coef[0] = d_ven
    coef[1] = delta_ven
    coef[2] = 1 + g * (p[P_ART_OUT] + kd + extra[ART]) - g * p[Q_OUT + LUNG] * beta_lung


@kernel
def particle_solve(p, g, minv, coef, r, y, w):
    """Y = (I - g A)^-1 R using the factors; w is scratch (3 x N_ORGANS)."""
    kd = p[P_KDEG]
    acc = 0.0
    for o in range(NO):
        rc, rt, rp = r[CAP0 + o], r[TIS0 + o], r[PC0 + o]
        w[0, o] = minv[0, o] * rc + minv[1, o] * rt + minv[2, o] * rp
        w[1, o] = minv[3, o] * rc + minv[4, o] * rt + minv[5, o] * rp
        w[2, o] = minv[6, o] * rc + minv[7, o] * rt + minv[8, o] * rp
        acc += DRAIN[o] * p[Q_OUT + o] * w[0, o]
    s2l = p[Q_OUT + SPLEEN]
    acc += p[Q_OUT + LIVER] * g * s2l * w[0, SPLEEN] * minv[0, LIVER]
    gamma_ven = (r[VEN] + g * acc) / coef[0]
    alpha_lung = w[0, LUNG] + g * p[P_VEN_OUT] * minv[0, LUNG] * gamma_ven
    y_art = (r[ART] + g * p[Q_OUT + LUNG] * alpha_lung) / coef[2]
    y_ven = gamma_ven + coef[1] * y_art
    y[ART], y[VEN] = y_art, y_ven
    cap_spleen = w[0, SPLEEN] + g * p[INFLOW + SPLEEN] * y_art * minv[0, SPLEEN]
    total = y_art + y_ven
    inside = 0.0
    for o in range(NO):
        s = g * p[INFLOW + o] * y_art
        y[CAP0 + o] = w[0, o] + s * minv[0, o]
        y[TIS0 + o] = w[1, o] + s * minv[3, o]
        y[PC0 + o] = w[2, o] + s * minv[6, o]
    # the lung is fed by the venous pool, the liver also by the spleen (arterial inflow as above)
    for o, s in ((LUNG, g * p[P_VEN_OUT] * y_ven), (LIVER, g * s2l * cap_spleen)):
        y[CAP0 + o] += s * minv[0, o]
        y[TIS0 + o] += s * minv[3, o]
        y[PC0 + o] += s * minv[6, o]
    for o in range(NO):
        total += y[CAP0 + o] + y[TIS0 + o]
        inside += y[PC0 + o]
    y[URINE] = r[URINE] + g * p[EX_C + KIDNEY] * y[CAP0 + KIDNEY]
    y[FECES] = r[FECES] + g * p[EX_T + LIVER] * y[TIS0 + LIVER]
    y[DEGRADED] = r[DEGRADED] + g * (kd * total + p[P_KDEG_PC] * inside)
    y[AUC] = r[AUC] + g * p[P_LAB] * y_ven


@inlined
def _observe(m, x, out):
    """OBSERVE of the stepper: the observables (particle.OBSERVABLES) of state x."""
    p = m[0]
    out[0] = x[ART] + x[VEN]
    for o in range(NO):
        out[1 + o] = x[CAP0 + o] + x[TIS0 + o] + x[PC0 + o]
    out[1 + NO] = x[URINE]
    out[2 + NO] = x[FECES]
    out[3 + NO] = x[DEGRADED]
    out[4 + NO] = p[P_LAB] * x[VEN]
    out[5 + NO] = x[AUC]


@inlined
def _next_stop(m, tau, end):
    """STOP of the stepper: steps may not straddle the heat window's edges (the rates jump there)
    nor pass the end."""
    p = m[0]
    stop = end
    for edge in (p[P_PERM_START], p[P_PERM_END], p[P_CAPT_START], p[P_CAPT_END]):
        if tau < edge * (1 - 1e-12) and edge < stop:
            stop = edge
    return stop


# ---- the model as the Rodas4 stepper sees it (solvers/rodas4_template.py) -------------------------
# m = (p, minv, coef, w, organ, no_extra, ws): parameters, the step's factors, solve scratch, organ
# vectors (Hill fraction, its derivative, scratch), zero extra loss, and ws = (time of the Hill
# fractions held in organ[0], tumor permeability factor of the step)
WS_HILL_AT, WS_PERM = 0, 1


@kernel
def initial_particles(p, x):
    """The dose mixed in the blood (particle.initial_state) into x[:NS], zero elsewhere."""
    for i in range(x.size):
        x[i] = 0.0
    x[ART], x[VEN] = p[P_ART0], p[P_VEN0]
    for o in range(NO):
        x[CAP0 + o] = p[CAPZERO + o]


@inlined
def depot_input(p, tau, out, scale):
    """Adds scale x the depot's input at tau (particle.depot_input): its exit into the state
    P_DEPOT_INTO and degradation in the depot, of D0 exp(-(k_abs + k_deg) tau)."""
    k = p[P_KABS] + p[P_KDEG]
    d = p[P_DEPOT0] * math.exp(-k * tau)
    out[int(p[P_DEPOT_INTO])] += scale * p[P_KABS] * d
    out[DEGRADED] += scale * p[P_KDEG] * d


@kernel
def _element(batch, e):
    """ELEMENT: element e's parameters, work arrays and initial state."""
    p = batch[0][e]
    x = np.empty(NS)
    initial_particles(p, x)
    m = (p, np.empty((9, NO)), np.empty(3), np.empty((3, NO)), np.empty((3, NO)), np.zeros(NS), np.zeros(2))
    return m, x


@inlined
def hill_at_step_start(p, tau, h, organ, ws):
    """Hill fractions at a step's start tau into organ[0] and their derivative into organ[1]; at
    tau = 0 the derivative slightly inside the step, where a Hill exponent < 1 is singular.
    (Shared with payload_kernel, whose particles are these.)"""
    if tau > 0.0:
        _hill(p, tau, organ[0], organ[1])
    else:
        _hill(p, 1e-3 * h, organ[2], organ[1])
        _hill(p, tau, organ[0], organ[2])
    ws[WS_HILL_AT] = tau


@inlined
def hill_at(p, t, organ, ws):
    """Hill fractions at a stage time t into organ[0] (recomputed only when the time moves)."""
    if t != ws[WS_HILL_AT]:
        _hill(p, t, organ[0], organ[1])
        ws[WS_HILL_AT] = t


@kernel
def _step_factor(m, tau, h, g, x, ft):
    """FACTOR: Hill fractions at tau, (dA/dtau) x and the factors of I - g A(tau)."""
    p, minv, coef, _, organ, no_extra, ws = m
    hill_at_step_start(p, tau, h, organ, ws)
    particle_dfdt(p, organ[1], x, ft)
    if p[P_KABS] > 0.0:                                       # a depot's input varies in time
        depot_input(p, tau, ft, -(p[P_KABS] + p[P_KDEG]))
    ws[WS_PERM] = tumor_permeability(p, tau + 0.5 * h)        # steps never straddle a heat window's edge
    particle_factor(p, organ[0], g, minv, coef, ws[WS_PERM], no_extra)


@inlined
def _stage_rhs(m, t, u, f):
    """RHS: dx/dtau at a stage."""
    p, organ, ws = m[0], m[4], m[6]
    hill_at(p, t, organ, ws)
    particle_rhs(p, organ[0], u, f, ws[WS_PERM])
    if p[P_KABS] > 0.0:
        depot_input(p, t, f, 1.0)


@inlined
def _stage_solve(m, g, r, k):
    """SOLVE: k = (I - g A)^-1 r by the structured solve."""
    particle_solve(m[0], g, m[1], m[2], r, k, m[3])


@cache
def stepper():
    """The particle model's compiled Rodas4 stepper (generated on first use, compiled on first call)."""
    return rodas4_stepper("particle", depends=("nanocloak.model.particle",), ELEMENT=_element, FACTOR=_step_factor,
                          RHS=_stage_rhs, SOLVE=_stage_solve, STOP=_next_stop, OBSERVE=_observe)


def integrate(system: wb.ParticleSystem, tau_out: np.ndarray, rtol: float, atol: float, max_steps: int = 50_000):
    """Same contract as solvers.rodas4.integrate for the particle model: returns a BatchSolution."""
    params = pack(system)
    n_el = params.shape[0]
    taus = np.ascontiguousarray(tau_out.T)                     # (element, time)
    n_out = np.sum(np.isfinite(taus), axis=1).astype(np.int64)
    obs = np.full((n_el, taus.shape[1], NOBS), np.nan)
    steps = np.zeros(n_el, dtype=np.int64)
    rejected = np.zeros(n_el, dtype=np.int64)
    run_batch(stepper().integrate_range, (params,), n_el, taus, n_out, INITIAL_STEP_H, rtol, atol, max_steps, obs,
              steps, rejected)
    if np.any(steps == -1):
        raise IntegrationError("the particle model produced non-finite values; check parameter overrides")
    if np.any(steps == -2):
        raise IntegrationError(f"step limit ({max_steps}) reached: the model is too stiff for the requested tolerance")
    return BatchSolution(np.transpose(obs, (1, 2, 0)), steps, rejected)
