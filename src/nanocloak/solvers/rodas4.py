"""Batched stiff integrator: Rodas4 (Hairer & Wanner 1996), one adaptive step size per simulation.

Why hand-written: scipy's solvers integrate one system at a time (a batch stacked into one
system would share one step size and one sparse LU); here every simulation of a batch keeps its
own step size, error control and output clock, while the arithmetic runs as numpy operations over
the whole batch. The model supplies a structured linear solver (see whole_body.StructuredSolver),
so a step costs O(states) per simulation. Because each simulation's arithmetic is independent of
the others, a result does not depend on what else is in the batch.

Rodas4: L-stable, stiffly accurate Rosenbrock method of order 4 with an embedded order-3 error
estimate; coefficients from Hairer & Wanner, Solving ODEs II (2nd ed. 1996), Sect. VI.4 (RODAS), in
tableau.py. This numpy form is the readable reference and the tests' oracle; the compiled models run
the same method through the steppers generated from rodas4_template.py (stepper.py).
For the non-autonomous linear system dx/dt = A(tau) x it needs the Jacobian A(tau_n) and the time
derivative (dA/dtau) x, both supplied by the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from nanocloak.errors import NanocloakError
from nanocloak.solvers.tableau import (  # noqa: F401  (the tableau, importable from here as before)
    A21,
    A31,
    A32,
    A41,
    A42,
    A43,
    A51,
    A52,
    A53,
    A54,
    C2,
    C3,
    C4,
    C21,
    C31,
    C32,
    C41,
    C42,
    C43,
    C51,
    C52,
    C53,
    C54,
    C61,
    C62,
    C63,
    C64,
    C65,
    D1,
    D2,
    D3,
    D4,
    DENSE2,
    DENSE3,
    FAC_MAX,
    FAC_MIN,
    GAMMA,
    SAFETY,
)


class LinearModel(Protocol):
    """What the integrator needs from a batched linear time-varying model."""

    def rhs(self, system, tau: np.ndarray, x: np.ndarray) -> np.ndarray: ...
    def rhs_time_derivative(self, system, tau: np.ndarray, x: np.ndarray) -> np.ndarray: ...
    def solver(self, system, tau: np.ndarray, hg: np.ndarray): ...
    def observe(self, system, x: np.ndarray) -> np.ndarray: ...


@dataclass
class BatchSolution:
    observations: np.ndarray  # (n_out_max, n_obs, B), NaN where an element has fewer outputs
    steps: np.ndarray         # accepted steps per simulation
    rejected: np.ndarray      # rejected steps per simulation


class IntegrationError(NanocloakError, RuntimeError):
    """The integrator could not finish (non-finite values, step limit): a parameter set the model cannot run."""


def integrate(
    model: LinearModel,
    system,
    x0: np.ndarray,
    tau_out: np.ndarray,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    max_steps: int = 50_000,
    on_progress: Callable[[int], None] | None = None,
) -> BatchSolution:
    """Integrate every simulation of the batch from tau = 0 to its output times.

    x0: (n_states, B) initial states; tau_out: (n_out_max, B) increasing output times per
    simulation, padded with NaN; on_progress(k) is called with the number of simulations that
    finished since the last call.
    """
    n_out_max, batch = tau_out.shape
    n_out = np.sum(np.isfinite(tau_out), axis=0)
    probe = model.observe(system.take(np.arange(min(batch, 1))), x0[:, :1]) if batch else np.zeros((0, 1))
    out = np.full((n_out_max, probe.shape[0], batch), np.nan)
    steps = np.zeros(batch, dtype=np.int64)
    rejected = np.zeros(batch, dtype=np.int64)
    if batch == 0:
        return BatchSolution(out, steps, rejected)

    work = _Work(system, x0.astype(float, copy=True), np.arange(batch))
    finished = n_out == 0
    work.keep(~finished)
    idx = np.zeros(work.size, dtype=np.int64)
    tau = np.zeros(work.size)
    h = _initial_step(model, work, tau_out, rtol, atol)
    done = np.zeros(work.size, dtype=bool)
    finished_since_compaction = 0

    while work.size:
        g = work.ids
        stop = _next_stop(work.system, tau, tau_out[n_out[g] - 1, g])
        h_try = np.where(done, 1.0, np.minimum(h, stop - tau))  # finished rows idle harmlessly
        x_new, err, ks = _rodas4_step(model, work.system, tau, work.x, h_try, rtol, atol)
        accept = (err <= 1.0) & ~done
        fac = np.clip(SAFETY * np.maximum(err, 1e-10) ** -0.25, FAC_MIN, FAC_MAX)
        if not np.all(np.isfinite(err[~done])):
            raise IntegrationError("the particle model produced non-finite values; check parameter overrides")

        finished_now = _dense_outputs(model, work, out, tau_out, idx, n_out, tau, h_try, accept, x_new, ks)
        tau = np.where(accept, np.where(h_try == stop - tau, stop, tau + h_try), tau)
        work.x[:, accept] = x_new[:, accept]
        h_next = h_try * fac
        h = np.where(accept & (h_try < h), np.maximum(h_next, h), h_next)
        steps[g] += accept
        rejected[g] += ~accept & ~done
        if np.any(steps[g] + rejected[g] > max_steps):
            raise IntegrationError(f"step limit ({max_steps}) reached: the model is too stiff for the requested tolerance")
        if finished_now.size:
            done[finished_now] = True
            idx[finished_now] = 0  # any valid index; these rows are masked from now on
            finished_since_compaction += finished_now.size
            if on_progress is not None:
                on_progress(int(finished_now.size))
        if finished_since_compaction and (finished_since_compaction >= 0.2 * work.size or done.all()):
            keep = ~done
            work.keep(keep)
            idx, tau, h, done = idx[keep], tau[keep], h[keep], done[keep]
            finished_since_compaction = 0
    return BatchSolution(out, steps, rejected)


def _next_stop(system, tau: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Steps may not straddle a heat window's edges (the tumor's rates jump there) nor pass the end."""
    stop = end.copy()
    for name in ("perm_start", "perm_end", "capture_start", "capture_end"):
        edge = getattr(system, name, None)
        if edge is not None:
            edge = np.broadcast_to(edge, tau.shape)
            ahead = (tau < edge * (1 - 1e-12)) & (edge < stop)
            stop = np.where(ahead, edge, stop)
    return stop


