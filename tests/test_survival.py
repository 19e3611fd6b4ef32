"""Survival of a virtual cohort (model/therapy/survival.py): the Kaplan-Meier median of the times
at which each animal's tumor reaches the humane endpoint, treated and untreated."""

import math
from pathlib import Path

import numpy as np
import pytest

import nanocloak
from nanocloak.evidence.studies import load_base
from nanocloak.io.report import figure_caption, metric_unit, report_figures
from nanocloak.model.therapy import growth, survival
from nanocloak.spec.formulation import load

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ENDPOINT = growth.humane_endpoint_mm3("mouse")


def _decaying_kill(peak_per_day: float, half_life_h: float = 24.0, end_h: float = 168.0):
    t = np.linspace(0.0, end_h, 85)
    return t, peak_per_day * np.exp(-math.log(2.0) / half_life_h * t)


def test_growth_factors_are_lognormal_quantiles_of_median_one_and_the_stated_cv():
    a = survival.growth_factors(2000, 0.3)
    assert np.all(np.diff(a) > 0)
    assert np.median(a) == pytest.approx(1.0, rel=1e-3)
    assert np.std(a) / np.mean(a) == pytest.approx(0.3, rel=0.02)
    assert np.all(survival.growth_factors(7, 0.0) == 1.0)


def test_km_median_is_the_middle_death_and_null_when_more_than_half_are_censored():
    assert survival.km_median(np.array([3.0, 1.0, 2.0, math.inf])) == 2.0      # S(2) = 2/4 <= 1/2
    assert survival.km_median(np.array([1.0, 2.0, 3.0])) == 2.0
    assert survival.km_median(np.array([1.0, math.inf, math.inf])) is None
    t, alive = survival.km_curve(np.array([2.0, 1.0, math.inf, math.inf]), 10.0)
    np.testing.assert_allclose(t, [0.0, 1.0, 2.0, 10.0])
    np.testing.assert_allclose(alive, [1.0, 0.75, 0.5, 0.5])


def test_without_spread_the_median_is_the_analytic_gompertz_endpoint_time():
    p = growth.growth_parameters("LLC")
    s = survival.cohort_survival(p, 100.0, ENDPOINT, 168.0, n=50, cv=0.0)
    exact = -math.log(math.log(ENDPOINT / p.capacity_mm3) / math.log(100.0 / p.capacity_mm3)) / p.gompertz_rate_per_day
    assert s.median_untreated_d == pytest.approx(exact, rel=1e-4)
    assert s.median_d == s.median_untreated_d                   # no drug: the treated arm is the untreated one


def test_without_spread_the_median_is_the_analytic_exponential_time_and_spread_rescales_time_exactly():
    p = growth.growth_parameters("4T1")                         # exponential-linear law
    endpoint = 300.0                                            # far below the linear phase (~1 g): exponential
    s = survival.cohort_survival(p, 50.0, endpoint, 168.0, n=20, cv=0.0)
    assert s.median_untreated_d == pytest.approx(math.log(endpoint / 50.0) / p.lambda0_per_day, rel=1e-5)
    spread = survival.cohort_survival(p, 50.0, ENDPOINT, 168.0, n=40, cv=0.3)
    # time rescaling: T_i a_i is one number, that of the median-rate tumor's direct simulation
    t = np.linspace(0.0, 120 * 24.0, 2881)
    direct = survival.first_crossing_days(t, growth.simulate_growth(p, 50.0, t).volume_mm3, ENDPOINT)
    np.testing.assert_allclose(spread.control_days * spread.growth_factors, direct, rtol=1e-4)


def test_with_a_drug_and_no_spread_the_median_is_the_single_tumors_endpoint_time():
    p = growth.growth_parameters("4T1")
    kill = _decaying_kill(1.0)
    s = survival.cohort_survival(p, 100.0, ENDPOINT, 168.0, kill=kill, n=30, cv=0.0)
    t = np.linspace(0.0, 120 * 24.0, 5761)
    tail, _ = survival.extend_kill(kill, 168.0, t[-1])
    direct = survival.first_crossing_days(t, growth.simulate_growth(p, 100.0, t, tail).volume_mm3, ENDPOINT)
    assert s.median_d == pytest.approx(direct, rel=2e-3)
    assert s.median_d > s.median_untreated_d


def test_median_survival_increases_with_the_cytotoxic_exposure():
    p = growth.growth_parameters("4T1")
    medians = [survival.cohort_survival(p, 100.0, ENDPOINT, 168.0, kill=_decaying_kill(k)).median_d
               for k in (0.0, 0.3, 0.6, 1.2)]
    assert all(b > a for a, b in zip(medians, medians[1:])), medians


def test_the_kill_rate_continues_by_its_own_decay_past_the_simulated_end():
    kill = _decaying_kill(2.0, half_life_h=30.0)
    (t, k), truncated = survival.extend_kill(kill, 168.0, 2000.0)
    assert not truncated and t[-1] == 2000.0
    beyond = (t > 168.0) & (k > 0)
    np.testing.assert_allclose(k[beyond], 2.0 * np.exp(-math.log(2.0) / 30.0 * t[beyond]), rtol=1e-9)
    (_, k_flat), truncated = survival.extend_kill((np.array([0.0, 168.0]), np.array([1.0, 1.0])), 168.0, 2000.0)
    assert truncated and k_flat[-1] == 0.0                      # not decaying: cut at the end, and said so


