"""Preloaded by the job forkserver (jobs.py): the package's heavy modules, imported once, so a job
process forked from it starts at once. Importing this module runs no simulation."""

from . import backend

backend.preload()
