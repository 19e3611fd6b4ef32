"""Sonodynamic therapy, glucose oxidase starvation and the one tumor oxygen state (issue 17,
docs/therapy.md "Tumor oxygen" and "Sonodynamic therapy")."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import nanocloak
from nanocloak.errors import FormulationError
from nanocloak.model.therapy import oxygen, photodynamic, sonodynamic
from nanocloak.spec.formulation import Ultrasound, from_dict

ROOT = Path(__file__).resolve().parents[1]


def design(payloads, ultrasound=(), membrane="rbc", mg_per_kg=10.0, line="CT26"):
    return from_dict({
        "nanocloak": 1, "name": "t", "core": {"material": "plga", "diameter_nm": 100},
        "surface": {"kind": "membrane", "membrane": {"sources": [{"cell": membrane}], "method": "coextrusion"}},
        "payloads": payloads, "dose": {"mg_per_kg": mg_per_kg},
        "subject": {"species": "mouse", "body_weight_g": 20, "tumor": {"line": line, "volume_mm3": 100}},
        "treatment": {"ultrasound": list(ultrasound)}, "simulate": {"end_h": 240}})


US = {"at_h": 24, "duration_min": 5, "intensity_W_per_cm2": 1.5, "frequency_MHz": 1.0}
HP = {"drug": "hematoporphyrin", "loading_wt_pct": 10}


@pytest.fixture(scope="module")
def sdt_run():
    return nanocloak.simulate(design([HP], [US]))


def test_no_sensitiser_no_sdt_kill():
    r = nanocloak.simulate(design([{"drug": "tirapazamine", "loading_wt_pct": 5}], [US]))
    assert [d.ros_mM for d in r.therapy.sdt] == [0.0]
    assert r.therapy.sdt[0].kill_fraction == 0.0
    assert r.therapy.sdt[0].absorbed_J > 0             # the sound is absorbed, but nothing turns it into ROS
    assert "sdt_ros_mM" not in r.metrics


def test_sensitiser_under_ultrasound_kills(sdt_run):
    m = sdt_run.metrics
    assert m["sdt_ros_mM"] > 0 and 0 < m["sdt_kill_fraction"] < 1
    assert m["tgi_pct"] > 0
    quiet = nanocloak.simulate(design([HP]))             # the same sensitiser without ultrasound
    assert "sdt_ros_mM" not in quiet.metrics and abs(quiet.metrics["tgi_pct"]) < 1e-9


def test_more_ultrasound_more_kill(sdt_run):
    f = sdt_run.resolved.formulation
    sens = sonodynamic.sensitisers_mM(sdt_run, 24.0, 100.0)
    po2 = oxygen.baseline_po2_mmHg(f)
    kills = [sonodynamic.ros_dose(f, Ultrasound(at_h=24, duration_min=d, intensity_W_per_cm2=i), 100.0, sens, po2).kill_fraction
             for i, d in ((0.5, 5), (1.0, 5), (2.0, 5), (2.0, 10), (3.0, 10))]
    assert all(b > a for a, b in zip(kills, kills[1:]))
    louder = nanocloak.simulate(design([HP], [dict(US, intensity_W_per_cm2=3.0)]))
    assert louder.metrics["sdt_kill_fraction"] > sdt_run.metrics["sdt_kill_fraction"]
    assert louder.metrics["tgi_pct"] > sdt_run.metrics["tgi_pct"]


def test_absorbed_energy_analytic_and_frequency():
    f = design([HP], [US])
    us = f.treatment.ultrasound[0]
    r_cm = (3 * 100.0 / (4 * math.pi)) ** (1 / 3) / 10
    a_t, a_s = 0.75 / 8.685889638, 0.35 / 8.685889638        # Np/cm at 1 MHz (therapy.yaml)
    expected = 1.5 * math.pi * r_cm**2 * math.exp(-2 * a_s * 0.05) * (1 - math.exp(-2 * a_t * 4 * r_cm / 3)) * 300
    assert sonodynamic.absorbed_energy_J(f, us, 100.0) == pytest.approx(expected, rel=1e-9)
    energies = [sonodynamic.absorbed_energy_J(f, us.model_copy(update={"frequency_MHz": mhz}), 100.0) for mhz in (0.5, 1, 3)]
    assert energies[0] < energies[1] < energies[2]          # absorption grows with frequency


def test_frequency_validated():
    with pytest.raises(FormulationError, match="frequency_MHz"):
        design([HP], [dict(US, frequency_MHz=20)])
    assert design([HP], [{"at_h": 24, "duration_min": 5}]).treatment.ultrasound[0].frequency_MHz == 1.0


def test_no_gox_oxygen_unchanged():
    r = nanocloak.simulate(design([{"drug": "tirapazamine", "loading_wt_pct": 5}]))
    st = r.therapy.oxygen
    assert not st.has_gox
    assert np.all(st.po2_mmHg == st.baseline_po2_mmHg) and np.all(st.glucose_fraction == 1.0)
    assert r.metrics["tumor_po2_mmHg_min"] == r.metrics["tumor_po2_mmHg_baseline"]
    assert r.metrics["tumor_h2o2_extra_uM_max"] == 0.0


def test_gox_lowers_oxygen_and_raises_tirapazamine_kill():
    tpz = {"drug": "tirapazamine", "loading_wt_pct": 5}
    alone = nanocloak.simulate(design([tpz], mg_per_kg=50))
    both = nanocloak.simulate(design([tpz, {"drug": "glucose_oxidase", "loading_wt_pct": 20}], mg_per_kg=50))
    a, b = alone.metrics, both.metrics
    assert b["tumor_po2_mmHg_min"] < a["tumor_po2_mmHg_min"]
    assert b["tumor_glucose_fraction_min"] < 1.0 and b["tumor_h2o2_extra_uM_max"] > 0
    assert b["tirapazamine_activation_max"] > a["tirapazamine_activation_max"]
    assert b["tgi_pct"] > a["tgi_pct"] > 0


def test_gox_steady_state_balances_and_orders():
    s = oxygen.supply(10.0)
    e = np.array([0.0, 0.01, 1.0, 10.0, 100.0])
    v = oxygen.gox_rate_uM_per_s(e, s)
    g, c = s.g0_uM - v / s.k_g_per_s, s.c0_uM - v / s.k_o2_per_s
    kcat, km_g, km_o = oxygen.gox_constants()
    # Michaelis-Menten consumption = the supply's deficit, glucose and O2 one to one (the reaction's stoichiometry)
    assert np.allclose(kcat * e * g / (km_g + g) * c / (km_o + c), v, rtol=1e-9, atol=1e-15)
    assert v[0] == pytest.approx(0.0, abs=1e-15)
    assert np.all(np.diff(v) > 0) and np.all(c > 0) and np.all(g > 0)
    assert c[-1] / oxygen.solubility_uM_per_mmHg() < 10.0 * 0.9   # a large enzyme load makes the tumor hypoxic


def test_hypoxia_lowers_photodynamic_and_sonodynamic_dose(sdt_run):
    f = sdt_run.resolved.formulation
    assert photodynamic.oxygen_availability(f, 2.0) < photodynamic.oxygen_availability(f, 10.0)
    sens = sonodynamic.sensitisers_mM(sdt_run, 24.0, 100.0)
    us = f.treatment.ultrasound[0]
    assert sonodynamic.ros_dose(f, us, 100.0, sens, 2.0).ros_mM < sonodynamic.ros_dose(f, us, 100.0, sens, 10.0).ros_mM
    assert oxygen.activation_factor("tirapazamine", 0.0) == pytest.approx(120.0)
    assert oxygen.activation_factor("tirapazamine", 2.0) > oxygen.activation_factor("tirapazamine", 10.0) > 1.0


def test_ultrasound_release_trigger_still_acts():
    trig = dict(HP, release={"model": "first_order", "params": {"k_per_h": 0.01},
                             "triggers": [{"kind": "ultrasound", "factor": 20}]})
    on = nanocloak.simulate(design([trig], [dict(US, duration_min=30)]))
    off = nanocloak.simulate(design([trig]))
    assert on.metrics["tumor_free_drug_auc_ug_h_per_g"] > off.metrics["tumor_free_drug_auc_ug_h_per_g"]


@pytest.mark.parametrize("name", ["sonodynamic.yaml", "starvation_gox.yaml"])
def test_examples_run(name):
    r = nanocloak.simulate(nanocloak.load(ROOT / "examples" / name))
    assert "tumor_po2_mmHg_min" in r.metrics or "sdt_ros_mM" in r.metrics


def test_sbml_refuses_with_a_message():
    from nanocloak.io import sbml

    with pytest.raises(sbml.SbmlExportError, match="treatment.ultrasound: sonodynamic"):
        sbml.to_sbml(nanocloak.load(ROOT / "examples" / "sonodynamic.yaml"))
    with pytest.raises(sbml.SbmlExportError, match="payloads: glucose_oxidase"):
        sbml.to_sbml(nanocloak.load(ROOT / "examples" / "starvation_gox.yaml"))
    with pytest.raises(sbml.SbmlExportError, match="payloads: tirapazamine"):
        sbml.to_sbml(design([{"drug": "tirapazamine", "loading_wt_pct": 5}]))


def test_report_words_and_units(sdt_run):
    from nanocloak.io import report

    text = " ".join(report.summary_text(sdt_run))
    assert "Sonodynamic:" in text and f"{sdt_run.metrics['sdt_ros_mM']:.3g} mM" in text
    assert report.metric_unit("tumor_po2_mmHg_min") == "mmHg"
    assert report.metric_unit("tumor_h2o2_extra_uM_max") == "uM"
    assert report.metric_unit("sdt_ros_mM") == "mM"
    assert report.metric_unit("sdt_absorbed_acoustic_J") == "J"


def test_ros_trigger_crossing_is_flagged():
    trig = {"drug": "tirapazamine", "loading_wt_pct": 5, "release": {
        "model": "first_order", "params": {"k_per_h": 0.05},
        "triggers": [{"kind": "ros", "factor": 5, "threshold": 10.0 + 1e-6}]}}
    gox = {"drug": "glucose_oxidase", "loading_wt_pct": 20}
    m = nanocloak.simulate(design([trig, gox], mg_per_kg=50)).metrics
    assert m["tumor_ros_relative_max"] > 10.0 and m["ros_trigger_crossed_by_gox"] is True
    m = nanocloak.simulate(design([trig], mg_per_kg=50)).metrics
    assert m["ros_trigger_crossed_by_gox"] is False
