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
state. steps[e] of integrate_range: accepted steps (>= 0), -1 non-finite values, -2 step limit.
"""

from __future__ import annotations

import math

import numpy as np

from nanocloak.solvers.compiled import copy_into, entry, error_norm, interpolate, next_step, stage_load, stage_state, step_end
from nanocloak.solvers.tableau import GAMMA, STAGE_TIME, STAGES


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
@entry
def integrate_range(batch, lo, hi, tau_out, n_out, h0, rtol, atol, max_steps, obs, steps, rejected):
    """Integrate elements lo..hi-1 of a batch from tau = 0 through their output times tau_out[e, :n_out[e]],
    without the GIL (stepper.run_batch spreads ranges over threads). Compiled once per model, so the
    model-independent arithmetic is in solvers.compiled (compiled once for all models)."""
    for e in range(lo, hi):
        m, x = ELEMENT(batch, e)
        n, times, out, n_times = x.size, tau_out[e], obs[e], n_out[e]
        vectors, k = np.empty((6, n)), np.empty((STAGES, n))
        xn, xi, ft, f, u, r = vectors[0], vectors[1], vectors[2], vectors[3], vectors[4], vectors[5]
        tau, idx, accepted, failed = 0.0, 0, 0, 0
        while idx < n_times and times[idx] <= 0.0:     # outputs at the start
            OBSERVE(m, x, out[idx])
            idx += 1
        h = min(h0, times[idx]) if idx < n_times else h0
        while idx < n_times:
            stop = STOP(m, tau, times[n_times - 1])
            ht = min(h, stop - tau)
            g = GAMMA * ht
            FACTOR(m, tau, ht, g, x, ft)
            for s in range(STAGES):                    # the Rosenbrock stages (tableau.py)
                stage_state(s, x, k, u)
                RHS(m, tau + STAGE_TIME[s] * ht, u, f)
                stage_load(s, g, ht, f, ft, k, r)
                SOLVE(m, g, r, k[s])
            step_end(u, k, xn)
            err = error_norm(x, xn, k[STAGES - 1], rtol, atol)
            if not math.isfinite(err):
                accepted = -1
                break
            if err <= 1.0:
                while idx < n_times and times[idx] <= (tau + ht) * (1 + 1e-12):   # dense output
                    frac = (times[idx] - tau) / ht
                    if frac < 1.0:
                        interpolate(frac, x, xn, k, xi)
                    OBSERVE(m, xi if frac < 1.0 else xn, out[idx])
                    idx += 1
                tau = stop if ht == stop - tau else tau + ht
                copy_into(xn, x)
                accepted += 1
            else:
                failed += 1
            h = next_step(ht, h, err)
            if accepted + failed > max_steps:
                accepted = -2
                break
        steps[e], rejected[e] = accepted, failed
