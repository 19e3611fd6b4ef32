"""The compiled Rodas4 stepper, written once: stage sequence, error test, step control, dense output
and the loop over a batch's elements. stepper.py copies the part below the BODY marker into one
small generated module per model, where the placeholder names are bound to the model's compiled
functions (numba cannot cache a function that takes other compiled functions as arguments, so each
model gets its own module, cached like any other: `@njit(cache=True)` works across processes).

What a model supplies (m: the model's data for one element, a tuple of arrays and numbers that its
own functions unpack; x, u, f, r, k, ft, out: float64 vectors of the model's state size):

    ELEMENT(batch, e) -> (m, x)   element e of a batch (a tuple of arrays): its data and initial state
    FACTOR(m, tau, h, g, x, ft)   at a step's start: factor I - g J(tau, x) (g = gamma h), put the
                                  time derivative df/dtau (at tau, x) into ft, and fix whatever the
                                  model holds constant over the step
    RHS(m, t, u, f)               f = f(t, u) at a stage
    SOLVE(m, g, r, k)             k = (I - g J)^-1 r with FACTOR's factors
    STOP(m, tau, end)             the next time a step may not cross (rates that jump), <= end
    OBSERVE(m, x, out)            what is recorded at an output time

Time runs from tau = 0 (each model shifts its own clock); outputs at tau <= 0 record the initial
state. Return codes of integrate_one: accepted steps (>= 0), -1 non-finite values, -2 step limit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from nanocloak.solvers.compiled import FAST, error_norm, interpolate, next_step
from nanocloak.solvers.tableau import GAMMA, STAGE_A, STAGE_C, STAGE_D, STAGE_TIME, STAGES


# ---- placeholders: stepper.py replaces this part with the model's bindings -----------------------
def ELEMENT(batch, e):  # noqa: N802  (placeholder names stand out in the template on purpose)
    raise NotImplementedError("a template placeholder; see stepper.rodas4_stepper")


def FACTOR(m, tau, h, g, x, ft):  # noqa: N802
    raise NotImplementedError


def RHS(m, t, u, f):  # noqa: N802
    raise NotImplementedError


def SOLVE(m, g, r, k):  # noqa: N802
    raise NotImplementedError


def STOP(m, tau, end):  # noqa: N802
    raise NotImplementedError


def OBSERVE(m, x, out):  # noqa: N802
    raise NotImplementedError


# ---- BODY: copied into every generated stepper ---------------------------------------------------
@njit(cache=True, fastmath=FAST, inline='always')
def attempt(m, tau, h, x, xn, ft, f, u, r, k):
    """One Rodas4 step of size h from (tau, x): the stages into k, the new state into xn."""
    g = GAMMA * h
    ih = 1.0 / h
    FACTOR(m, tau, h, g, x, ft)
    n = x.size
    for s in range(STAGES):
        for i in range(n):
            acc = x[i]
            for j in range(s):
                acc += STAGE_A[s, j] * k[j, i]
            u[i] = acc
        RHS(m, tau + STAGE_TIME[s] * h, u, f)
        for i in range(n):
            acc = 0.0
            for j in range(s):
                acc += STAGE_C[s, j] * k[j, i]
            r[i] = g * (f[i] + h * STAGE_D[s] * ft[i] + ih * acc)
        SOLVE(m, g, r, k[s])
    for i in range(n):
        xn[i] = u[i] + k[STAGES - 1, i]


@njit(cache=True, fastmath=FAST, inline='always')
def record(m, tau, h, x, xn, k, tau_out, idx, n_out, xi, obs):
    """Observe every output time inside (tau, tau + h] by the dense output; returns the next index."""
    t_new = tau + h
    while idx < n_out and tau_out[idx] <= t_new * (1 + 1e-12):
        s = (tau_out[idx] - tau) / h
        if s >= 1.0:
            OBSERVE(m, xn, obs[idx])
        else:
            interpolate(s, x, xn, k, xi)
            OBSERVE(m, xi, obs[idx])
        idx += 1
    return idx


@njit(cache=True, fastmath=FAST, inline='always')
def integrate_one(m, x, tau_out, n_out, h0, rtol, atol, max_steps, obs):
    """Integrate one element from tau = 0 (state x, overwritten) through tau_out[:n_out]."""
    n = x.size
    xn, xi, ft, f, u, r = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    k = np.empty((STAGES, n))
    tau, idx, steps, rejected = 0.0, 0, 0, 0
    while idx < n_out and tau_out[idx] <= 0.0:
        OBSERVE(m, x, obs[idx])
        idx += 1
    if idx == n_out:
        return 0, 0
    end = tau_out[n_out - 1]
    h = min(h0, tau_out[idx])
    while idx < n_out:
        stop = STOP(m, tau, end)
        ht = min(h, stop - tau)
        attempt(m, tau, ht, x, xn, ft, f, u, r, k)
        err = error_norm(x, xn, k[STAGES - 1], rtol, atol)
        if not math.isfinite(err):
            return -1, rejected
        if err <= 1.0:
            idx = record(m, tau, ht, x, xn, k, tau_out, idx, n_out, xi, obs)
            tau = stop if ht == stop - tau else tau + ht
            for i in range(n):
                x[i] = xn[i]
            steps += 1
        else:
            rejected += 1
        h = next_step(ht, h, err)
        if steps + rejected > max_steps:
            return -2, rejected
    return steps, rejected


@njit(cache=True, fastmath=FAST, nogil=True)
def integrate_range(batch, lo, hi, tau_out, n_out, h0, rtol, atol, max_steps, obs, steps, rejected):
    """Elements lo..hi-1 of a batch, without the GIL (stepper.run_batch spreads ranges over threads)."""
    for e in range(lo, hi):
        m, x = ELEMENT(batch, e)
        s, rj = integrate_one(m, x, tau_out[e], n_out[e], h0, rtol, atol, max_steps, obs[e])
        steps[e] = s
        rejected[e] = rj
