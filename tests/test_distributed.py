"""Screens on a real Dask cluster (2 worker processes): a worker killed mid-screen, --scheduler."""

import logging
import os
import signal

import numpy as np
import pandas as pd
import pytest

from nanocloak.screen import distributed
from nanocloak.screen.space import load_space
from nanocloak.simulation.core import DEFAULT_ATOL, DEFAULT_RTOL

from test_screen import space_dict

pytest.importorskip("dask.distributed")
#: a worker's single-threaded kernel and the serial multi-threaded one agree within the solver's
#: tolerances, not bit for bit
RTOL, ATOL = DEFAULT_RTOL, DEFAULT_ATOL


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as c:
        c.wait_for_workers(2)
        yield c


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert a["design_id"].tolist() == b["design_id"].tolist()
    assert (a["status"] == b["status"]).all()
    numeric = [c for c in a.columns if pd.api.types.is_float_dtype(a[c])]
    np.testing.assert_allclose(a[numeric].to_numpy(), b[numeric].to_numpy(), rtol=RTOL, atol=ATOL)


def test_a_worker_killed_mid_screen(client, tmp_path):
    space = load_space(space_dict(sampling={"method": "lhs", "n": 80, "seed": 4}))
    matrix = space.design_matrix()
    distributed.run_chunks(space, matrix, tmp_path / "serial", chunk_size=5, serial=True)
    reference = distributed.read_results(tmp_path / "serial")

    pids = client.run(os.getpid)                   # worker address -> process id
    victim, victim_pid = sorted(pids.items())[0]
    seen = {}

    def kill_after_first_chunk(chunk_id, done):
        if not seen:
            seen["done"] = done
            seen["busy"] = list(client.processing(workers=[victim]).get(victim, ()))
            os.kill(victim_pid, signal.SIGKILL)    # as the OOM killer would: no goodbye

    report = distributed.run_chunks(space, matrix, tmp_path / "dask", chunk_size=5, client=client,
                                    on_chunk=kill_after_first_chunk)
    assert seen["done"] == 1 and report.n_chunks == 16
    assert seen["busy"], "the victim held no task when it was killed"
    assert sorted(report.computed) == list(range(16))
    assert victim not in client.scheduler_info()["workers"]          # the cluster lost it ...
    rows = distributed.read_results(tmp_path / "dask")
    assert rows["design_id"].tolist() == list(range(80))              # ... and every design is there once
    _same_rows(rows, reference)


def test_scheduler_address(client, tmp_path):
    space = load_space(space_dict(sampling={"method": "sobol", "n": 16, "seed": 9}))
    matrix = space.design_matrix()
    report = distributed.run_chunks(space, matrix, tmp_path / "remote", chunk_size=4,
                                    scheduler=client.scheduler.address)
    assert sorted(report.computed) == [0, 1, 2, 3]
    distributed.run_chunks(space, matrix, tmp_path / "serial", chunk_size=4, serial=True)
    _same_rows(distributed.read_results(tmp_path / "remote"), distributed.read_results(tmp_path / "serial"))
