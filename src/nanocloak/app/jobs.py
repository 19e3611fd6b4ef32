"""Long work (a screen, a fit) in worker processes, so that the web server keeps answering.

Each job is its own process, forked from a forkserver that has the package imported already (a
job starts in well under a second; `spawn` where forkserver does not exist). The worker lowers its
priority, runs its compiled kernels on one thread, and reports progress by replacing a small JSON
file in the job's folder; the server reads that file when the page polls. At most MAX_RUNNING jobs
run at once (the rest wait in order), one per session and kind; a job can be cancelled (its
process is terminated). Finished jobs' folders are removed after KEEP_S.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: Windows has no ForkServerContext
    from multiprocessing.context import ForkServerContext, SpawnContext

KEEP_S = 3600
NICE = 10


def default_max_running() -> int:
    """Leave at least one core to the server: 1 job on 2 cores, 3 on 4, at most 4."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def _context() -> ForkServerContext | SpawnContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["nanocloak.app.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


def _write_json(path: Path, obj: Any) -> None:
    from .backend import json_default

    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, default=json_default), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def child_main(kind: str, payload: dict, job_dir: str) -> None:
    """The worker process: run one job, leaving progress.json, then result.json or error.json."""
    folder = Path(job_dir)
    try:
        os.nice(NICE)
    except (AttributeError, OSError):
        pass
    from . import backend

    backend.limit_threads(1)
    started = time.time()

    def progress(done: int, total: int, message: str = "") -> None:
        _write_json(folder / "progress.json", {"done": int(done), "total": int(total), "message": message,
                                               "elapsed_s": time.time() - started})

    try:
        result = backend.run_job(kind, payload, folder, progress)
        _write_json(folder / "result.json", result)
    except backend.user_error_types() as exc:
        _write_json(folder / "error.json", {"message": str(exc), "user": True})
    except BaseException as exc:  # noqa: BLE001 - reported on the page, with its type
        _write_json(folder / "error.json", {"message": f"internal error ({type(exc).__name__}: {exc})", "user": False,
                                            "traceback": traceback.format_exc()[-4000:]})


@dataclass
class Job:
    id: str
    kind: str
    owner: str
    folder: Path
    payload: dict
    state: str = "queued"              # queued | running | done | failed | cancelled
    process: Any = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None


class JobManager:
    def __init__(self, root: Path, max_running: int | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_running = max_running or default_max_running()
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._ctx: ForkServerContext | SpawnContext | None = None

    def warm(self) -> None:
        """Start the forkserver now (it imports the package once), not on the first job."""
        with self._lock:
            if self._ctx is None:
                self._ctx = _context()
        if self._ctx.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()

    # -- submitting --------------------------------------------------------------------------
    def submit(self, owner: str, kind: str, payload: dict) -> str:
        with self._lock:
            for j in self._jobs.values():
                if j.owner == owner and j.kind == kind and j.state in ("queued", "running"):
                    raise RuntimeError(f"a {kind} is already running on this page: wait for it or cancel it")
            job = Job(uuid.uuid4().hex, kind, owner, self.root / uuid.uuid4().hex, payload)
            job.folder.mkdir(parents=True)
            self._jobs[job.id] = job
            self._schedule()
            return job.id

    def _schedule(self) -> None:
        self._reap()
        running = sum(1 for j in self._jobs.values() if j.state == "running")
        for j in sorted(self._jobs.values(), key=lambda j: j.submitted):
            if running >= self.max_running:
                break
            if j.state == "queued":
                if self._ctx is None:
                    self._ctx = _context()
                p = self._ctx.Process(target=child_main, args=(j.kind, j.payload, str(j.folder)), daemon=True,
                                      name=f"nanocloak-{j.kind}")
                p.start()
                j.process, j.state, j.started = p, "running", time.time()
                running += 1

    def _reap(self) -> None:
        now = time.time()
        for j in list(self._jobs.values()):
            if j.state == "running" and j.process is not None and not j.process.is_alive():
                j.process.join(timeout=0)
                j.finished = now
                if (j.folder / "result.json").exists():
                    j.state = "done"
                else:
                    j.state = "failed"
                    if not (j.folder / "error.json").exists():
                        _write_json(j.folder / "error.json", {"message": f"the worker stopped (exit code {j.process.exitcode})",
                                                              "user": False})
            if j.finished is not None and now - j.finished > KEEP_S:
                shutil.rmtree(j.folder, ignore_errors=True)
                del self._jobs[j.id]

    # -- reading -----------------------------------------------------------------------------
    def status(self, job_id: str | None, owner: str | None = None) -> dict | None:
        with self._lock:
            self._schedule()
            j = self._jobs.get(job_id or "")
            if j is None or (owner is not None and j.owner != owner):
                return None
            prog = _read_json(j.folder / "progress.json") or {}
            out = {"id": j.id, "kind": j.kind, "state": j.state, "done": prog.get("done", 0), "total": prog.get("total", 0),
                   "message": prog.get("message", ""),
                   "elapsed_s": (j.finished or time.time()) - (j.started or j.submitted)}
            if j.state == "queued":
                ahead = sum(1 for o in self._jobs.values() if o.state in ("queued", "running") and o.submitted < j.submitted)
                out["message"] = f"waiting for {ahead} job(s) ahead"
            if j.state == "failed":
                out["error"] = (_read_json(j.folder / "error.json") or {}).get("message", "failed")
            return out

    def result(self, job_id: str, owner: str | None = None) -> dict | None:
        with self._lock:
            j = self._jobs.get(job_id)
            if j is None or j.state != "done" or (owner is not None and j.owner != owner):
                return None
            return _read_json(j.folder / "result.json")

    def folder(self, job_id: str, owner: str | None = None) -> Path | None:
        j = self._jobs.get(job_id)
        return None if j is None or (owner is not None and j.owner != owner) else j.folder

    def running_owners(self) -> set[str]:
        with self._lock:
            return {j.owner for j in self._jobs.values() if j.state in ("queued", "running")}

    # -- stopping ----------------------------------------------------------------------------
    def cancel(self, job_id: str, owner: str | None = None) -> bool:
        with self._lock:
            j = self._jobs.get(job_id)
            if j is None or (owner is not None and j.owner != owner) or j.state not in ("queued", "running"):
                return False
            if j.process is not None and j.process.is_alive():
                j.process.terminate()
                j.process.join(timeout=5)
                if j.process.is_alive():
                    j.process.kill()
                    j.process.join(timeout=5)
            j.state, j.finished = "cancelled", time.time()
            self._schedule()
            return True

    def shutdown(self) -> None:
        with self._lock:
            for j in self._jobs.values():
                if j.process is not None and j.process.is_alive():
                    j.process.terminate()
            for j in self._jobs.values():
                if j.process is not None:
                    j.process.join(timeout=5)
                    if j.process.is_alive():
                        j.process.kill()
            shutil.rmtree(self.root, ignore_errors=True)
