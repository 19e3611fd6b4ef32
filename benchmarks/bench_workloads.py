"""The other workloads of issue 15, CPU and wall per design or per command: designs with a drug, a
laser, and drug + NIR-triggered release + laser (all with tumor growth: every design with a tumor runs
the untreated and treated arms); the fit of the example lab data (lsq + MCMC), `learn cv`,
`learn predict`; a particle screen on the 2-worker LocalCluster. Run by `python benchmarks/run_all.py`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from bench_tools import ROOT, best_of, read_json, run_child

import nanocloak
from nanocloak.spec.formulation import from_dict

#: the examples each therapy workload varies (core size and dose), with what they contain
THERAPY = {
    "drug": ("rbc_plga.yaml", "RBC-PLGA carrying doxorubicin, pH-triggered first-order release"),
    "laser": ("macrophage_gold_nanoshell.yaml", "macrophage-membrane gold nanoshells, 808 nm laser 1 W/cm2 5 min at 24 h"),
    "drug + NIR release + laser": ("gold_nanocage_4t1_nir.yaml",
                                   "4T1-membrane gold nanocages carrying doxorubicin, NIR-triggered release, the laser above"),
}


def therapy_designs(example: str, n: int, seed: int = 5) -> list:
    base = yaml.safe_load((ROOT / "examples" / example).read_text(encoding="utf-8"))
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        d = yaml.safe_load(yaml.safe_dump(base))
        d["name"] = f"{d['name']}-{i}"
        d["core"]["diameter_nm"] = float(d["core"]["diameter_nm"] * rng.uniform(0.7, 1.4))
        d["dose"]["mg_per_kg"] = float(d["dose"]["mg_per_kg"] * rng.uniform(0.5, 2.0))
        out.append(from_dict(d))
    return out


def therapy(n: int) -> dict:
    out = {}
    for name, (example, _) in THERAPY.items():
        forms = therapy_designs(example, n)
        nanocloak.simulate_many(forms[:2])                       # warm-up (compiled payload/heat models)
        out[name] = best_of(lambda forms=forms: nanocloak.simulate_many(forms), 2).per(n)
    return out


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("nanocloak")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from nanocloak.cli import main; main()"]


def fit(data: str = "rbc_plga_serial.csv") -> dict:
    out_dir = Path(tempfile.mkdtemp(prefix="bench_fit_"))
    try:
        run = run_child(_cli() + ["fit", "examples/rbc_plga.yaml", f"examples/lab_data/{data}", "--out", str(out_dir / "fit")])
        if run.returncode:
            return {"error": run.stderr[-2000:]}
        s = read_json(out_dir / "fit" / "summary.json")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    conv = s["mcmc"]["convergence"]
    return {"run": run, "data": data, "evaluations": s.get("model_evaluations"), "walkers": s["mcmc"]["walkers"],
            "steps": s["mcmc"]["steps"], "r_hat": max(v["r_hat"] for v in conv.values()),
            "ess": min(v["ess_bulk"] for v in conv.values()), "params": list(conv)}


def learn() -> dict:
    cv = run_child(_cli() + ["learn", "cv", "--folds", "5", "--json"])
    first = run_child(_cli() + ["learn", "predict", "examples/rbc_plga.yaml", "--json"])
    later = run_child(_cli() + ["learn", "predict", "examples/rbc_plga.yaml", "--json"])
    return {"cv": cv, "predict_first": first, "predict_later": later}


def screen(n: int, workers: int = 2) -> dict:
    env = dict(os.environ)
    run = run_child([sys.executable, "benchmarks/bench_screen.py", "--n", str(n), "--workers", str(workers)], env=env)
    sim = re.search(r"simulation phase[^:]*: ([\d.]+) s", run.stdout)
    chunks = re.search(r"in (\d+) chunks of (\d+)", run.stdout)
    failed = re.search(r"failed: (\d+)", run.stdout)
    return {"run": run, "n": n, "workers": workers, "sim_wall_s": float(sim.group(1)) if sim else float("nan"),
            "chunks": chunks.groups() if chunks else ("?", "?"), "failed": failed.group(1) if failed else "?",
            "error": run.stderr[-2000:] if run.returncode else None}


def _proc(run) -> str:
    return f"{run.cpu_s:.2f} | {run.wall_s:.2f}"


def markdown(th: dict | None, ft: dict | None, ln: dict | None, sc: dict | None, n_therapy: int) -> list[str]:
    from bench_tools import bar

    lines: list[str] = []
    if th:
        lines += [f"## Designs with a drug, a laser, or both ({n_therapy} designs each, `simulate_many` end to end)", "",
                  "Each example varied in core diameter (x0.7-1.4) and dose (x0.5-2); every design has a 4T1 tumor, so each "
                  "also runs tumor growth (untreated and treated arms) and the imaging metrics.", "",
                  "| workload | designs | CPU ms/design | wall ms/design |", "|---|---|---|---|"]
        for name, t in th.items():
            lines.append(f"| {name} | {THERAPY[name][1]} (`examples/{THERAPY[name][0]}`) | {t.cpu_s * 1e3:.1f} | {t.wall_s * 1e3:.1f} |")
        combo = th["drug + NIR release + laser"].cpu_s * 1e3
        lines += ["", f"Bar: drug + NIR release + laser <= 2 ms CPU per design: {combo:.1f} ms, {bar(combo, 2)}.", ""]
    if ft or ln:
        lines += ["## Fit and learning (each a fresh `nanocloak` process; CPU = its rusage, start-up and import included)", "",
                  "| command | CPU s | wall s | figures | bar | |", "|---|---|---|---|---|---|"]
    if ft and "error" not in ft:
        r = ft["run"]
        lines.append(f"| `nanocloak fit examples/rbc_plga.yaml examples/lab_data/{ft['data']}` (lsq then MCMC, defaults: "
                     f"{ft['walkers']} walkers x {ft['steps']} steps) | {_proc(r)} | {ft['evaluations']:,} model evaluations "
                     f"({r.cpu_s / ft['evaluations'] * 1e3:.2f} ms CPU each); worst R-hat {ft['r_hat']:.3f}; fewest bulk ESS "
                     f"{ft['ess']:.0f} ({', '.join(ft['params'])}) | <= 10 s CPU; R-hat <= 1.01; ESS >= 400 | "
                     f"{bar(r.cpu_s, 10)}; R-hat {bar(ft['r_hat'], 1.01)}; ESS {bar(ft['ess'], 400, False)} |")
    elif ft:
        lines.append(f"| `nanocloak fit` | failed | | {ft['error'][-300:]!r} | | |")
    if ln:
        cv, first, later = ln["cv"], ln["predict_first"], ln["predict_later"]
        lines += [f"| `nanocloak learn cv --folds 5` | {_proc(cv)} | exit {cv.returncode} | <= 15 s CPU | {bar(cv.cpu_s, 15)} |",
                  f"| `nanocloak learn predict examples/rbc_plga.yaml` (first use) | {_proc(first)} | exit {first.returncode} | | |",
                  f"| `nanocloak learn predict examples/rbc_plga.yaml` (after first use) | {_proc(later)} | exit {later.returncode} "
                  f"| <= 2 s CPU | {bar(later.cpu_s, 2)} |"]
    if ft or ln:
        lines.append("")
    if sc:
        r = sc["run"]
        per = r.cpu_s / sc["n"] * 1e3
        mem = r.peak_pss_sum / 1e9
        lines += [f"## Particle screen: {sc['n']:,} designs on a {sc['workers']}-worker Dask LocalCluster", "",
                  "`python benchmarks/bench_screen.py --n N --workers 2` (RBC/platelet-hybrid PLGA on a 4T1 mouse, 5 fields "
                  "varied by Latin hypercube, results streamed to Parquet, then ranked) run as a child process: CPU is the "
                  "rusage of it and every process it started (client, scheduler, nannies, workers); memory is the process "
                  "tree sampled every 0.25 s, PSS summed (pages that forked processes share counted once) and RSS summed.", "",
                  "| designs | chunks | CPU ms/design (all in) | wall s (all in) | simulation phase wall s | peak PSS summed | "
                  "peak RSS summed |", "|---|---|---|---|---|---|---|",
                  f"| {sc['n']:,} ({sc['failed']} failed) | {sc['chunks'][0]} x {sc['chunks'][1]} | {per:.3f} | {r.wall_s:.1f} | "
                  f"{sc['sim_wall_s']:.1f} | {mem:.2f} GB | {r.peak_rss_sum / 1e9:.2f} GB |", "",
                  f"Bar (for 1,000,000 designs): <= 0.6 ms CPU per design all in: {per:.3f} ms at {sc['n']:,}, {bar(per, 0.6)}; "
                  f"peak memory <= 2 GB summed: {mem:.2f} GB at {sc['n']:,}, {bar(mem, 2)} at this size. "
                  "The 1,000,000-design screen was **not run** (at this rate it would take "
                  f"~{r.cpu_s / sc['n'] * 1e6 / 2 / 60:.0f} min on 2 cores).", ""]
        if sc["error"]:
            lines += ["Screen stderr (tail):", "", "```", sc["error"][-1500:], "```", ""]
    return lines