def test_interpolated_animals_match_integrated_ones_and_the_median_is_exact():
    a = survival.growth_factors(200, 0.25)
    calls = []

    def days(x):
        calls.append(x)
        return 20.0 / x**1.3 + 2.0 / x

    got = survival._treated_days(days, a)
    assert len(calls) < 30
    np.testing.assert_allclose(got, 20.0 / a**1.3 + 2.0 / a, rtol=1e-4)
    assert survival.km_median(got) == survival.km_median(20.0 / a**1.3 + 2.0 / a)
    calls.clear()
    wiggly = survival._treated_days(lambda x: calls.append(x) or 10.0 + math.sin(20 * x), a)   # not monotone
    assert len(calls) == 200 and wiggly[5] == 10.0 + math.sin(20 * a[5])


def test_censoring_gives_a_null_median_and_says_why():
    p = growth.growth_parameters("4T1")
    s = survival.cohort_survival(p, 100.0, ENDPOINT, 48.0, follow_up_days=5.0)
    m = survival.survival_metrics(s, "mouse")
    assert s.median_d is None and m["survival_median_d"] is None and m["survival_median_untreated_d"] is None
    assert m["survival_censored_fraction"] == 1.0 and "not reached" in m["survival_note"]
    capped = survival.cohort_survival(growth.growth_parameters("LLC"), 100.0, 1e6, 48.0)   # beyond the capacity K
    assert capped.median_untreated_d is None and np.all(np.isinf(capped.control_days))


def test_humans_get_a_null_survival_with_the_reason_and_their_evidence_rows_are_unusable_for_it():
    m = survival.survival_metrics(None, "human")
    assert m["survival_median_d"] is None and m["survival_note"] == survival.NO_ENDPOINT_REASON
    human = [p for s in load_base() for p in s.points if p.m.observable == "survival_median_d"
             and s.formulations.get(p.m.arm) is not None and s.formulations[p.m.arm].subject.species == "human"]
    assert human and all(not p.usable for p in human)
    reasons = {p.reason for p in human}
    assert survival.NO_ENDPOINT_REASON in reasons and not any("not modelled yet" in r for r in reasons)


def test_a_simulated_mouse_reports_cohort_medians_ordered_by_dose_and_a_kaplan_meier_figure():
    base = load(EXAMPLES / "free_doxorubicin.yaml")
    low, high = base.model_copy(deep=True), base.model_copy(deep=True)
    low.dose.mg_per_kg, high.dose.mg_per_kg = 1.0, 8.0
    r_low, r_high = nanocloak.simulate_many([low, high])
    assert r_low.metrics["survival_median_untreated_d"] == pytest.approx(r_high.metrics["survival_median_untreated_d"])
    assert r_low.metrics["survival_median_untreated_d"] < r_low.metrics["survival_median_d"] < r_high.metrics["survival_median_d"]
    assert r_high.metrics["survival_cohort_size"] == survival.survival_constant("cohort_size")
    assert "survival.png" in report_figures(r_high)
    assert "Kaplan-Meier" in figure_caption(r_high, "survival.png")
    assert metric_unit("survival_median_d") == "days" and metric_unit("survival_median_untreated_d") == "days"


def test_the_cohorts_treated_times_match_each_animal_integrated_to_the_follow_up():
    p = growth.growth_parameters("4T1")
    kill = _decaying_kill(1.5, half_life_h=40.0)
    s = survival.cohort_survival(p, 80.0, ENDPOINT, 168.0, kill=kill, n=60, cv=0.35)
    t = np.linspace(0.0, s.follow_up_days * 24.0, int(s.follow_up_days * 2) + 1)
    tail, _ = survival.extend_kill(kill, 168.0, t[-1])
    brute = [survival.first_crossing_days(t, growth.simulate_growth(survival.scaled(p, a), 80.0, t, tail).volume_mm3,
                                          ENDPOINT) for a in s.growth_factors]
    np.testing.assert_allclose(s.treated_days, brute, rtol=1e-3)
    assert s.median_d == pytest.approx(survival.km_median(np.array(brute)), rel=1e-6)


def test_monotone_cubic_is_scipys_pchip():
    from scipy.interpolate import PchipInterpolator

    rng = np.random.default_rng(3)
    for _ in range(20):
        x = np.sort(rng.uniform(-2, 2, rng.integers(3, 14)))
        x = np.unique(x)
        if x.size < 3:
            continue
        y = np.cumsum(rng.normal(size=x.size)) if rng.random() < 0.5 else -np.cumsum(rng.uniform(0, 1, x.size))
        xq = np.linspace(x[0], x[-1], 97)
        np.testing.assert_allclose(survival.monotone_cubic(x, y, xq), PchipInterpolator(x, y)(xq), rtol=1e-10, atol=1e-12)

