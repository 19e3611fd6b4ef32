"""Particle-only designs (issue 15's first bar): the compiled engine alone, simulate_many end to end,
libRoadRunner on the exported SBML and scipy solve_ivp, in one process run, CPU and wall per design;
accuracy of every spec metric (and of the series) against the numpy Rodas4 reference at rtol 1e-9.

Run by `python benchmarks/run_all.py`; alone: `python benchmarks/bench_particles.py [--n 2000]`.
"""

from __future__ import annotations

import argparse
import numbers

import numpy as np
from bench_batch import KEYS, RoadRunnerBench, designs, nanocloak_series, scipy_one
from bench_tools import Timing, best_of, timed

import nanocloak
from nanocloak.simulation import core
from nanocloak.simulation.core import DEFAULT_ATOL, DEFAULT_RTOL, output_grid

REF_RTOL, REF_ATOL = 1e-9, 1e-11
#: series values below this (%ID) are compared absolutely: a relative error of a value at the level of
#: round-off in a 100 %ID balance says nothing
SERIES_FLOOR = 1e-6
#: metrics left out of the relative comparison: the mass-balance residual is round-off (~1e-12 %ID)
ABSOLUTE_METRICS = ("mass_balance_error",)


def flat_metrics(d: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_metrics(v, f"{prefix}{k}."))
        elif isinstance(v, numbers.Real) and not isinstance(v, bool) and v is not None:
            out[prefix + k] = float(v)
    return out


def metric_errors(results, references) -> dict[str, float]:
    """Worst relative error of each metric over designs (absolute where the reference is 0)."""
    worst: dict[str, float] = {}
    for got, ref in zip(results, references):
        g, r = flat_metrics(got.metrics), flat_metrics(ref.metrics)
        for k, rv in r.items():
            if k.split(".")[-1] in ABSOLUTE_METRICS or k not in g:
                continue
            if not (np.isfinite(rv) and np.isfinite(g[k])):
                err = 0.0 if (np.isnan(rv) and np.isnan(g[k])) else float("inf")
            else:
                err = abs(g[k] - rv) / abs(rv) if abs(rv) > 1e-12 else abs(g[k] - rv)
            worst[k] = max(worst.get(k, 0.0), err)
    return worst


def series_error(got: dict, ref: dict) -> float:
    return max(float(np.max(np.abs(got[k] - ref[k]) / np.maximum(np.abs(ref[k]), SERIES_FLOOR))) for k in KEYS)


def numpy_reference(forms):
    """simulate_many with the particle integration done by the numpy Rodas4 engine (solvers/rodas4.py,
    the readable reference) at REF_RTOL: the same resolution, grid, metrics and therapy step."""
    from nanocloak.model import particle as wb
    from nanocloak.solvers import rodas4

    def integrate(system, tau_out, rtol, atol):
        return rodas4.integrate(wb.ParticleModel, system, wb.initial_state(system), tau_out, REF_RTOL, REF_ATOL,
                                max_steps=500_000).observations

    saved = core._integrate_particles
    core._integrate_particles = integrate
    try:
        return nanocloak.simulate_many(forms)
    finally:
        core._integrate_particles = saved


def _engine_alone(forms, rtol, atol):
    from nanocloak.model import particle_kernel

    _, system, tau_out = core._plan([core.resolve_formulation(f, describe=False) for f in forms])
    particle_kernel.integrate(system, tau_out, rtol, atol)      # compiled already; warms caches
    sol = []
    t = best_of(lambda: sol.append(particle_kernel.integrate(system, tau_out, rtol, atol)), 3)
    return t.per(len(forms)), float(sol[-1].steps.mean()), system.batch_size / len(forms)


def run(n: int = 2000, rr_n: int = 200, scipy_n: int = 4, ref_n: int = 40, rtol: float = DEFAULT_RTOL,
        atol: float = DEFAULT_ATOL) -> dict:
    forms = designs(n)
    nanocloak.simulate_many(forms[:50], rtol=rtol, atol=atol)       # warm-up: imports, compiled kernels
    out: dict = {"n": n, "rr_n": rr_n, "scipy_n": scipy_n, "ref_n": ref_n, "rtol": rtol, "atol": atol}
    out["engine"], out["steps"], out["elements"] = _engine_alone(forms, rtol, atol)
    batch = []
    out["e2e"] = best_of(lambda: batch.append(nanocloak.simulate_many(forms, rtol=rtol, atol=atol)), 2).per(n)
    results = batch[-1]

    with timed() as t_ref:
        refs = numpy_reference(forms[:ref_n])
    out["ref_time"] = t_ref.per(ref_n)
    worst = metric_errors(results[:ref_n], refs)
    out["metric_worst"] = sorted(worst.items(), key=lambda kv: -kv[1])
    out["n_metrics"] = len(worst)
    out["mass_balance"] = max(abs(r.metrics["mass_balance_error"]) for r in results)
    ref_series = [nanocloak_series(r) for r in refs]
    out["engine_series_err"] = max(series_error(nanocloak_series(r), s) for r, s in zip(results, ref_series))

    from nanocloak.io.sbml import model_values

    with timed() as t_vals:
        values = [model_values(f) for f in forms[:rr_n]]
    grids = [output_grid(f) for f in forms[:rr_n]]
    out["rr_values"] = t_vals.per(rr_n)
    try:
        rr = RoadRunnerBench(forms[0], rtol, atol)   # SBML loaded once; reset + values per design
        rr.run_values(values[0], grids[0])
        rr_out = []
        out["rr"] = best_of(lambda: rr_out.append([rr.run_values(v, g) for v, g in zip(values, grids)]), 2).per(rr_n)
        out["rr_series_err"] = max(series_error(a, s) for a, s in zip(rr_out[-1][:ref_n], ref_series))
    except ImportError:
        out["rr"] = None
    sc = []
    with timed() as t_sc:
        sc = [scipy_one(f, rtol, atol)[0] for f in forms[:scipy_n]]
    out["scipy"] = t_sc.per(scipy_n)
    out["scipy_series_err"] = max(series_error(a, s) for a, s in zip(sc, ref_series))
    return out


