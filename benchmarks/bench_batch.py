"""Simulations per second for the 168 h mouse model with a tumor, three ways, in one run:

1. nanocloak.simulate_many (batched Rodas4 with the structured solve; `--workers` processes);
2. scipy solve_ivp (Radau, analytic dense Jacobian) one formulation at a time;
3. libRoadRunner on the exported SBML: one model loaded once, parameters set and reset per design.

All use the same tolerances and the same output grid; each method's outputs are compared with a
tight-tolerance reference (Radau, rtol 1e-10) on a sample of designs (max error relative to
rtol 1e-4 / atol 1e-6 %ID: <= 1 means within). Usage:

    python benchmarks/bench_batch.py [--n 4000] [--baseline-n 100] [--workers 2] [--out benchmarks/results.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

import nanocloak
from nanocloak import whole_body as wb
from nanocloak.formulation import from_dict
from nanocloak.parameters import particle_systems, resolve
from nanocloak.simulation import DEFAULT_ATOL, DEFAULT_RTOL, output_grid

ACC_RTOL, ACC_ATOL = 1e-4, 1e-6
KEYS = ("blood_sample", "liver", "spleen", "tumor", "blood")


def designs(n: int, seed: int = 0) -> list:
    """Membrane-coated designs of one structure (two coating classes, one dose) on a 4T1 mouse."""
    rng = np.random.default_rng(seed)
    cells = ["rbc", "platelet", "macrophage", "mesenchymal_stem", "neutrophil", "nk_cell"]
    methods = ["coextrusion", "sonication", "microfluidic_electroporation"]
    materials = ["plga", "liposome", "gold_nanoshell", "msn", "iron_oxide", "cus"]
    out = []
    for i in range(n):
        out.append(from_dict({
            "nanocloak": 1, "name": f"design-{i}",
            "core": {"material": str(rng.choice(materials)), "diameter_nm": float(rng.uniform(40, 250)),
                     "zeta_mV": float(rng.uniform(-40, 10))},
            "surface": {"kind": "membrane", "membrane": {"sources": [{"cell": str(rng.choice(cells))}],
                                                         "method": str(rng.choice(methods))}},
            "dose": {"mg_per_kg": float(rng.uniform(1, 20))},
            "subject": {"species": "mouse", "body_weight_g": float(rng.uniform(18, 25)),
                        "tumor": {"line": "4T1", "volume_mm3": float(rng.uniform(50, 400))}},
            "simulate": {"end_h": 168}}))
    return out


def _observed(system, weights, x_by_time, grid):
    obs = np.stack([wb.observe(system, x) for x in x_by_time])  # (time, obs, element)
    total = (obs * weights[None, None, :]).sum(axis=2)
    return {k: total[:, wb.OBSERVABLES.index(k)] for k in KEYS}


def scipy_one(f, rtol, atol, method="Radau"):
    r = resolve(f)
    system, weights, _ = particle_systems(r)
    grid = output_grid(f)
    t_eval = grid[grid > 0]
    xs = []
    for e in range(system.batch_size):
        one = system.take(np.array([e]))
        sol = solve_ivp(lambda t, y: wb.rhs(one, np.array([t]), y[:, None])[:, 0], (0.0, grid[-1]), wb.initial_state(one)[:, 0],
                        method=method, t_eval=t_eval, rtol=rtol, atol=atol,
                        jac=lambda t, y: wb.system_matrix(one, t))
        xs.append(sol.y)
    x = np.stack(xs, axis=2)  # (state, time, element)
    return _observed(system, weights, [x[:, k, :] for k in range(t_eval.size)], t_eval), t_eval


def nanocloak_series(res):
    keep = res.t_h > 0
    return {k: res.series[k][keep] for k in KEYS}


class RoadRunnerBench:
    def __init__(self, template, rtol, atol):
        import roadrunner

        from nanocloak.sbml import to_sbml

        self.rr = roadrunner.RoadRunner(to_sbml(template))
        self.rr.integrator.relative_tolerance = rtol
        self.rr.integrator.absolute_tolerance = atol
        self.rr.integrator.setValue("maximum_num_steps", 100000)
        self.selections = ["time"] + list(KEYS)

    def run(self, f):
        from nanocloak.sbml import model_values

        params, init = model_values(f)
        rr = self.rr
        rr.reset()                     # time and species back to the start, then this design's values
        for k, v in params.items():
            rr[k] = v
        for k, v in init.items():
            rr[k] = v                  # initial amounts set directly (changing init() would recompile)
        grid = output_grid(f)
        out = rr.simulate(times=list(grid), selections=self.selections)
        return {k: np.asarray(out[k])[1:] for k in KEYS}


def worst_error(got: dict, ref: dict) -> float:
    return max(float(np.max(np.abs(got[k] - ref[k]) / (ACC_ATOL + ACC_RTOL * np.abs(ref[k])))) for k in KEYS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--baseline-n", type=int, default=100)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rtol", type=float, default=DEFAULT_RTOL)
    ap.add_argument("--atol", type=float, default=DEFAULT_ATOL)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    forms = designs(a.n)
    sample = forms[: min(20, a.n)]

    nanocloak.simulate_many(forms[:50], rtol=a.rtol, atol=a.atol)  # warm-up (imports, caches)
    t0 = time.perf_counter()
    batch = nanocloak.simulate_many(forms, rtol=a.rtol, atol=a.atol, workers=a.workers)
    t_batch = time.perf_counter() - t0

    t0 = time.perf_counter()
    for f in forms[: a.baseline_n]:
        scipy_one(f, a.rtol, a.atol)
    t_scipy = (time.perf_counter() - t0) / a.baseline_n

    from nanocloak import particle_kernel
    from nanocloak.simulation import _plan

    _, system, tau_out = _plan([resolve(f, describe=False) for f in forms])
    t0 = time.perf_counter()
    particle_kernel.integrate(system, tau_out, a.rtol, a.atol)
    t_kernel = time.perf_counter() - t0
    threads = f"{a.workers} process(es), compiled kernel on {os.cpu_count()} threads"
    rows = [("nanocloak simulate_many", f"{threads}; formulations in, results with metrics out", a.n / t_batch, t_batch / a.n * 1e3),
            ("nanocloak kernel only", "same batch, parameters resolved beforehand", a.n / t_kernel, t_kernel / a.n * 1e3)]
    rrb = None
    try:
        rrb = RoadRunnerBench(forms[0], a.rtol, a.atol)
        rrb.run(forms[0])
        t0 = time.perf_counter()
        for f in forms[: a.baseline_n]:
            rrb.run(f)
        t_rr = (time.perf_counter() - t0) / a.baseline_n
        rows.append(("libRoadRunner (SBML export)", "1 process, loaded once, reset per design", 1 / t_rr, t_rr * 1e3))
    except ImportError:
        rows.append(("libRoadRunner", "not installed", float("nan"), float("nan")))
    rows.append(("scipy solve_ivp (Radau, analytic Jacobian)", "1 process", 1 / t_scipy, t_scipy * 1e3))

    errors = {"nanocloak simulate_many": 0.0, "nanocloak kernel only": None, "libRoadRunner (SBML export)": 0.0, "scipy solve_ivp (Radau, analytic Jacobian)": 0.0}
    for i, f in enumerate(sample):
        ref, _ = scipy_one(f, 1e-10, 1e-12)
        errors["nanocloak simulate_many"] = max(errors["nanocloak simulate_many"], worst_error(nanocloak_series(batch[i]), ref))
        errors["scipy solve_ivp (Radau, analytic Jacobian)"] = max(errors["scipy solve_ivp (Radau, analytic Jacobian)"],
                                                                   worst_error(scipy_one(f, a.rtol, a.atol)[0], ref))
        if rrb is not None:
            errors["libRoadRunner (SBML export)"] = max(errors["libRoadRunner (SBML export)"], worst_error(rrb.run(f), ref))

    lines = [f"# Batch benchmark ({time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores)",
             "", f"168 h mouse model with a 4T1 tumor, membrane-coated designs (2 coating classes each), rtol {a.rtol:g}, atol {a.atol:g} %ID,",
             f"default output grid (~{len(output_grid(forms[0]))} times). nanocloak: {a.n} designs; baselines: {a.baseline_n} designs.",
             "Accuracy: worst error over 20 designs vs Radau at rtol 1e-10, in units of (1e-6 + 1e-4 |ref|) %ID (<= 1 passes).", "",
             "| method | setting | simulations/s | ms/simulation | accuracy (worst, <= 1 ok) |", "|---|---|---|---|---|"]
    for name, setting, rate, ms in rows:
        err = errors.get(name, float("nan"))
        lines.append(f"| {name} | {setting} | {rate:,.0f} | {ms:.3f} | {'as above' if err is None else f'{err:.3g}'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
