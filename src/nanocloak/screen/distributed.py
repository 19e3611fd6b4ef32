"""Running a screen in chunks, on Dask or in this process, into a resumable Parquet dataset.

DIR/results/chunk-NNNNNN.parquet holds the rows of chunk NNNNNN (designs NNNNNN x chunk_size ...);
a file appears only complete (written under a temporary name, then renamed), so on a rerun every
chunk already on disk is skipped: no recomputation, no duplicates. DIR/manifest.json records the
space's fingerprint (base, fields, sampling, population and the samples); a rerun into DIR with a
different space is refused.

Chunk tasks are pure (their result depends only on their arguments) and carry deterministic keys,
so Dask may recompute one on another worker when a worker dies; results stream back with
`as_completed` and are written by this process as they arrive (the workers need no shared disk).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError, require
from nanocloak.io.output_dir import atomic_file
from nanocloak.screen.evaluation import evaluate_designs
from nanocloak.screen.space import Space

RESULTS_DIR = "results"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
#: a chunk simulates this many designs at most by default (a few seconds of work: small enough to
#: lose little when a worker dies or a run stops, large enough that task overhead is negligible)
MAX_DEFAULT_CHUNK = 1000
#: ... and at least this many (the batched engine amortises its per-call work over a batch)
MIN_DEFAULT_CHUNK = 16
#: chunks per worker by default, so that the load balances near the end of a screen
CHUNKS_PER_WORKER = 4
#: Dask retries a chunk whose task raised (a lost worker is handled by the scheduler itself)
TASK_RETRIES = 2


@dataclass
class RunReport:
    n_designs: int
    n_chunks: int
    chunk_size: int
    computed: list[int] = field(default_factory=list)     # chunk ids simulated in this run
    skipped: int = 0                                        # chunks already on disk
    seconds: float = 0.0                                    # wall time of the simulation phase

    def chunk_length(self, chunk_id: int) -> int:
        """Designs in one chunk (the last one may be short)."""
        return min(self.chunk_size, self.n_designs - chunk_id * self.chunk_size)

    @property
    def designs_simulated(self) -> int:
        """Designs simulated in this run (chunks already on disk excluded)."""
        return sum(self.chunk_length(k) for k in self.computed)


def chunk_path(out_dir: Path, chunk_id: int) -> Path:
    return Path(out_dir) / RESULTS_DIR / f"chunk-{chunk_id:06d}.parquet"


def done_chunks(out_dir: Path) -> set[int]:
    found = set()
    for p in (Path(out_dir) / RESULTS_DIR).glob("chunk-*.parquet"):
        try:
            found.add(int(p.stem.split("-", 1)[1]))
        except ValueError:
            continue
    return found


def default_chunk_size(n_designs: int, workers: int) -> int:
    per_worker = -(-n_designs // (CHUNKS_PER_WORKER * max(1, workers)))
    return int(min(max(MIN_DEFAULT_CHUNK, per_worker), MAX_DEFAULT_CHUNK, n_designs))


def prepare(out_dir: Path, fingerprint: str, n_designs: int, chunk_size: int, kind: str, source: str) -> int:
    """Create or check DIR and its manifest; returns the chunk size in force (a resumed run keeps
    the size its chunks were written with)."""
    from nanocloak.version import __version__

    out_dir = Path(out_dir)
    manifest = out_dir / MANIFEST
    results = out_dir / RESULTS_DIR
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            raise NanocloakError(f"{manifest}: unreadable manifest; delete {out_dir} or choose another --out") from None
        if old.get("fingerprint") != fingerprint or old.get("kind") != kind:
            raise NanocloakError(
                f"{out_dir} holds the results of a different {old.get('kind', 'run')} ({old.get('space', '?')}, "
                f"{old.get('n_designs', '?')} designs); a rerun resumes only the same space with the same samples, "
                "seed and population: choose another --out or delete that directory")
        results.mkdir(parents=True, exist_ok=True)
        return int(old["chunk_size"])
    if results.exists() and any(results.iterdir()):
        raise NanocloakError(f"{results} exists without {MANIFEST}: not a screen directory nanocloak wrote; "
                             "choose another --out")
    results.mkdir(parents=True, exist_ok=True)
    doc = {"format": MANIFEST_FORMAT, "kind": kind, "space": source, "fingerprint": fingerprint,
           "n_designs": n_designs, "chunk_size": chunk_size, "n_chunks": -(-n_designs // chunk_size),
           "nanocloak_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with atomic_file(manifest) as tmp:
        tmp.write_bytes(json.dumps(doc, indent=2).encode())
    return chunk_size


def written_files(out_dir: Path) -> set[str]:
    """The bookkeeping files a run wrote (manifest and result chunks), relative to out_dir."""
    out_dir = Path(out_dir)
    files = {f"{RESULTS_DIR}/{p.name}" for p in (out_dir / RESULTS_DIR).glob("chunk-*.parquet")}
    return files | ({MANIFEST} if (out_dir / MANIFEST).is_file() else set())


def write_chunk(table, path: Path) -> None:
    """Write a chunk's Parquet file atomically (temporary name in the same folder, then rename)."""
    import pyarrow.parquet as pq

    with atomic_file(path) as tmp:
        pq.write_table(table, tmp)


