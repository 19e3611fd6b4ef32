"""Simulating formulations: output grids, superposition of doses and coating classes, batching.

The particle model is linear, so the response to a schedule is the sum of the responses to each
dose (each with its own time-since-dose uptake clock and its own repeat-dose clearance factor),
and a dose split into coating classes is the weighted sum of the classes. Every (formulation,
class, dose) is one element of a batch integrated together (integrator.py); elements never
interact, so a result does not depend on what else is in the batch.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

import numpy as np

from nanocloak.model import particle as whole_body
from nanocloak.model import particle_kernel, payload
from nanocloak.model.parameters import ResolvedFormulation, particle_systems, resolve
from nanocloak.model.therapy import outcome as therapy
from nanocloak.simulation import metrics
from nanocloak.simulation.collection import ResultSet
from nanocloak.simulation.results import SimulationResult
from nanocloak.spec.formulation import Formulation

LEARNED_LABEL = ("learned from the Nano-Tumor Database for this particle and tumor (model.tumor_parameters: learned; "
                 "docs/learning.md)")


def learned_tumor_parameters(f: Formulation) -> tuple:
    """(name, value, label) of the tumor parameters the NTD predictor gives this formulation, when it
    asks for them (model.tumor_parameters: learned); handed down to the model's resolution."""
    if f.model.tumor_parameters != "learned" or f.subject.tumor is None or f.core.is_free_drug:
        return ()
    from nanocloak.learn import tumor_overrides

    return tuple((name, value, LEARNED_LABEL) for name, value in tumor_overrides(f).items())


def resolve_formulation(f: Formulation, describe: bool = True) -> ResolvedFormulation:
    """Every model parameter of a formulation, learned tumor parameters included."""
    return resolve(f, describe, learned_tumor_parameters(f))


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
    edges = []
    if f.treatment.lasers:
        from nanocloak.model.therapy.outcome import damage_constant as _d

        lasting = _d("heat_permeability_duration_h")
        for las in f.treatment.lasers:   # exposures and heat windows start and end on output times
            on = las.duration_min / 60.0
            edges += [las.at_h, las.at_h + on, las.at_h + on + lasting]
    return _grid(float(f.simulate.end_h), tuple(f.dose.times_h), tuple(f.simulate.output_times_h), tuple(edges)).copy()


@lru_cache(maxsize=256)
def _grid(end: float, dose_times: tuple, extra: tuple, laser_edges: tuple = ()) -> np.ndarray:
    times = {0.0, end}
    times.update(t for t in SPEC_TIMES_H if t <= end)
    for td in dose_times:
        times.add(td)
        times.update(td + dt for dt in POST_DOSE_TIMES_H if td + dt <= end)
    times.update(extra)
    for edge in laser_edges:
        if 0 < edge <= end:
            times.add(edge)
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
    t_dose: np.ndarray       # each element's dose time


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
        plans.append(_Plan(r, grid, weights, offsets, start, t_dose))
        start += len(weights)
    n_max = max((len(t) for t in taus), default=0)
    tau_out = np.full((n_max, len(taus)), np.nan)
    for i, t in enumerate(taus):
        tau_out[: len(t), i] = t
    return plans, whole_body.ParticleSystem.concatenate(systems), tau_out


def _run(formulations: list[Formulation], rtol: float, atol: float,
         on_progress: Callable[[int], None] | None = None, describe: bool = False) -> list[SimulationResult]:
    with _no_cyclic_gc():
        return _run_batch(formulations, rtol, atol, on_progress, describe)


