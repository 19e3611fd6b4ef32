"""Start-up and first-run CPU of nanocloak (issue 12): process user + system CPU, median of N runs.

    python benchmarks/bench_startup.py            # all figures, 3 runs each
    python benchmarks/bench_startup.py --runs 5 --only import help

Figures (each a fresh process; CPU from the child's rusage, so numba's threads count too):
  import      python -c "import nanocloak"                         (target <= 0.8 s)
  help        nanocloak --help                                     (target <= 0.5 s)
  first-run   nanocloak simulate examples/rbc_plga.yaml, empty numba and nanocloak caches
              (a fresh install: NUMBA_CACHE_DIR and NANOCLOAK_CACHE_DIR point at a new empty
              folder for every run)                                (target <= 15 s)
  later-run   the same with the caches of a previous run           (target <= 1.5 s)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "rbc_plga.yaml"
TARGETS = {"import": 0.8, "help": 0.5, "first-run": 15.0, "later-run": 1.5}


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("nanocloak")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from nanocloak.cli import main; main()"]


def cpu_of(cmd: list[str], env: dict[str, str]) -> float:
    """User + system CPU seconds of one child process (and its threads)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _env(cache: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
        env["NANOCLOAK_CACHE_DIR"] = cache
    return env


def measure(name: str, runs: int) -> list[float]:
    simulate = _cli() + ["simulate", str(EXAMPLE)]
    if name == "import":
        return [cpu_of([sys.executable, "-c", "import nanocloak"], _env(None)) for _ in range(runs)]
    if name == "help":
        return [cpu_of(_cli() + ["--help"], _env(None)) for _ in range(runs)]
    if name == "first-run":
        out = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="nanocloak-bench-") as cache:
                out.append(cpu_of(simulate, _env(cache)))
        return out
    if name == "later-run":
        with tempfile.TemporaryDirectory(prefix="nanocloak-bench-") as cache:
            cpu_of(simulate, _env(cache))                 # fill the caches
            return [cpu_of(simulate, _env(cache)) for _ in range(runs)]
    raise SystemExit(f"unknown figure {name!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=list(TARGETS), choices=list(TARGETS))
    args = ap.parse_args()
    print(f"{'figure':<10} {'median s':>9} {'target s':>9}  runs (s)  [{os.cpu_count()} cores]")
    for name in args.only:
        values = measure(name, args.runs)
        med = statistics.median(values)
        flag = "ok" if med <= TARGETS[name] else "OVER"
        print(f"{name:<10} {med:9.2f} {TARGETS[name]:9.2f}  {' '.join(f'{v:.2f}' for v in values)}  {flag}", flush=True)


if __name__ == "__main__":
    main()
