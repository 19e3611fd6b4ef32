"""dose.route (issue 17; docs/routes.md): intratumoral, intraperitoneal and subcutaneous doses start in
a depot that empties first order (into the tumor's vessels, or via lymph into the venous blood)."""

import math

import numpy as np
import pytest

from nanocloak.errors import FormulationError, NanocloakError
from nanocloak.model import particle as wb
from nanocloak.model import particle_kernel
from nanocloak.model.parameters import particle_systems, resolve
from nanocloak.model.parameters.route import absorption_rate_per_h
from nanocloak.simulation.core import _plan, simulate, simulate_many
from nanocloak.solvers.rodas4 import integrate
from nanocloak.spec.formulation import from_dict

from conftest import make

TUMOR = {"species": "mouse", "body_weight_g": 20, "tumor": {"line": "4T1", "site": "orthotopic", "volume_mm3": 120}}
ROUTES = ("iv", "intratumoral", "intraperitoneal", "subcutaneous")


def _form(route, diameter=70, times=(0.0,), end_h=168.0):
    return from_dict(make(core={"material": "plga", "diameter_nm": diameter}, subject=TUMOR,
                          dose={"mg_per_kg": 5, "route": route, "times_h": list(times)}, end_h=end_h))


@pytest.fixture(scope="module")
def results():
    return {route: simulate(_form(route)) for route in ROUTES}


# ---- conservation ------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ROUTES)
def test_every_route_conserves_mass_with_the_depot_in_the_partition(results, route):
    r = results[route]
    # iv: exact to rounding; a depot's input by the method's quadrature (at a tenth of the tolerance)
    assert r.metrics["mass_balance_error"] < (1e-10 if route == "iv" else 1e-6)
    assert np.allclose(r.partition_sum()[1:], 100.0, rtol=1e-6)
    pct = r.to_dict()["timecourse"]["pct_id"]
    assert ("depot" in pct) == (route in ("intraperitoneal", "subcutaneous"))


def test_two_subcutaneous_doses_conserve_both():
    r = simulate(_form("subcutaneous", times=(0.0, 48.0)))
    assert r.metrics["mass_balance_error"] < 1e-6
    assert r.partition_sum()[-1] == pytest.approx(200.0, rel=1e-6)


def test_the_depot_empties_as_its_first_order_law(results):
    r = results["subcutaneous"]
    ps = r.resolved.params
    k = ps["route.depot_exit_rate_per_h"] + ps["particle.degradation_rate_per_h"]
    # (the grid's dose time holds the state just before the dose, as for iv)
    assert np.allclose(r.series["depot"][1:], 100.0 * np.exp(-k * r.t_h[1:]), rtol=1e-12)


# ---- the check and the orderings --------------------------------------------------------
def test_intratumoral_dose_keeps_at_least_half_in_the_tumor_at_1h(results):
    r = results["intratumoral"]
    assert float(np.interp(1.0, r.t_h, r.series["tumor"])) >= 50.0
    iv = results["iv"]
    assert r.metrics["tumor_pct_id_24h"] > 10 * iv.metrics["tumor_pct_id_24h"]


@pytest.mark.parametrize("route", ["intraperitoneal", "subcutaneous"])
def test_absorbed_routes_peak_later_and_expose_the_blood_no_more_than_iv(results, route):
    r, iv = results[route], results["iv"]
    iv_peak_t = iv.t_h[np.argmax(iv.series["blood_sample"])]
    assert r.metrics["blood_tmax_h"] > iv_peak_t + 1.0
    assert r.metrics["blood_auc_pct_id_h"] <= iv.metrics["blood_auc_pct_id_h"]
    assert r.metrics["blood_cmax_pct_id"] < float(np.max(iv.series["blood_sample"]))


@pytest.mark.parametrize("route", ["intratumoral", "intraperitoneal", "subcutaneous"])
def test_blood_half_life_stays_defined_for_absorption_limited_routes(results, route):
    m = results[route].metrics
    assert m["blood_t_half_h"] > 0 and math.isfinite(m["blood_t_half_h"])
    # the apparent terminal phase cannot decay faster than the depot feeding it (flip-flop kinetics)
    k = results[route].resolved.params["route.depot_exit_rate_per_h"]
    assert m["blood_t_half_h"] >= 0.5 * math.log(2) / k


