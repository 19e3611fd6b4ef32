"""The fit's fast model (inference/fast_model.py) against the full path (resolve -> simulate_particles
-> SimulationResult) it replaces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

import nanocloak
from nanocloak.inference import fitting
from nanocloak.lab.labdata import load_lab_data
from nanocloak.simulation.core import resolve_formulation

EXAMPLE = ROOT / "examples" / "rbc_plga.yaml"


def problem_for(f, frame, names=None):
    obs = fitting.observations_from(frame, f, None)
    names = names or fitting.default_parameters(obs.observables)
    priors = fitting.check_parameters(names, resolve_formulation(f).params.table())
    return fitting.CalibrationProblem(f, obs, priors)


def thetas(problem, n, seed):
    """The prior median, then draws over the whole search box."""
    lo, hi = problem.bounds
    return np.vstack([problem.mu, np.random.default_rng(seed).uniform(lo, hi, size=(n, len(lo)))])


def assert_fast_equals_full(problem, theta):
    assert problem.fast is not None, problem                  # the fast model is what is tested
    fast, full = problem.predict(theta), problem.predict_full(theta)
    kept = np.isfinite(full).all(axis=1)                      # rows outside an allowed range: NaN in both
    assert kept.sum() >= 4 and np.all(full[kept] > 0)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(full))
    np.testing.assert_allclose(fast[kept], full[kept], rtol=1e-10, atol=0.0)


def test_fast_model_equals_the_full_path_on_the_example_lab_data():
    f = nanocloak.load(EXAMPLE)
    lab = load_lab_data(ROOT / "examples" / "lab_data" / "rbc_plga_serial.csv", f)
    problem = problem_for(f, lab.frame)
    assert problem.names == [fitting.STEALTH, fitting.UPTAKE_ONSET]
    assert_fast_equals_full(problem, thetas(problem, 12, 1))


def test_fast_model_equals_the_full_path_for_organs_tumor_and_carcass_with_four_parameters():
    """A second case: the example's tumor-bearing mouse, organ and carcass ('rest' holds muscle too)
    data, both uptake capacities and both tumor parameters fitted."""
    f = nanocloak.load(EXAMPLE)
    assert f.subject.tumor is not None
    rows = [(t, m, 5.0) for t in (1.0, 4.0, 24.0, 48.0) for m in ("blood", "liver", "spleen", "tumor", "carcass")]
    frame = pd.DataFrame(rows, columns=["time_h", "matrix", "pct_id"])
    names = [fitting.LIVER_UPTAKE, fitting.SPLEEN_UPTAKE, "tumor.KTRESmax", "tumor.PATC"]
    problem = problem_for(f, frame, names)
    assert set(problem.obs.observables) == {"blood_sample", "liver", "spleen", "tumor", "rest"}
    assert_fast_equals_full(problem, thetas(problem, 8, 2))


def test_a_parameter_that_is_not_a_factor_of_the_arrays_keeps_the_full_path():
    """The particle's size feeds pore theory and size factors (not a power law): no fast model,
    and the fit's predictions are the full path's."""
    f = nanocloak.load(EXAMPLE)
    frame = pd.DataFrame({"time_h": [1.0, 24.0], "matrix": ["blood"] * 2, "pct_id": [50.0, 10.0]})
    problem = problem_for(f, frame, ["particle.hydrodynamic_diameter_nm"])
    assert problem.fast is None
    theta = problem.mu[None, :] + np.array([[0.0], [0.2]])
    np.testing.assert_array_equal(problem.predict(theta), problem.predict_full(theta))


def test_fast_model_counts_evaluations_and_refuses_what_resolution_refuses():
    f = nanocloak.load(EXAMPLE)
    frame = pd.DataFrame({"time_h": [1.0, 24.0], "matrix": ["blood"] * 2, "pct_id": [50.0, 10.0]})
    problem = problem_for(f, frame)
    n0 = problem.n_evaluations
    problem.predict(thetas(problem, 3, 3))
    assert problem.n_evaluations == n0 + 4
    with pytest.raises(nanocloak.errors.NanocloakError, match="allowed range"):
        problem.fast.check(np.array([[np.log(1e300), 0.0]]))
    assert np.isnan(problem.fast.predict(np.array([[np.log(1e300), 0.0]]))).all()


def test_vectorised_range_test_agrees_with_check_override():
    """The tumor permeability is a fraction (<= 1): its prior's search box reaches past the range."""
    f = nanocloak.load(EXAMPLE)
    frame = pd.DataFrame({"time_h": [1.0, 24.0], "matrix": ["tumor"] * 2, "pct_id": [2.0, 5.0]})
    problem = problem_for(f, frame, ["tumor.KTRESmax", "tumor.PATC"])
    theta = thetas(problem, 60, 4)
    accepted = problem.fast.accepted(theta)
    assert 0 < accepted.sum() < len(theta)
    for row, ok in zip(theta, accepted):
        try:
            problem.fast.check(row)
            checked = True
        except nanocloak.errors.NanocloakError:
            checked = False
        assert ok == checked
