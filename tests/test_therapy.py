"""Therapy and outcome: growth, photothermal heating, kill bookkeeping, and the orderings the seeds report."""


import numpy as np
import pytest

import nanocloak
from nanocloak.model.therapy import photothermal
from nanocloak.model.therapy import growth as tumor_growth
from nanocloak.spec.formulation import from_dict

from conftest import ROOT, make

AUNC = ROOT / "examples" / "gold_nanocage_4t1_nir.yaml"


def _variant(change, end_h=336.0):
    d = nanocloak.load(AUNC).model_dump(mode="json", exclude_none=True)
    d["simulate"] = {"end_h": end_h}
    change(d)
    return from_dict(d)


@pytest.fixture(scope="module")
def arms():
    forms = {
        "ptt+chemo": _variant(lambda d: None),
        "chemo": _variant(lambda d: d["treatment"].update(lasers=[])),
        "ptt": _variant(lambda d: d.pop("payloads")),
        "plga+laser": _variant(lambda d: (d["core"].update(material="plga"), d.pop("payloads"))),
        "untreated": _variant(lambda d: (d.pop("payloads"), d["treatment"].update(lasers=[]))),
    }
    free = nanocloak.load(ROOT / "examples" / "free_doxorubicin.yaml").model_dump(mode="json", exclude_none=True)
    free["simulate"] = {"end_h": 336.0}
    free["subject"]["tumor"]["site"] = "subcutaneous"
    free["dose"]["mg_per_kg"] = 10 * 10 / 90        # the doxorubicin the nanocages carry (10 mg/kg, 10 wt%)
    forms["free"] = from_dict(free)
    return dict(zip(forms, nanocloak.simulate_many(list(forms.values()))))


@pytest.mark.xfail(strict=True, reason="calibration evidence-2026-12-02-023910d5-b67908 (docs/calibration.md) leaves fewer membrane-coated "
                   "nanocages in the tumor: the peak is 44.1 C, just under the 45-60 C such experiments report; a "
                   "finding; strict, so a model that reproduces it again fails here until the mark goes")
def test_gold_nanocages_heat_the_tumor_into_the_photothermal_range(arms):
    """Membrane-coated gold photothermal agents at ~10 mg/kg and 808 nm 1 W/cm2 for 5 min heat
    tumors to ~45-60 C (e.g. Chen J et al. 2010 Small 6:811 nanocages; Sun H et al. 2017 Adv Funct
    Mater 27:1604300); saline or non-absorbing carriers under the same light stay below ~40 C."""
    assert 45.0 <= arms["ptt+chemo"].metrics["tumor_temperature_max_C"] <= 60.0
    assert arms["plga+laser"].metrics["tumor_temperature_max_C"] < 40.0


def test_seed_orderings(arms):
    tgi = {k: r.metrics["tgi_pct"] for k, r in arms.items()}
    assert tgi["ptt+chemo"] > tgi["chemo"]            # the laser adds to the same formulation
    assert tgi["ptt+chemo"] > tgi["free"]             # and beats the free drug
    assert tgi["ptt+chemo"] > tgi["ptt"]              # chemo + PTT beats each alone
    assert tgi["ptt"] > tgi["plga+laser"]


def test_untreated_arm_grows_with_the_lines_doubling_time(arms):
    td = tumor_growth.growth_parameters("4T1").doubling_time_days
    assert arms["untreated"].metrics["days_to_2x_volume"] == pytest.approx(td, rel=0.03)
    assert arms["untreated"].metrics["tgi_pct"] == pytest.approx(0.0, abs=1e-6)


def test_no_heating_without_light_and_no_kill_without_drug_or_heat():
    quiet = nanocloak.simulate(from_dict(make(core={"material": "gold_nanocage", "diameter_nm": 60},
                                              subject={"species": "mouse", "tumor": {"line": "4T1"}})))
    assert "tumor_temperature_max_C" not in quiet.metrics
    assert np.allclose(quiet.therapy.treated_mm3, quiet.therapy.control_mm3)
    assert quiet.metrics["tgi_pct"] == pytest.approx(0.0, abs=1e-9)


def test_heat_balance_bookkeeping():
    """Without absorbers only the tissue's own absorption heats, and zero thermal dose kills nothing."""
    f = nanocloak.load(AUNC)
    laser = f.treatment.lasers[0]
    none = photothermal.heat(f, laser, 100.0, photothermal.Absorbers(0.0, {}))
    loaded = photothermal.heat(f, laser, 100.0, photothermal.Absorbers(0.02, {}))
    assert loaded.budget.heat_tumor_W > 3 * none.budget.heat_tumor_W > 0
    assert loaded.tumor_max_C > none.tumor_max_C
    assert photothermal.thermal_kill_fraction(0.0) == 0.0
    # after the light the tumor cools back toward body temperature
    assert loaded.tumor_C[-1] < loaded.tumor_max_C - 5


def test_cem43_of_a_constant_temperature():
    t = np.linspace(0, 1, 61)                      # one hour
    assert photothermal.cem43(t, np.full(t.size, 43.0)) == pytest.approx(60.0)
    assert photothermal.cem43(t, np.full(t.size, 44.0)) == pytest.approx(120.0)


def test_metrics_follow_the_spec_definitions(arms):
    r = arms["ptt+chemo"]
    v0 = 100.0
    m = r.metrics
    expected = 100 * (1 - (m["tumor_volume_mm3_end"] - v0) / (m["control_tumor_volume_mm3_end"] - v0))
    assert m["tgi_pct"] == pytest.approx(expected)
    doc = r.to_dict()
    assert "days_to_2x_volume" in doc["metrics"]
    assert {"tumor_volume_mm3_end", "tgi_pct", "tumor_temperature_max_C", "skin_temperature_max_C"} <= set(doc["metrics"])


def test_days_to_double_is_null_when_the_tumor_never_doubles():
    from nanocloak.model.therapy.outcome import TherapyResult, therapy_metrics

    t = np.linspace(0, 168, 20)
    th = TherapyResult(t, np.full(t.size, 90.0), 100 * 2 ** (t / 60), doubling_time_days=2.5)
    assert therapy_metrics(th, 100.0)["days_to_2x_volume"] is None


def test_heat_opens_tumor_vessels_only_above_mild_hyperthermia(arms):
    r = arms["ptt+chemo"]
    assert r.resolved.heat_windows and r.resolved.heat_windows[0][2] > 1.0
    assert not arms["plga+laser"].resolved.heat_windows


def test_chemotherapy_kill_follows_the_unbound_tumor_drug():
    """The IC50 is a medium (unbound) concentration, so the kill uses fu_p x C_tissue / Kp_tumor
    (docs/therapy.md); one 5 mg/kg free doxorubicin dose then leaves a 4T1 tumor growing (issue 14:
    4T1 responds poorly to doxorubicin), and the tumor still grows less than untreated."""
    from nanocloak.library import tables as library
    from nanocloak.model import drug as drug_pbpk

    d = library.entry("drugs", "doxorubicin")
    expected = library.value(d["fraction_unbound_plasma"]) / library.value(d["partition_coefficients"]["tumor"])
    assert drug_pbpk.tumor_unbound_fraction("doxorubicin") == pytest.approx(expected)
    assert 0.0 < expected < 0.1
    r = nanocloak.simulate(nanocloak.load(ROOT / "examples" / "free_doxorubicin.yaml"))
    m = r.metrics
    assert 100.0 < m["tumor_volume_mm3_end"] < m["control_tumor_volume_mm3_end"]
    assert 0.0 < m["tgi_pct"] < 50.0

