"""Regenerate benchmarks/results.md: every workload of issue 15 with CPU and wall time side by side,
each figure beside its bar. Not part of CI (benchmarks, not tests).

    .venv/bin/python benchmarks/run_all.py                      # everything (~15-25 min on 2 shared cores)
    .venv/bin/python benchmarks/run_all.py --only particles therapy --out /tmp/r.md
    .venv/bin/python benchmarks/run_all.py --n 200 --screen-n 2000 --out /tmp/r.md   # a quick look

CPU time is the primary figure: time.process_time of this process (all its threads, numba's included)
or, for commands run as child processes, their rusage (every finished descendant). Peers
(libRoadRunner, scipy) run in the same process run as nanocloak.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_particles  # noqa: E402
import bench_workloads  # noqa: E402
from bench_tools import ROOT  # noqa: E402

PARTS = ("particles", "therapy", "fit", "learn", "screen", "profile")


def profile_particles(n: int, top: int = 18) -> list[str]:
    """cProfile of simulate_many over n particle-only designs (after a warm-up): where the time goes."""
    from bench_batch import designs

    import nanocloak

    forms = designs(n, seed=11)
    nanocloak.simulate_many(forms[:50])
    prof = cProfile.Profile()
    prof.enable()
    nanocloak.simulate_many(forms)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    total = stats.total_tt
    rows = []
    for (file, line, name), (_cc, nc, tt, ct, _) in stats.stats.items():
        rows.append((ct, tt, nc, f"{Path(file).name}:{line}({name})" if file != "~" else name))
    cum = sorted(rows, key=lambda r: -r[0])
    own = sorted(rows, key=lambda r: -r[1])
    lines = [f"## Where `simulate_many` spends its time (cProfile, {n:,} particle-only designs)", "",
             f"Profiled total {total:.2f} s ({total / n * 1e3:.2f} ms per design under the profiler, which inflates the "
             "Python share). Cumulative time of nanocloak's functions (a function's callees included), then the largest "
             "own times.", "", "| function (cumulative) | s | share | calls |", "|---|---|---|---|"]
    for ct, _tt, nc, name in [r for r in cum if "nanocloak" in r[3] or ".py" in r[3]][:top]:
        lines.append(f"| `{name}` | {ct:.2f} | {ct / total:.0%} | {nc:,} |")
    lines += ["", "| function (own time) | s | share | calls |", "|---|---|---|---|"]
    for _ct, tt, nc, name in own[:top]:
        lines.append(f"| `{name}` | {tt:.2f} | {tt / total:.0%} | {nc:,} |")
    return lines + [""]


def guarded(title: str, make) -> list[str]:
    """A section's lines, or its failure written where it would stand (the other sections still run)."""
    import traceback

    try:
        return make()
    except Exception:                      # noqa: BLE001  (a benchmark reports what broke and goes on)
        return [f"## {title}: FAILED", "", "```", traceback.format_exc()[-2500:], "```", ""]


def header(a, elapsed: float | None = None) -> list[str]:
    load = os.getloadavg()
    return [f"# nanocloak benchmarks ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()})", "",
            "Regenerate with one command: `.venv/bin/python benchmarks/run_all.py` (writes this file; `--help` for sizes "
            "and `--only`). Not part of CI. Bars are those of issue 15.", "",
            "**CPU time per design is the primary figure**: `time.process_time` of the benchmark process (every thread, "
            "numba's included) or, for commands run as child processes (fit, learn, screen), the rusage of the child and "
            "every process it started. **Wall time is contended**: the machine's 2 cores are shared with other engineers "
            f"running tests (load average at the start {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}), so wall time may exceed "
            "CPU time; for the multi-threaded engine wall < CPU means both cores were used. Peers (libRoadRunner, scipy) run "
            "in the same process run as nanocloak, on the same designs, tolerances and output grid. The fit and learn "
            "commands run as child processes beside the in-process benchmarks (each child's CPU from its own rusage); "
            "the screen runs alone at the end."
            + (f" This run took {elapsed / 60:.1f} min." if elapsed is not None else ""), ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--n", type=int, default=2000, help="particle-only designs")
    ap.add_argument("--rr-n", type=int, default=200, help="designs run by libRoadRunner")
    ap.add_argument("--scipy-n", type=int, default=4, help="designs run by scipy")
    ap.add_argument("--ref-n", type=int, default=40, help="designs compared with the rtol 1e-9 reference")
    ap.add_argument("--therapy-n", type=int, default=40, help="designs per therapy workload")
    ap.add_argument("--screen-n", type=int, default=30_000)
    ap.add_argument("--profile-n", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    a = ap.parse_args()
    t0 = time.perf_counter()
    body: list[str] = []

    def done(part: str):
        print(f"[run_all] {part} done at {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    # the fit and learn commands run as child processes (their own rusage) beside the in-process
    # benchmarks: the CPU figures do not mix, and the regeneration takes less wall time
    children: dict = {}

    def run_children():
        children["fit"] = bench_workloads.fit() if "fit" in a.only else None
        children["learn"] = bench_workloads.learn() if "learn" in a.only else None

    side = threading.Thread(target=run_children)
    side.start()
    if "particles" in a.only:
        body += guarded("Particle-only designs", lambda: bench_particles.markdown(
            bench_particles.run(a.n, a.rr_n, a.scipy_n, a.ref_n)))
        done("particles")
    th = None
    if "therapy" in a.only:
        got = []
        body += guarded("Designs with a drug or a laser", lambda: got.append(bench_workloads.therapy(a.therapy_n)) or [])
        th = got[0] if got else None
    done("therapy")
    side.join()
    ft, ln = children.get("fit"), children.get("learn")
    done("fit/learn")
    sc = bench_workloads.screen(a.screen_n) if "screen" in a.only else None
    body += bench_workloads.markdown(th, ft, ln, sc, a.therapy_n)
    done("screen")
    if "profile" in a.only:
        body += guarded("Profile", lambda: profile_particles(a.profile_n))
    text = "\n".join(header(a, time.perf_counter() - t0) + body)
    print(text)
    a.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
