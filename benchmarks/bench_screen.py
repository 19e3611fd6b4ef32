"""Throughput of a large screen: 100,000 designs on a local Dask cluster, written to Parquet.

RBC-membrane PLGA on a 4T1 mouse (examples/rbc_plga.yaml) varied in core size (log), bare-core
zeta, dose, coating method and RBC/platelet hybrid composition (Latin hypercube). The drug payload is
dropped by default: its release and free-drug model cost far more than the particle model, and a
100,000-design screen with it is a job for a real cluster (--keep-payloads to include it).

    python benchmarks/bench_screen.py [--n 100000] [--workers 2] [--chunk-size 1000] [--out DIR]

Prints the wall time of the simulation phase (cluster start-up included, analysis excluded) and
designs per second, then the time of the ranking and outputs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def space_dict(n: int, keep_payloads: bool) -> dict:
    base = yaml.safe_load((ROOT / "examples" / "rbc_plga.yaml").read_text(encoding="utf-8"))
    if not keep_payloads:
        base.pop("payloads", None)
    return {
        "base": base,
        "vary": {
            "core.diameter_nm": {"range": [50, 200], "scale": "log"},
            "core.zeta_mV": {"range": [-40, 10]},
            "dose.mg_per_kg": {"range": [1, 20]},
            "surface.membrane.method": {"choice": ["coextrusion", "sonication", "microfluidic_electroporation"]},
            "surface.membrane.sources": {"hybrid": ["rbc", "platelet"], "fraction_step": 0.25},
        },
        "sampling": {"method": "lhs", "n": n, "seed": 1},
        "objectives": [{"maximize": "tumor_pct_id_24h"}, {"minimize": "liver_pct_id_24h"}],
        "constraints": [{"metric": "spleen_pct_id_24h", "max": 30}],
        "top": 10,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="keep the screen here (default: a temporary folder)")
    ap.add_argument("--keep-payloads", action="store_true")
    args = ap.parse_args()

    from nanocloak.io.output_dir import IncrementalFolder
    from nanocloak.screen import distributed, screening
    from nanocloak.screen.space import load_space

    space = load_space(space_dict(args.n, args.keep_payloads))
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_screen_"))
    try:
        matrix = space.design_matrix()
        t0 = time.perf_counter()
        report = distributed.run_chunks(space, matrix, out, chunk_size=args.chunk_size, workers=args.workers)
        sim = time.perf_counter() - t0
        computed = report.designs_simulated
        t1 = time.perf_counter()
        folder = IncrementalFolder(out, "screen run", force=True)     # as screening.run_screen writes its outputs
        folder.keep(distributed.written_files(out))
        rows = distributed.read_results(out)
        designs = screening.design_table(rows, space)
        ranking = screening.rank_designs(designs, screening.goals(space, screening.base_metric_names(space)), space.top)
        screening.write_pareto_csv(ranking, folder)
        screening.write_top(space, matrix, ranking, folder)
        screening.pareto_figure(ranking, space, folder.target("pareto.png"))
        screening.parallel_figure(ranking, space, folder.target("parallel_coordinates.png"))
        folder.finish()
        post = time.perf_counter() - t1
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {args.workers} Dask workers (processes, 1 thread)")
        print(f"designs: {report.n_designs:,} in {report.n_chunks} chunks of {report.chunk_size}; "
              f"simulated now: {computed:,} (failed: {int((designs['status'] != 'ok').sum())})")
        print(f"simulation phase (cluster start-up included): {sim:.1f} s = {computed / sim:,.0f} designs/s")
        print(f"ranking and outputs (read Parquet, Pareto, top files, figures): {post:.1f} s; "
              f"{int(ranking.designs['pareto'].sum())} designs on the front")
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