def test_subcutaneous_absorption_slows_with_size_and_intraperitoneal_does_not():
    sc = [absorption_rate_per_h("subcutaneous", d)[0] for d in (40, 100, 300, 1000)]
    assert sc[0] > sc[1] > sc[2] > sc[3] > 0
    assert absorption_rate_per_h("intraperitoneal", 40)[0] == absorption_rate_per_h("intraperitoneal", 700)[0]


# ---- iv untouched ----------------------------------------------------------------------------------
def test_iv_starts_mixed_in_the_blood_with_no_depot(results):
    s = particle_systems(results["iv"].resolved)[0]
    art, ven, cap = wb.blood_shares(s)
    x0 = wb.initial_state(s)
    assert np.array_equal(x0[wb.ART], 100.0 * art) and np.array_equal(x0[wb.CAP0:wb.TIS0], 100.0 * cap)
    assert not np.any(s.depot0) and "route.depot_exit_rate_per_h" not in results["iv"].resolved.params
    assert "blood_tmax_h" not in results["iv"].metrics and "depot" not in results["iv"].series


def test_iv_results_do_not_depend_on_route_elements_in_the_same_batch():
    alone = simulate_many([_form("iv")])[0]
    mixed = simulate_many([_form("subcutaneous"), _form("iv"), _form("intratumoral")])[1]
    for key, series in alone.series.items():
        assert np.array_equal(series, mixed.series[key]), key


# ---- engines agree -------------------------------------------------------------------------------
def test_compiled_kernel_matches_the_numpy_reference_for_every_route():
    _, system, tau_out = _plan([resolve(_form(route, times=(0.0, 30.0))) for route in ROUTES])
    assert np.any(system.depot0 > 0)
    compiled = particle_kernel.integrate(system, tau_out, 1e-6, 1e-8)
    reference = integrate(wb.ParticleModel, system, wb.initial_state(system), tau_out, rtol=1e-6, atol=1e-8)
    assert np.array_equal(compiled.steps, reference.steps)
    ok = np.isfinite(reference.observations)
    assert np.allclose(compiled.observations[ok], reference.observations[ok], rtol=1e-7, atol=1e-8)


# ---- bad input -------------------------------------------------------------------------------------
def _problem(data):
    with pytest.raises(FormulationError) as err:
        from_dict(data)
    return " ".join(f"{p.path} {p.message}" for p in err.value.problems)


def test_intratumoral_without_a_tumor_is_refused_naming_the_field():
    text = _problem(make(dose={"mg_per_kg": 5, "route": "intratumoral"}))
    assert "dose.route" in text and "tumor" in text


def test_an_unknown_route_lists_the_allowed_ones():
    text = _problem(make(dose={"mg_per_kg": 5, "route": "oral"}))
    assert "dose.route" in text and "subcutaneous" in text and "intratumoral" in text


def test_depot_routes_refuse_payloads_and_free_drug():
    pays = [{"drug": "doxorubicin", "loading_wt_pct": 5}]
    assert "dose.route" in _problem(make(dose={"mg_per_kg": 5, "route": "subcutaneous"}, payloads=pays))
    free = make(core={"material": "free"}, dose={"mg_per_kg": 5, "route": "intraperitoneal", "basis": "drug"},
                payloads=[{"drug": "doxorubicin", "loading_wt_pct": 100}])
    assert "dose.route" in _problem(free)


def test_sbml_export_refuses_a_route_it_cannot_carry():
    from nanocloak.io.sbml import to_sbml

    with pytest.raises(NanocloakError, match="dose.route: subcutaneous"):
        to_sbml(_form("subcutaneous"))


def test_the_report_names_the_route_and_plots_the_depot(tmp_path):
    from nanocloak.io.report import write_outputs

    r = simulate(from_dict(make(dose={"mg_per_kg": 5, "route": "subcutaneous"})))
    out = write_outputs(r, tmp_path / "out")
    assert "5 mg/kg subcutaneous dose" in (out / "report.html").read_text()
    table = (out / "timecourse.csv").read_text()
    assert ",depot," in table
