"""Timing helpers of the benchmarks: CPU time (all threads of this process, or the rusage of finished
child processes) beside wall time, and peak memory of a process tree."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Timing:
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def per(self, n: int) -> "Timing":
        return Timing(self.cpu_s / n, self.wall_s / n)


@contextmanager
def timed():
    """CPU (time.process_time: every thread of this process, numba's included) and wall time of a block."""
    t = Timing()
    c0, w0 = time.process_time(), time.perf_counter()
    try:
        yield t
    finally:
        t.cpu_s, t.wall_s = time.process_time() - c0, time.perf_counter() - w0


def best_of(fn, repeats: int) -> Timing:
    """The run of fn with the least CPU time out of `repeats` (other users of the machine only add)."""
    best = None
    for _ in range(repeats):
        with timed() as t:
            fn()
        if best is None or t.cpu_s < best.cpu_s:
            best = t
    return best


def _tree_memory(root) -> tuple[int, int]:
    """(RSS summed, PSS summed) in bytes over a process and all its descendants; PSS counts pages that
    forked workers share once (RSS sums count them in every process)."""
    import psutil

    rss = pss = 0
    try:
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss, pss


@dataclass
class ChildRun:
    cpu_s: float
    wall_s: float
    peak_rss_sum: int
    peak_pss_sum: int
    returncode: int
    stdout: str
    stderr: str


def run_child(cmd: list[str], poll_s: float = 0.25, env: dict | None = None) -> ChildRun:
    """Run a command; CPU = user + system rusage of it and every descendant it reaped (os.wait4: the
    workers of a Dask cluster count once closed); peak memory of the whole process tree sampled every
    poll_s."""
    import psutil

    w0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0, 0]
    stop = threading.Event()

    def watch():
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            rss, pss = _tree_memory(root)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            stop.wait(poll_s)

    texts = {}

    def read(name, stream):
        texts[name] = stream.read()

    threads = [threading.Thread(target=watch, daemon=True)] + [
        threading.Thread(target=read, args=(k, s), daemon=True) for k, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in threads:
        t.start()
    # this child's own rusage (its reaped descendants included), so several children may run at once
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - w0
    cpu = usage.ru_utime + usage.ru_stime
    return ChildRun(cpu, wall, peak[0], peak[1], proc.returncode, texts.get("out", ""), texts.get("err", ""))


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def bar(value: float, limit: float, smaller_is_better: bool = True) -> str:
    """'met' / 'not met' of a figure against its bar."""
    ok = value <= limit if smaller_is_better else value >= limit
    return "met" if ok else "**not met**"
