"""Simulating formulations: output grids, superposition of doses and coating classes, batching.

The particle model is linear, so the response to a schedule is the sum of the responses to each
dose (each with its own time-since-dose uptake clock and its own repeat-dose clearance factor),
and a dose split into coating classes is the weighted sum of the classes. Every (formulation,
class, dose) is one element of a batch integrated together (integrator.py); elements never
interact, so a result does not depend on what else is in the batch.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from . import whole_body
from .formulation import Formulation
from .integrator import integrate
from .parameters import ResolvedFormulation, particle_systems, resolve
from .results import SimulationResult

#: integrator tolerances (%ID): ten times inside the accuracy users are promised (rtol 1e-4,
#: atol 1e-6 against a tight reference); mass balance does not depend on them (a linear
#: invariant that Rosenbrock methods keep exactly)
DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-7
#: times every output holds (spec), and a log-spaced fill for smooth curves
SPEC_TIMES_H = (0.083, 1.0, 4.0, 8.0, 24.0, 48.0, 72.0, 168.0)
POST_DOSE_TIMES_H = (0.083, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0)
FILL_POINTS = 48
CHUNK_ELEMENTS = 2048


def output_grid(f: Formulation) -> np.ndarray:
    """t_h: 0, the spec's fixed times, each dose and its post-dose points, user times, a log fill."""
    end = f.simulate.end_h
    times = {0.0, end}
    times.update(t for t in SPEC_TIMES_H if t <= end)
    for td in f.dose.times_h:
        times.add(td)
        times.update(td + dt for dt in POST_DOSE_TIMES_H if td + dt <= end)
    times.update(f.simulate.output_times_h)
    times.update(np.geomspace(0.083, end, FILL_POINTS).tolist() if end > 0.083 else [])
    grid = np.array(sorted(times))
    keep = np.concatenate([[True], np.diff(grid) > 1e-9 * np.maximum(grid[1:], 1.0)])
    return grid[keep]


@dataclass
class _Plan:
    resolved: ResolvedFormulation
    grid: np.ndarray
    weights: np.ndarray
    offsets: np.ndarray      # first grid index strictly after each element's dose time
    first_element: int


def _plan(resolved_list: list[ResolvedFormulation]):
    plans, systems, taus = [], [], []
    start = 0
    for r in resolved_list:
        grid = output_grid(r.formulation)
        system, weights, t_dose = particle_systems(r)
        offsets = np.searchsorted(grid, t_dose, side="right")
        for td, off in zip(t_dose, offsets):
            taus.append(grid[off:] - td)
        systems.append(system)
        plans.append(_Plan(r, grid, weights, offsets, start))
        start += len(weights)
    n_max = max((len(t) for t in taus), default=0)
    tau_out = np.full((n_max, len(taus)), np.nan)
    for i, t in enumerate(taus):
        tau_out[: len(t), i] = t
    return plans, whole_body.ParticleSystem.concatenate(systems), tau_out


def _run(formulations: list[Formulation], rtol: float, atol: float,
         on_progress: Callable[[int], None] | None = None) -> list[SimulationResult]:
    resolved = [resolve(f) for f in formulations]
    plans, system, tau_out = _plan(resolved)
    x0 = whole_body.initial_state(system.batch_size)
    counter = _ElementCounter(plans, on_progress)
    sol = integrate(whole_body.ParticleModel, system, x0, tau_out, rtol=rtol, atol=atol, on_progress=counter)
    results = []
    for p in plans:
        n_obs = sol.observations.shape[1]
        total = np.zeros((len(p.grid), n_obs))
        for k, (w, off) in enumerate(zip(p.weights, p.offsets)):
            series = sol.observations[: len(p.grid) - off, :, p.first_element + k]
            total[off:] += w * series
        n_given = np.searchsorted(np.asarray(p.resolved.dose_times_h), p.grid, side="left")
        results.append(SimulationResult.build(p.resolved, p.grid, total, n_given))
    return results


class _ElementCounter:
    """Turns per-element completions into per-formulation progress (approximately, by elements)."""

    def __init__(self, plans, on_progress):
        self.per_formulation = max(1.0, sum(len(p.weights) for p in plans) / max(len(plans), 1))
        self.on_progress, self.acc = on_progress, 0.0

    def __call__(self, n: int) -> None:
        if self.on_progress is None:
            return
        self.acc += n / self.per_formulation
        whole = int(self.acc)
        if whole:
            self.acc -= whole
            self.on_progress(whole)


def simulate(f: Formulation, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> SimulationResult:
    """Simulate one formulation."""
    return _run([f], rtol, atol)[0]


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i: i + size]


def _run_chunk(args):
    formulations, rtol, atol = args
    return _run(formulations, rtol, atol)


def simulate_many(
    formulations: Iterable[Formulation],
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    workers: int | None = 1,
    chunk_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[SimulationResult]:
    """Simulate many formulations together (batched), optionally over several processes.

    Results equal those of `simulate` one by one (each simulation keeps its own step sizes).
    `workers=None` uses every core; `on_progress(n)` is told how many formulations finished.
    """
    items = list(formulations)
    if not items:
        return []
    per_chunk = chunk_size or max(1, CHUNK_ELEMENTS // max(1, _elements_per_formulation(items[0])))
    chunks = list(_chunks(items, per_chunk))
    n_workers = os.cpu_count() or 1 if workers is None else max(1, workers)
    if n_workers == 1 or len(chunks) == 1:
        out: list[SimulationResult] = []
        for chunk in chunks:
            out.extend(_run(chunk, rtol, atol, on_progress))
        return out
    out = []
    with ProcessPoolExecutor(max_workers=min(n_workers, len(chunks))) as pool:
        for res in pool.map(_run_chunk, [(c, rtol, atol) for c in chunks]):
            out.extend(res)
            if on_progress is not None:
                on_progress(len(res))
    return out


def _elements_per_formulation(f: Formulation) -> int:
    classes = 2 if f.surface.kind == "membrane" else 1
    return classes * len(f.dose.times_h)