@contextlib.contextmanager
def _no_cyclic_gc():
    """A batch allocates many short-lived objects and no reference cycles; the cyclic collector,
    triggered by allocation counts alone, would otherwise cost as much as the simulation."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_batch(formulations, rtol, atol, on_progress, describe):
    resolved = [resolve_formulation(f, describe) for f in formulations]
    results: list[SimulationResult | None] = [None] * len(resolved)
    particle = [i for i, r in enumerate(resolved) if not r.formulation.core.is_free_drug]
    if particle:
        for i, res in zip(particle, _particle_results([resolved[i] for i in particle], rtol, atol)):
            results[i] = res
    for i, r in enumerate(resolved):
        if r.formulation.core.is_free_drug:
            grid = output_grid(r.formulation)
            obs, pays, per_dose = payload.simulate_free_drug(r, grid)
            results[i] = SimulationResult.build(r, grid, obs, r.doses_given(grid), per_dose=per_dose)
            results[i].attach_payloads(pays)
        elif r.formulation.payloads:
            results[i].attach_payloads(payload.simulate_payloads(r, results[i].t_h))
        if r.formulation.subject.tumor is not None:
            results[i] = _with_therapy(results[i], rtol, atol)
            results[i].attach_imaging()          # on the grown tumor, after heat and payloads
            _attach_magnets(results[i])
    if on_progress is not None:
        on_progress(len(results))
    return results


def _attach_magnets(result: SimulationResult) -> None:
    """metrics.magnetic_targeting (treatment.magnets; model/magnetic.py): the magnet's physics for this
    particle, and a note where the core is not magnetic (the magnet then did nothing)."""
    f = result.resolved.formulation
    if not getattr(f.treatment, "magnets", None):
        return
    from nanocloak.model import magnetic

    captures = magnetic.magnet_captures(f, result.resolved.params["particle.hydrodynamic_diameter_nm"], result.resolved.params)
    result.metrics["magnetic_targeting"] = magnetic.magnet_metrics(captures, f.core.material)


def _with_therapy(result: SimulationResult, rtol: float, atol: float) -> SimulationResult:
    """Run the therapy chain; heat may re-run the particles (opened vessels) and the payloads."""
    r = result.resolved

    def rerun(windows, temperature):
        r.heat_windows, r.tumor_temperature = windows, temperature
        if r.formulation.core.is_free_drug:
            return result          # no particle and no release to change
        new = _particle_results([r], rtol, atol)[0] if windows else result
        if r.formulation.payloads:
            new.attach_payloads(payload.simulate_payloads(r, new.t_h))
        return new

    outcome = therapy.run(result, rerun)
    if outcome is None:
        return result
    th, final = outcome
    final.attach_therapy(th)
    return final


#: a depot's input (dose.route) enters the states as a time-dependent source, which the method
#: integrates by its quadrature: not the exact linear invariant of the i.v. model. Depot elements are
#: integrated at a tenth of the tolerance, so their mass balance holds within 1e-6 as iv's does
DEPOT_TOLERANCE_FACTOR = 0.1


def _integrate_particles(system: whole_body.ParticleSystem, tau_out: np.ndarray, rtol: float, atol: float):
    """Observations (output, observable, element) of the compiled integration of a batch; depot
    elements apart at DEPOT_TOLERANCE_FACTOR x the tolerances (elements never interact)."""
    depot = system.depot0 > 0
    if not depot.any():
        return particle_kernel.integrate(system, tau_out, rtol, atol).observations
    obs = None
    for idx, factor in ((np.flatnonzero(~depot), 1.0), (np.flatnonzero(depot), DEPOT_TOLERANCE_FACTOR)):
        if idx.size == 0:
            continue
        part = particle_kernel.integrate(system.take(idx), np.ascontiguousarray(tau_out[:, idx]), rtol * factor, atol * factor)
        if obs is None:
            obs = np.full(part.observations.shape[:2] + (system.batch_size,), np.nan)
        obs[:, :, idx] = part.observations
    return obs


def _particle_results(resolved, rtol, atol) -> list[SimulationResult]:
    plans, system, tau_out = _plan(resolved)
    observations = _integrate_particles(system, tau_out, rtol, atol)
    totals, givens = [], []
    for p in plans:
        n_obs = observations.shape[1]
        total = np.zeros((len(p.grid), n_obs))
        for k, (w, off) in enumerate(zip(p.weights, p.offsets)):
            series = observations[: len(p.grid) - off, :, p.first_element + k]
            total[off:] += w * series
        totals.append(total)
        givens.append(p.resolved.doses_given(p.grid))
    lab = whole_body.OBSERVABLES.index("blood_sample")
    halves = metrics.terminal_half_lives([(p.grid, total[:, lab], _terminal_from(p, total[:, lab])) for p, total in zip(plans, totals)])
    return [SimulationResult.build(p.resolved, p.grid, total, given, half, per_dose=_per_dose_blood(p, observations, lab),
                                   depot=_depot_series(p, system))
            for p, total, given, half in zip(plans, totals, givens, halves)]


def _terminal_from(p: _Plan, blood: np.ndarray) -> float:
    """Where the terminal phase is fitted from: the last dose (iv), or for a route whose blood level
    rises first (absorption-limited or from the tumor) the blood's peak after the last dose
    (docs/routes.md: blood_t_half_h is then the apparent terminal half-life)."""
    last = max(p.resolved.dose_times_h)
    if p.resolved.formulation.dose.route == "iv":
        return last
    after = np.flatnonzero(p.grid >= last)
    return float(p.grid[after[np.argmax(blood[after])]]) if after.size else last


def _depot_series(p: _Plan, system: whole_body.ParticleSystem) -> np.ndarray | None:
    """%ID still in the dose's depot on the grid (every route but iv, which has none: None)."""
    if p.resolved.formulation.dose.route == "iv":
        return None
    out = np.zeros(len(p.grid))
    for k, (w, off, td) in enumerate(zip(p.weights, p.offsets, p.t_dose)):
        one = system.take(np.array([p.first_element + k]))
        tau = p.grid[off:] - td
        out[off:] += w * whole_body.depot_amount(one, tau[None, :].T)[:, 0]
    return out