def _clean_temporaries(out_dir: Path) -> None:
    for p in (Path(out_dir) / RESULTS_DIR).glob(".chunk-*.tmp"):
        with contextlib.suppress(OSError):
            p.unlink()


# ---------------------------------------------------------------------------------------------
# the task
# ---------------------------------------------------------------------------------------------
def chunk_task(evaluate: Callable, space: Space, first_id: int, codes: np.ndarray, one_kernel_thread: bool = True):
    """Evaluate one chunk with `evaluate(space, first_id, codes)` (the caller's function; on a Dask
    worker the process is one core, so the compiled kernel runs on one thread)."""
    if one_kernel_thread:
        import numba

        numba.set_num_threads(1)
    return evaluate(space, first_id, codes)


# ---------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------
def run_chunks(space: Space, matrix: np.ndarray, out_dir: Path, *, chunk_size: int | None = None,
               scheduler: str | None = None, workers: int | None = None, serial: bool = False, client=None,
               kind: str = "screen", on_progress: Callable[[int, int], None] | None = None,
               on_chunk: Callable[[int, int], None] | None = None, evaluate: Callable = evaluate_designs) -> RunReport:
    """Simulate every design not yet on disk with `evaluate(space, first_id, codes)` -> a pyarrow
    Table (default evaluation.evaluate_designs). on_progress(designs done, total) after each chunk;
    on_chunk(chunk id, chunks done in this run) likewise (tests use it to disturb a run)."""
    out_dir = Path(out_dir)
    n = len(matrix)
    if n == 0:
        raise NanocloakError(f"{space.source}: the space has no designs")
    n_workers = 1 if serial else (workers or os.cpu_count() or 1)
    if chunk_size is not None and chunk_size < 1:
        raise NanocloakError(f"--chunk-size must be >= 1 (got {chunk_size})")
    fingerprint = space.fingerprint(matrix)
    size = prepare(out_dir, fingerprint, n, chunk_size or default_chunk_size(n, n_workers), kind, space.source)
    _clean_temporaries(out_dir)
    n_chunks = -(-n // size)
    done = done_chunks(out_dir)
    pending = [k for k in range(n_chunks) if k not in done]
    report = RunReport(n, n_chunks, size, skipped=n_chunks - len(pending))
    designs_done = sum(report.chunk_length(k) for k in range(n_chunks) if k in done)
    if on_progress:
        on_progress(designs_done, n)
    start = time.perf_counter()

    def finished(k: int, table) -> None:
        nonlocal designs_done
        write_chunk(table, chunk_path(out_dir, k))
        report.computed.append(k)
        designs_done += report.chunk_length(k)
        if on_progress:
            on_progress(designs_done, n)
        if on_chunk:
            on_chunk(k, len(report.computed))

    if pending:
        if serial:
            for k in pending:
                finished(k, chunk_task(evaluate, space, k * size, matrix[k * size:(k + 1) * size], one_kernel_thread=False))
        else:
            _run_on_dask(evaluate, space, matrix, size, pending, finished, scheduler, n_workers, client, fingerprint[:16])
    report.seconds = time.perf_counter() - start
    return report


def _run_on_dask(evaluate, space, matrix, size, pending, finished, scheduler, n_workers, client, key: str) -> None:
    require("dask.distributed", "screen")
    from dask.distributed import as_completed

    with _client(scheduler, n_workers, client) as c:
        futures = {}
        for k in pending:
            fut = c.submit(chunk_task, evaluate, space, k * size, matrix[k * size:(k + 1) * size], pure=True,
                           retries=TASK_RETRIES, key=f"nanocloak-chunk-{key}-{k:06d}")
            futures[fut] = k
        failed: list[tuple[int, str]] = []
        for fut in as_completed(list(futures)):
            k = futures.pop(fut)
            try:
                table = fut.result()
            except Exception as exc:   # retries spent, or the task killed its workers repeatedly
                failed.append((k, f"{type(exc).__name__}: {exc}"))
                continue
            finally:
                fut.release()
            finished(k, table)
        if failed:
            first = failed[0]
            raise NanocloakError(f"{len(failed)} chunk(s) failed on the cluster (first: chunk {first[0]}, {first[1]}); "
                                 "finished chunks are saved: rerun the same command to compute the rest")


@contextlib.contextmanager
def _client(scheduler: str | None, n_workers: int, client=None):
    if client is not None:
        yield client
        return
    require("dask.distributed", "screen")
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            c = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise NanocloakError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            yield c
        finally:
            c.close()
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as c:
        yield c


# ---------------------------------------------------------------------------------------------
# reading and querying the dataset
# ---------------------------------------------------------------------------------------------
def _glob(out_dir: Path) -> str:
    return str(Path(out_dir) / RESULTS_DIR / "chunk-*.parquet").replace("'", "''")


def _connect(out_dir: Path):
    duckdb = require("duckdb", "screen")

    out_dir = Path(out_dir)
    if not (out_dir / RESULTS_DIR).is_dir() or not done_chunks(out_dir):
        raise NanocloakError(f"{out_dir}: no results yet ({RESULTS_DIR}/chunk-*.parquet); run `nanocloak screen run` first")
    con = duckdb.connect()
    try:
        con.execute(f"CREATE VIEW results AS SELECT * FROM read_parquet('{_glob(out_dir)}', union_by_name = true)")
    except duckdb.Error as exc:  # a damaged or foreign chunk file
        raise NanocloakError(f"{out_dir}: cannot read the results ({str(exc).strip()}); delete the damaged "
                             f"{RESULTS_DIR}/chunk-*.parquet file and rerun the screen to recompute it") from None
    return con


def read_results(out_dir: Path) -> pd.DataFrame:
    """Every row of the dataset (design x animal), ordered by design and animal."""
    con = _connect(out_dir)
    try:
        return con.execute("SELECT * FROM results ORDER BY design_id, animal").df()
    finally:
        con.close()


def query(out_dir: Path, sql: str) -> pd.DataFrame:
    """Run SQL (DuckDB) with the dataset as the view `results`."""
    duckdb = require("duckdb", "screen")

    con = _connect(out_dir)
    try:
        return con.execute(sql).df()
    except duckdb.Error as exc:
        raise NanocloakError(f"query: {str(exc).strip()}  (the table is `results`; quote column names with "
                             "dots, e.g. \"core.diameter_nm\")") from None
    finally:
        con.close()
