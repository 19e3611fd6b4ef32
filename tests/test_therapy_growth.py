"""Growth that slows: Gompertz growth for lines with a sourced fit (model/therapy/growth.py), the
exponential-linear law, flagged assumed, for the others, and the humane-endpoint volume."""

import dataclasses
import math

import numpy as np
import pytest

import nanocloak
from nanocloak.model.therapy import growth
from nanocloak.spec.formulation import from_dict

from conftest import make

DAYS = np.linspace(0.0, 60.0, 121)


def _gompertz(capacity_mm3, rate_per_day, line="4T1"):
    return dataclasses.replace(growth.growth_parameters(line), capacity_mm3=capacity_mm3, gompertz_rate_per_day=rate_per_day,
                               assumed=False)


def test_lines_with_a_sourced_fit_grow_by_gompertz_and_the_rest_keep_their_law_flagged_assumed():
    llc = growth.growth_parameters("LLC")
    assert llc.law == "gompertz" and not llc.assumed and llc.capacity_mm3 > 0 and llc.gompertz_rate_per_day > 0
    t4 = growth.growth_parameters("4T1")
    assert t4.law == "exponential_linear" and t4.assumed
    assert t4.lambda0_per_day == pytest.approx(math.log(2.0) / t4.doubling_time_days)   # unchanged law and rate


def test_integrator_matches_the_analytic_gompertz_solution():
    p = growth.growth_parameters("LLC")
    for v0 in (50.0, 317.0, 5000.0):
        got = growth.simulate_growth(p, v0, DAYS * 24.0).volume_mm3
        exact = growth.gompertz_volume_mm3(v0, p.capacity_mm3, p.gompertz_rate_per_day, DAYS)
        np.testing.assert_allclose(got, exact, rtol=2e-5)


def test_gompertz_reduces_to_exponential_as_the_capacity_grows():
    """beta = lambda0 / ln(K / V0) keeps the initial specific rate lambda0; as K -> infinity the
    deceleration vanishes and V(t) -> V0 exp(lambda0 t)."""
    v0, lam0 = 100.0, math.log(2.0) / 2.5
    t = np.linspace(0.0, 5.0, 11)
    errors = []
    for k in (1e3, 1e6, 1e12, 1e24, 1e48):
        capacity = k * v0
        beta = lam0 / math.log(capacity / v0)
        got = growth.simulate_growth(_gompertz(capacity, beta), v0, t * 24.0).volume_mm3
        errors.append(float(np.max(np.abs(np.log(got) - (math.log(v0) + lam0 * t)))))
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.01


@pytest.mark.parametrize("v0_share", [1e-3, 0.3, 0.99])
def test_volume_never_exceeds_capacity_and_approaches_it(v0_share):
    capacity = 2000.0
    p = _gompertz(capacity, 0.15)
    v = growth.simulate_growth(p, v0_share * capacity, np.linspace(0.0, 400 * 24.0, 401)).volume_mm3
    assert np.all(v <= capacity * (1 + 1e-9))
    assert np.all(np.diff(v) >= -1e-6)                       # untreated: grows monotonically (to atol)
    assert v[-1] == pytest.approx(capacity, rel=1e-3)


def test_a_kill_impulse_shrinks_a_gompertz_tumor_below_the_untreated_one_and_never_above_capacity():
    capacity = 3000.0
    p = _gompertz(capacity, 0.1)
    t = np.linspace(0.0, 30 * 24.0, 61)
    control = growth.simulate_growth(p, 500.0, t).volume_mm3
    treated = growth.simulate_growth(p, 500.0, t, impulses=[(48.0, 0.9)]).volume_mm3
    assert np.all(treated <= control * (1 + 1e-6)) and treated[-1] < control[-1]
    assert np.all(treated <= capacity)


def test_humane_endpoint_is_the_guideline_sphere_and_reported_when_reached():
    assert growth.humane_endpoint_mm3("mouse") == pytest.approx(math.pi / 6 * 15.0**3)
    assert growth.humane_endpoint_mm3("human") is None
    tumor = {"species": "mouse", "body_weight_g": 20, "tumor": {"line": "LLC", "volume_mm3": 100}}
    long, short = nanocloak.simulate_many([from_dict(make(subject=tumor, end_h=20 * 24.0)),
                                           from_dict(make(subject=tumor, end_h=5 * 24.0))])
    p = growth.growth_parameters("LLC")
    # untreated Gompertz: the analytic crossing time of the endpoint volume
    endpoint = growth.humane_endpoint_mm3("mouse")
    exact = -math.log(math.log(endpoint / p.capacity_mm3) / math.log(100.0 / p.capacity_mm3)) / p.gompertz_rate_per_day
    assert long.metrics["days_to_endpoint_volume_control"] == pytest.approx(exact, rel=2e-3)
    assert long.metrics["days_to_endpoint_volume"] == pytest.approx(long.metrics["days_to_endpoint_volume_control"])
    assert long.metrics["tumor_growth_law_assumed"] is False
    assert "days_to_endpoint_volume" not in short.metrics          # not reached within end_h: absent
