"""Preloaded by the job forkserver (jobs.py): the package's modules imported and its compiled
kernels loaded once (one small simulation, as the package's own process pool does before it
forks), so a job process forked from it starts computing at once."""

from . import backend

backend.preload()
try:
    backend.warm_up(evidence=False)
except Exception:  # noqa: BLE001 - a job reports its own error; the forkserver must not die here
    pass