def _dense_outputs(model, work, out, tau_out, idx, n_out, tau, h, accept, x_new, ks) -> np.ndarray:
    """Record every output time inside an accepted step by the dense-output interpolant; returns
    the rows that have now produced all their outputs."""
    g = work.ids
    q2 = sum(c * k for c, k in zip(DENSE2, ks))
    q3 = sum(c * k for c, k in zip(DENSE3, ks))
    finished = []
    pending = accept.copy()
    while True:
        target = tau_out[np.minimum(idx, n_out[g] - 1), g]
        rows = np.flatnonzero(pending & (idx < n_out[g]) & (target <= (tau + h) * (1 + 1e-12)))
        if rows.size == 0:
            break
        s = np.minimum((target[rows] - tau[rows]) / h[rows], 1.0)
        x0, x1 = work.x[:, rows], x_new[:, rows]
        xi = np.where(s < 1.0, (1 - s) * x0 + s * (x1 + (1 - s) * (q2[:, rows] + s * q3[:, rows])), x1)
        out[idx[rows], :, g[rows]] = model.observe(work.system.take(rows), xi).T
        idx[rows] += 1
        finished.extend(rows[idx[rows] >= n_out[g[rows]]].tolist())
    return np.array(sorted(set(finished)), dtype=np.int64)


class _Work:
    """The still-running part of the batch: its parameters, states and global indices."""

    def __init__(self, system, x, ids):
        self.system, self.x, self.ids = system, x, ids

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def keep(self, mask: np.ndarray) -> None:
        if mask.all():
            return
        sel = np.flatnonzero(mask)
        self.system = self.system.take(sel)
        self.x = self.x[:, sel]
        self.ids = self.ids[sel]


def _wrms(err: np.ndarray, x: np.ndarray, x_new: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    scale = atol + rtol * np.maximum(np.abs(x), np.abs(x_new))
    return np.sqrt(np.mean((err / scale) ** 2, axis=0))


def _initial_step(model, work: _Work, tau_out, rtol, atol) -> np.ndarray:
    """Starting step 1e-3 h (3.6 s): the dose starts mixed in the blood, so the fastest remaining
    processes (uptake ramp, tissue exchange) are minutes to hours; the error test shortens it if not."""
    first = tau_out[0, work.ids]
    return np.minimum(np.full(work.size, 1e-3), first)


def _rodas4_step(model, s, tau, x, h, rtol, atol):
    hg = GAMMA * h
    lin = model.solver(s, tau, hg)
    # (dA/dtau) x, evaluated slightly inside the step where a Hill exponent < 1 makes it singular at 0
    ft = model.rhs_time_derivative(s, np.maximum(tau, 1e-3 * h), x)
    inv_h = 1.0 / h

    def stage(f, extra):
        return lin.solve(hg * (f + extra))

    k1 = stage(model.rhs(s, tau, x), h * D1 * ft)
    u = x + A21 * k1
    k2 = stage(model.rhs(s, tau + C2 * h, u), h * D2 * ft + inv_h * (C21 * k1))
    u = x + A31 * k1 + A32 * k2
    k3 = stage(model.rhs(s, tau + C3 * h, u), h * D3 * ft + inv_h * (C31 * k1 + C32 * k2))
    u = x + A41 * k1 + A42 * k2 + A43 * k3
    k4 = stage(model.rhs(s, tau + C4 * h, u), h * D4 * ft + inv_h * (C41 * k1 + C42 * k2 + C43 * k3))
    u = x + A51 * k1 + A52 * k2 + A53 * k3 + A54 * k4
    k5 = stage(model.rhs(s, tau + h, u), inv_h * (C51 * k1 + C52 * k2 + C53 * k3 + C54 * k4))
    u = u + k5
    k6 = stage(model.rhs(s, tau + h, u), inv_h * (C61 * k1 + C62 * k2 + C63 * k3 + C64 * k4 + C65 * k5))
    x_new = u + k6
    return x_new, _wrms(k6, x, x_new, rtol, atol), (k1, k2, k3, k4, k5)
