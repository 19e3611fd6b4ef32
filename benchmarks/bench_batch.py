"""Simulations per second for the 168 h mouse model with a tumor, side by side in one run, at each
tolerance given (`--tolerances`, default rtol 1e-5 and 5e-5):

1. the batched particle engine alone (compiled Rodas4, parameters packed beforehand), with its
   memory per simulation;
2. nanocloak.simulate_many end to end (formulations in, results with metrics out; `--workers`);
3. libRoadRunner on the exported SBML: one model loaded once, parameters set and reset per design;
4. scipy solve_ivp (Radau, analytic dense Jacobian) one formulation at a time;

then the payload model: the compiled payload engine against the scipy BDF reference.

All use the same tolerances and the same output grid; each method's outputs are compared with a
tight-tolerance reference (Radau, rtol 1e-10) on a sample of designs (max error relative to
rtol 1e-4 / atol 1e-6 %ID: <= 1 means within). Usage:

    python benchmarks/bench_batch.py [--n 8000] [--baseline-n 60] [--workers 1] [--tolerances 1e-5:1e-7,5e-5:5e-7]
                                     [--payload-n 200] [--out benchmarks/results.md]
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
from nanocloak.model import particle as wb
from nanocloak.model.parameters import particle_systems, resolve
from nanocloak.simulation.core import DEFAULT_ATOL, DEFAULT_RTOL, output_grid
from nanocloak.spec.formulation import from_dict

ACC_RTOL, ACC_ATOL = 1e-4, 1e-6
KEYS = ("blood_sample", "liver", "spleen", "tumor", "blood")


#: membrane sources of the particle-only designs: NK-cell coats act on the immune arm of therapy
#: (data/immune.yaml), which is not particle-only and has no SBML form for libRoadRunner
PARTICLE_ONLY_CELLS = ("rbc", "platelet", "macrophage", "mesenchymal_stem", "neutrophil")


def designs(n: int, seed: int = 0, cells: tuple[str, ...] = PARTICLE_ONLY_CELLS) -> list:
    """Membrane-coated designs of one structure (two coating classes, one dose) on a 4T1 mouse."""
    rng = np.random.default_rng(seed)
    cells = list(cells)
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
        sol = solve_ivp(lambda t, y, one=one: wb.rhs(one, np.array([t]), y[:, None])[:, 0], (0.0, grid[-1]), wb.initial_state(one)[:, 0],
                        method=method, t_eval=t_eval, rtol=rtol, atol=atol,
                        jac=lambda t, y, one=one: wb.system_matrix(one, t))
        xs.append(sol.y)
    x = np.stack(xs, axis=2)  # (state, time, element)
    return _observed(system, weights, [x[:, k, :] for k in range(t_eval.size)], t_eval), t_eval


def nanocloak_series(res):
    keep = res.t_h > 0
    return {k: res.series[k][keep] for k in KEYS}


class RoadRunnerBench:
    def __init__(self, template, rtol, atol):
        import roadrunner

        from nanocloak.io.sbml import to_sbml

        self.rr = roadrunner.RoadRunner(to_sbml(template))
        self.rr.integrator.relative_tolerance = rtol
        self.rr.integrator.absolute_tolerance = atol
        self.rr.integrator.setValue("maximum_num_steps", 100000)
        self.selections = ["time"] + list(KEYS)

    def run(self, f):
        from nanocloak.io.sbml import model_values

        return self.run_values(model_values(f), output_grid(f))

    def run_values(self, values, grid):
        """One design from its SBML values (io.sbml.model_values) on its output grid."""
        params, init = values
        rr = self.rr
        rr.reset()                     # time and species back to the start, then this design's values
        for k, v in params.items():
            rr[k] = v
        for k, v in init.items():
            rr[k] = v                  # initial amounts set directly (changing init() would recompile)
        out = rr.simulate(times=list(grid), selections=self.selections)
        return {k: np.asarray(out[k])[1:] for k in KEYS}


def worst_error(got: dict, ref: dict) -> float:
    return max(float(np.max(np.abs(got[k] - ref[k]) / (ACC_ATOL + ACC_RTOL * np.abs(ref[k])))) for k in KEYS)


def _kernel_rate(forms, rtol, atol, repeats=3):
    """Designs per second of the batched engine alone (parameters packed beforehand), best of repeats."""
    from nanocloak.model import particle_kernel
    from nanocloak.simulation.core import _plan

    _, system, tau_out = _plan([resolve(f, describe=False) for f in forms])
    particle_kernel.integrate(system, tau_out, rtol, atol)  # compile / warm caches
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        sol = particle_kernel.integrate(system, tau_out, rtol, atol)
        best = min(best, time.perf_counter() - t0)
    per_design = (system.batch_size / len(forms)) * (8 * (particle_kernel.N_PARAMS + tau_out.shape[0] * (1 + particle_kernel.NOBS)))
    return len(forms) / best, per_design, float(sol.steps.mean())


def _memory_per_design(forms, rtol, atol) -> float:
    """Peak Python-heap bytes per design of simulate_many (tracemalloc; numba scratch excluded)."""
    import tracemalloc

    tracemalloc.start()
    nanocloak.simulate_many(forms, rtol=rtol, atol=atol)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / len(forms)


def _payload_rates(n: int, baseline_n: int):
    """The payload model (RBC-PLGA carrying doxorubicin, pH-triggered first-order release):
    compiled engine vs the scipy BDF reference, per formulation, drug states only."""
    from nanocloak.model import payload

    base = nanocloak.load(Path(__file__).resolve().parents[1] / "examples" / "rbc_plga.yaml")
    rng = np.random.default_rng(3)
    forms = []
    for _ in range(n):
        d = base.model_dump(mode="python")
        d["core"]["diameter_nm"] = float(rng.uniform(50, 200))
        d["payloads"][0]["release"]["params"]["k_per_h"] = float(10 ** rng.uniform(-3, -0.5))
        forms.append(from_dict(d))
    resolved = [resolve(f, describe=False) for f in forms]
    grids = [output_grid(f) for f in forms]
    payload.simulate_payloads(resolved[0], grids[0])
    t0 = time.perf_counter()
    compiled = [payload.simulate_payloads(r, g) for r, g in zip(resolved, grids)]
    t_c = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    ref = [payload.simulate_payloads(r, g, engine="scipy") for r, g in zip(resolved[:baseline_n], grids[:baseline_n])]
    t_s = (time.perf_counter() - t0) / baseline_n
    worst = 0.0
    for a, b in zip(ref, compiled):
        for drug in a:
            for name in a[drug].free_ug:
                x, y = a[drug].free_ug[name], b[drug].free_ug[name]
                worst = max(worst, float(np.max(np.abs(x - y) / (1e-6 * a[drug].dose_ug + 1e-4 * np.abs(x)))))
    return t_c, t_s, worst


def run(a) -> list[str]:
    forms = designs(a.n)
    sample = forms[: min(20, a.n)]
    refs = [scipy_one(f, 1e-10, 1e-12)[0] for f in sample]

    kernel_rate, kernel_bytes, steps = _kernel_rate(forms, a.rtol, a.atol)
    nanocloak.simulate_many(forms[:50], rtol=a.rtol, atol=a.atol)  # warm-up (imports, caches)
    t0 = time.perf_counter()
    batch = nanocloak.simulate_many(forms, rtol=a.rtol, atol=a.atol, workers=a.workers)
    t_batch = time.perf_counter() - t0
    memory = _memory_per_design(forms[:2000], a.rtol, a.atol)

    t0 = time.perf_counter()
    for f in forms[: a.baseline_n]:
        scipy_one(f, a.rtol, a.atol)
    t_scipy = (time.perf_counter() - t0) / a.baseline_n

    rows = [("nanocloak batched engine (compiled Rodas4, structured solve)",
             f"{os.cpu_count()} threads; parameters packed beforehand; {steps:.0f} steps/simulation; "
             f"{kernel_bytes / 1024:.1f} KiB arrays/design", kernel_rate, 1e3 / kernel_rate),
            ("nanocloak simulate_many (end to end)", f"{a.workers} process(es); formulations in, results with metrics out; "
             f"peak heap {memory / 1024:.1f} KiB/design", a.n / t_batch, t_batch / a.n * 1e3)]
    errors = {rows[0][0]: 0.0, rows[1][0]: None}
    for i, ref in enumerate(refs):
        errors[rows[0][0]] = max(errors[rows[0][0]], worst_error(nanocloak_series(batch[i]), ref))
    rr_name = "libRoadRunner (exported SBML)"
    try:
        rrb = RoadRunnerBench(forms[0], a.rtol, a.atol)
        rrb.run(forms[0])
        t0 = time.perf_counter()
        for f in forms[: a.baseline_n]:
            rrb.run(f)
        t_rr = (time.perf_counter() - t0) / a.baseline_n
        rows.append((rr_name, "1 process, loaded once, reset + parameters set per design", 1 / t_rr, t_rr * 1e3))
        errors[rr_name] = max(worst_error(rrb.run(f), ref) for f, ref in zip(sample, refs))
    except ImportError:
        rows.append((rr_name, "not installed", float("nan"), float("nan")))
    scipy_name = "scipy solve_ivp (Radau, analytic Jacobian)"
    rows.append((scipy_name, "1 process, one formulation at a time", 1 / t_scipy, t_scipy * 1e3))
    errors[scipy_name] = max(worst_error(scipy_one(f, a.rtol, a.atol)[0], ref) for f, ref in zip(sample, refs))

    lines = [f"## rtol {a.rtol:g}, atol {a.atol:g} %ID", "",
             f"nanocloak: {a.n} designs; baselines: {a.baseline_n} designs. Accuracy: worst error over {len(sample)} designs "
             "vs Radau at rtol 1e-10, in units of (1e-6 + 1e-4 |ref|) %ID (<= 1 passes).", "",
             "| method | setting | simulations/s | ms/simulation | accuracy (worst, <= 1 ok) |", "|---|---|---|---|---|"]
    for name, setting, rate, ms in rows:
        err = errors.get(name, float("nan"))
        lines.append(f"| {name} | {setting} | {rate:,.0f} | {ms:.3f} | {'same outputs as above' if err is None else f'{err:.3g}'} |")
    rr_rate = next((r[2] for r in rows if r[0] == rr_name), float("nan"))
    lines += ["", f"Engine vs libRoadRunner: {kernel_rate / rr_rate:.0f}x; end to end vs libRoadRunner: "
              f"{(a.n / t_batch) / rr_rate:.0f}x.", ""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--baseline-n", type=int, default=60)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--tolerances", default=f"{DEFAULT_RTOL}:{DEFAULT_ATOL},5e-5:5e-7",
                    help="comma-separated rtol:atol pairs, each run side by side for every method")
    ap.add_argument("--payload-n", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    lines = [f"# Batch benchmark ({time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores)", "",
             "168 h mouse model with a 4T1 tumor, membrane-coated designs (2 coating classes each), default output grid "
             f"(~{len(output_grid(designs(1)[0]))} times). Produced by `python benchmarks/bench_batch.py --out benchmarks/results.md`.", ""]
    for pair in a.tolerances.split(","):
        rtol, atol = (float(x) for x in pair.split(":"))
        a.rtol, a.atol = rtol, atol
        lines += run(a)
    t_c, t_s, worst = _payload_rates(a.payload_n, max(5, a.payload_n // 20))
    lines += ["## Payload model (particles + drug held + free drug + AUCs, 80 states per element)", "",
              "| method | ms/formulation | formulations/s | agreement (worst, units of 1e-6 dose + 1e-4 rel) |", "|---|---|---|---|",
              f"| compiled engine (payload_kernel) | {t_c * 1e3:.2f} | {1 / t_c:,.0f} | {worst:.3g} |",
              f"| scipy BDF reference | {t_s * 1e3:.1f} | {1 / t_s:,.1f} | reference |", "",
              f"Speed-up {t_s / t_c:.0f}x.", ""]
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