def markdown(r: dict) -> list[str]:
    from bench_tools import bar

    ms = lambda t: f"{t.cpu_s * 1e3:.3f}"          # noqa: E731
    wall = lambda t: f"{t.wall_s * 1e3:.3f}"       # noqa: E731
    rr: Timing | None = r["rr"]
    lines = [f"## Particle-only designs: {r['n']:,} varied membrane-coated designs, 168 h, 4T1 mouse, rtol {r['rtol']:g}, "
             f"atol {r['atol']:g} %ID", "",
             "Designs of `bench_batch.designs` (6 core materials, 5 membrane sources (not NK-cell, whose coat acts on the "
             "immune arm), 3 coating methods, size, zeta, dose, body weight, tumor volume varied): "
             f"{r['elements']:.0f} simulated elements per design (coating classes x "
             f"opsonised share). libRoadRunner: {r['rr_n']} designs, scipy: {r['scipy_n']}. Accuracy against the numpy "
             f"Rodas4 engine (solvers/rodas4.py) at rtol {REF_RTOL:g}, atol {REF_ATOL:g}, over the first {r['ref_n']} designs: "
             "metrics as relative errors; series (blood sample, liver, spleen, tumor, blood; %ID on the output grid) as "
             f"|error| / max(|reference|, {SERIES_FLOOR:g} %ID).", "",
             "| method | setting | CPU ms/design | wall ms/design | accuracy (worst) |", "|---|---|---|---|---|",
             f"| nanocloak compiled engine alone | numba threads over the batch; parameters packed beforehand; "
             f"{r['steps']:.0f} steps/simulation | {ms(r['engine'])} | {wall(r['engine'])} | series {r['engine_series_err']:.2g} |",
             f"| nanocloak `simulate_many` end to end | 1 process; formulations in, results with every metric out | "
             f"{ms(r['e2e'])} | {wall(r['e2e'])} | metrics {r['metric_worst'][0][1]:.2g} ({r['metric_worst'][0][0]}) |"]
    if rr is not None:
        lines.append(f"| libRoadRunner {__import__('roadrunner').__version__} (exported SBML) | loaded once; reset, parameters "
                     f"and initial amounts set per design (values from `io.sbml.model_values` prepared beforehand: "
                     f"{ms(r['rr_values'])} ms CPU/design, not counted) | {ms(rr)} | {wall(rr)} | series {r['rr_series_err']:.2g} |")
    lines += [f"| scipy `solve_ivp` | Radau, analytic Jacobian, one element at a time | {ms(r['scipy'])} | {wall(r['scipy'])} | "
              f"series {r['scipy_series_err']:.2g} |",
              f"| numpy Rodas4 reference | rtol {REF_RTOL:g}, batched numpy | {ms(r['ref_time'])} | {wall(r['ref_time'])} | reference |",
              ""]
    e2e = r["e2e"].cpu_s * 1e3
    ratio = rr.cpu_s / r["e2e"].cpu_s if rr is not None else float("nan")
    worst = r["metric_worst"][0][1]
    lines += ["| bar (issue 15) | figure | |", "|---|---|---|",
              f"| end to end <= 0.4 ms CPU per design | {e2e:.3f} ms | {bar(e2e, 0.4)} |",
              f"| >= 25x less CPU than libRoadRunner per simulation | {ratio:.1f}x (engine alone "
              f"{rr.cpu_s / r['engine'].cpu_s if rr is not None else float('nan'):.0f}x) | {bar(ratio, 25, False)} |",
              f"| worst metric error <= 1e-3 relative | {worst:.2g} | {bar(worst, 1e-3)} |", "",
              f"Worst metrics ({r['n_metrics']} compared; mass balance residual apart: worst |error| "
              f"{r['mass_balance']:.1g} %ID over all {r['n']:,} designs): "
              + ", ".join(f"{k} {v:.2g}" for k, v in r["metric_worst"][:5]) + ".", ""]
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rr-n", type=int, default=200)
    ap.add_argument("--ref-n", type=int, default=40)
    a = ap.parse_args()
    print("\n".join(markdown(run(a.n, rr_n=a.rr_n, ref_n=a.ref_n))))