def _per_dose_blood(p: _Plan, observations: np.ndarray, lab: int) -> np.ndarray:
    """(doses, grid) blood sample of each dose alone in % of its own dose (its coating classes
    summed): the curve `per_dose` reports, read directly rather than by subtracting schedules."""
    times = np.asarray(p.resolved.dose_times_h, dtype=float)
    amounts = p.resolved.dose_amounts
    out = np.zeros((times.size, len(p.grid)))
    for k, (w, off, td) in enumerate(zip(p.weights, p.offsets, p.t_dose)):
        d = int(np.argmin(np.abs(times - td)))
        out[d, off:] += (w / amounts[d]) * observations[: len(p.grid) - off, lab, p.first_element + k]
    return out


def simulate(f: Formulation, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> SimulationResult:
    """Simulate one formulation."""
    return _run([f], rtol, atol, describe=True)[0]


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i: i + size]


def _run_chunk(args):
    """Worker: simulate a chunk and return it pickled (the parent unpickles with the cyclic
    collector paused, which makes unpickling ~5x faster)."""
    formulations, rtol, atol = args
    return pickle.dumps(_run(formulations, rtol, atol), protocol=pickle.HIGHEST_PROTOCOL)


def _single_threaded_worker() -> None:
    """Each worker process runs its kernel on one thread: the processes already fill the cores."""
    import numba

    numba.set_num_threads(1)


#: below this many formulations one process (whose kernel is multi-threaded) beats a process pool
PARALLEL_MIN_FORMULATIONS = 1500


def simulate_many(
    formulations: Iterable[Formulation],
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    workers: int | None = 1,
    chunk_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ResultSet:
    """Simulate many formulations together (batched); the compiled kernel uses every core.

    Returns a ResultSet: a list of SimulationResult with `.to_frame()`, `.to_xarray()` and `.plot()`.

    Results equal those of `simulate` one by one (each simulation keeps its own step sizes).
    `workers` > 1 (or None: one per core) also spreads the Python side (parameter resolution,
    metrics) over processes; on 2 cores this measured no faster than 1 (benchmarks/results.md).
    `on_progress(n)` is told how many formulations finished.
    """
    items = list(formulations)
    if not items:
        return ResultSet()
    with _no_cyclic_gc():
        return ResultSet(_simulate_chunks(items, rtol, atol, workers, chunk_size, on_progress))


def simulate_particles(formulations: Iterable[Formulation], rtol: float = DEFAULT_RTOL,
                       atol: float = DEFAULT_ATOL) -> list[SimulationResult]:
    """The particle model alone, batched: no drug payloads and no therapy step (tumor growth,
    heat). For fitting and screening particle metrics: the series and particle metrics equal
    simulate_many's for formulations without lasers or ultrasound (heat can open tumor vessels,
    which only the therapy step applies). Free-drug formulations have no particle: refused."""
    items = list(formulations)
    if any(f.core.is_free_drug for f in items):
        from nanocloak.errors import NanocloakError
        raise NanocloakError("core.material: free drug has no particle model; use simulate_many")
    with _no_cyclic_gc():
        return _particle_results([resolve_formulation(f, describe=False) for f in items], rtol, atol) if items else []


def _simulate_chunks(items, rtol, atol, workers, chunk_size, on_progress):
    cores = os.cpu_count() or 1
    if workers is None:
        workers = cores if len(items) >= PARALLEL_MIN_FORMULATIONS else 1
    n_workers = max(1, workers)
    default_chunk = max(1, CHUNK_ELEMENTS // max(1, _elements_per_formulation(items[0])))
    if chunk_size is None and n_workers > 1:
        default_chunk = min(default_chunk, -(-len(items) // (2 * n_workers)))   # at least 2 chunks per worker
    chunks = list(_chunks(items, chunk_size or default_chunk))
    if n_workers == 1 or len(chunks) == 1:
        out: list[SimulationResult] = []
        for chunk in chunks:
            out.extend(_run(chunk, rtol, atol, on_progress))
        return out
    out = []
    # fork: workers start at once with the compiled kernel in memory (safe with the workqueue
    # threading layer, see particle_kernel); spawn where fork does not exist
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=min(n_workers, len(chunks)), mp_context=context,
                             initializer=_single_threaded_worker) as pool:
        for blob in pool.map(_run_chunk, [(c, rtol, atol) for c in chunks]):
            res = pickle.loads(blob)
            out.extend(res)
            if on_progress is not None:
                on_progress(len(res))
    return out


def _elements_per_formulation(f: Formulation) -> int:
    classes = 2 if f.surface.kind == "membrane" else 1
    return 2 * classes * len(f.dose.times_h)        # each class with its opsonised share
