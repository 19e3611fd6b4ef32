"""MCMC convergence diagnostics (ArviZ): R-hat and ESS tell mixed from unmixed chains; NetCDF round trip."""

import numpy as np
import pytest

az = pytest.importorskip("arviz")
from nanocloak.inference import diagnostics  # noqa: E402


def _chains(offsets, steps=2000, seed=0):
    """(steps, walkers, 1) independent normal draws, walker w shifted by offsets[w]."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(steps, len(offsets), 1)) + np.asarray(offsets)[None, :, None]


def test_independent_draws_have_r_hat_one_and_full_ess():
    d = diagnostics.convergence(_chains([0.0] * 4), burn=0, labels=["k"])["k"]
    assert abs(d["r_hat"] - 1.0) < 0.01
    assert d["ess_bulk"] > 0.7 * 8000            # iid draws: ESS near the number of draws
    assert diagnostics.convergence_warnings({"k": d}) == []


def test_walkers_stuck_apart_fail_r_hat():
    d = diagnostics.convergence(_chains([0.0, 0.0, 3.0, 3.0]), burn=0, labels=["k"])
    assert d["k"]["r_hat"] > 1.5
    assert any("R-hat above 1.01" in w for w in diagnostics.convergence_warnings(d))


def test_autocorrelated_chain_has_few_effective_samples():
    rng = np.random.default_rng(1)
    x = np.zeros((4000, 4))
    for i in range(1, 4000):                         # AR(1), rho 0.99: ESS ~ n (1 - rho) / (1 + rho)
        x[i] = 0.99 * x[i - 1] + rng.normal(size=4)
    d = diagnostics.convergence(x[:, :, None], burn=0, labels=["k"])["k"]
    assert d["ess_bulk"] < 400
    assert any("effective sample size" in w for w in diagnostics.convergence_warnings({"k": d}))


def test_burn_in_is_dropped_and_netcdf_round_trips(tmp_path):
    chain = _chains([0.0] * 4, steps=100)
    chain[:20] = 50.0                                # a burn-in far from the posterior
    path = diagnostics.write_netcdf(chain, 20, ["k"], np.zeros((100, 4)), tmp_path / "posterior.nc")
    back = az.from_netcdf(path)
    assert back.posterior["k"].shape == (4, 80)
    np.testing.assert_allclose(back.posterior["k"].values, chain[20:, :, 0].T)
    assert float(back.posterior["k"].max()) < 10
