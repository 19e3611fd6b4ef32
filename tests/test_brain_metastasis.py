"""Brain tumors behind the blood-brain barrier, neutrophil membranes into a resected glioma, and
lung metastases seeded by circulating tumor cells that platelet / neutrophil coats capture (issue 17)."""

import math

import numpy as np
import pytest

from nanocloak.errors import FormulationError
from nanocloak.io.sbml import SbmlExportError, to_sbml
from nanocloak.model.therapy import metastasis
from nanocloak.simulation.core import simulate
from nanocloak.spec.formulation import from_dict

PEG = {"kind": "peg"}
PLATELET = {"kind": "membrane", "membrane": {"sources": [{"cell": "platelet"}], "method": "sonication"}}
NEUTROPHIL = {"kind": "membrane", "membrane": {"sources": [{"cell": "neutrophil"}], "method": "sonication"}}


def form(surface, tumor=None, end_h=48.0):
    d = {"nanocloak": 1, "name": "t", "core": {"material": "plga", "diameter_nm": 100}, "surface": surface,
         "dose": {"mg_per_kg": 5}, "subject": {"species": "mouse"}, "simulate": {"end_h": end_h}}
    if tumor is not None:
        d["subject"]["tumor"] = tumor
    return from_dict(d)


def glioma(**kw):
    return {"line": "GL261", "site": "brain", **kw}


def tumor_24h(f) -> float:
    return simulate(f).metrics["organ_pct_id_24h"]["tumor"]


# --- validation -------------------------------------------------------------------------------

def test_brain_tumor_defaults_to_a_disrupted_bbb():
    assert form(PEG, glioma()).subject.tumor.bbb == "disrupted"
    # a brain cancer type at another site is a brain tumor too
    assert form(PEG, {"line": "GL261", "site": "orthotopic"}).subject.tumor.bbb == "disrupted"
    assert form(PEG, {"line": "4T1"}).subject.tumor.bbb is None


@pytest.mark.parametrize("field,value", [("bbb", "intact"), ("post_surgical", True)])
def test_brain_fields_refused_for_other_tumors(field, value):
    with pytest.raises(FormulationError) as e:
        form(PEG, {"line": "4T1", field: value})
    assert f"tumor.{field}" in str(e.value) and "brain" in str(e.value)


def test_bbb_value_outside_its_choices_names_the_field():
    with pytest.raises(FormulationError) as e:
        form(PEG, glioma(bbb="leaky"))
    assert "bbb" in str(e.value) and "intact" in str(e.value)


def test_metastases_block_refuses_unknown_organs():
    with pytest.raises(FormulationError) as e:
        form(PEG, {"line": "4T1", "metastases": {"liver": True}})
    assert "metastases" in str(e.value) and "liver" in str(e.value)


# --- blood-brain barrier -----------------------------------------------------------------------

def test_intact_bbb_gives_less_tumor_than_disrupted():
    intact, disrupted = tumor_24h(form(PEG, glioma(bbb="intact"))), tumor_24h(form(PEG, glioma(bbb="disrupted")))
    assert 0 < intact < 0.5 * disrupted


def test_intact_bbb_factor_is_the_brain_bed_over_the_tumor_bed():
    f = simulate(form(PEG, glioma(bbb="intact"))).resolved.params
    assert 0 < f["effect.tumor.bbb_factor"] < 1e-2       # tight junctions: transcytosis only
    assert simulate(form(PEG, glioma())).resolved.params["effect.tumor.bbb_factor"] == 1.0


def test_inflamed_glioma_draws_neutrophil_membranes_only():
    plain, resected = tumor_24h(form(NEUTROPHIL, glioma())), tumor_24h(form(NEUTROPHIL, glioma(post_surgical=True)))
    assert resected > 1.1 * plain
    # no effect without the agent: a PEG particle does not sense the inflammation
    assert tumor_24h(form(PEG, glioma(post_surgical=True))) == pytest.approx(tumor_24h(form(PEG, glioma())), rel=1e-9)


# --- lung metastases ---------------------------------------------------------------------------

def test_platelet_membranes_lower_lung_metastases_vs_peg():
    tumor = {"line": "4T1", "metastases": {"lung": True}}
    peg, plt = simulate(form(PEG, tumor)).metrics, simulate(form(PLATELET, tumor)).metrics
    assert 0 < plt["lung_metastases_count"] < peg["lung_metastases_count"]
    assert plt["ctc_captured_fraction"] > 0 == peg["ctc_captured_fraction"]
    assert peg["lung_metastases_count"] == pytest.approx(peg["lung_metastases_count_control"], rel=1e-9)
    assert any("ctc_capture_affinity" in a for a in plt["lung_metastases_assumptions"])
    assert isinstance(peg["lung_metastases_assumptions"], list) and peg["lung_metastases_assumptions"]


def test_no_tumor_or_no_metastases_block_no_metric():
    assert "lung_metastases_count" not in simulate(form(PLATELET)).metrics
    assert "lung_metastases_count" not in simulate(form(PLATELET, {"line": "4T1"})).metrics


def test_ctc_balance_conserves_cells():
    t = np.linspace(0, 72, 145)
    tumor_g = 0.1 * np.exp(t / 100.0)
    particle = 0.05 * np.exp(-t / 10.0)
    b = metastasis.ctc_balance(t, tumor_g, particle, 1.0)
    assert b.n0 + b.shed == pytest.approx(b.captured + b.cleared + b.n_end, rel=1e-12)
    assert b.captured > 0


def test_ctc_steady_state_analytic():
    """Constant tumor, no capture: the pool stays at S / k_clear and everything shed is cleared."""
    t = np.linspace(0, 48, 7)
    m_g = 0.2
    b = metastasis.ctc_balance(t, np.full_like(t, m_g), np.zeros_like(t), 0.0)
    shed = metastasis.constant("ctc", "shedding_cells_per_g_per_day") / 24.0 * m_g * 48.0
    eta = metastasis.constant("ctc", "metastasis_per_arrested_cell") * metastasis.constant("ctc", "lung_arrest_fraction")
    assert b.n_end == pytest.approx(b.n0, rel=1e-12)
    assert b.cleared == pytest.approx(shed, rel=1e-12)
    assert b.metastases == pytest.approx(eta * shed, rel=1e-12)
    assert b.n0 == pytest.approx(shed / 48.0 * metastasis.constant("ctc", "half_life_h") / math.log(2.0), rel=1e-12)


# --- export ------------------------------------------------------------------------------------

def test_sbml_refuses_metastases_and_exports_bbb():
    with pytest.raises(SbmlExportError) as e:
        to_sbml(form(PLATELET, {"line": "4T1", "metastases": {"lung": True}}))
    assert "subject.tumor.metastases" in str(e.value)
    assert "<sbml" in to_sbml(form(PEG, glioma(bbb="intact")))


# --- app ---------------------------------------------------------------------------------------

def test_app_form_round_trips_the_new_fields():
    from nanocloak.app import formspec
    from nanocloak.app.backend import validate

    doc = form(NEUTROPHIL, glioma(bbb="intact", post_surgical=True, metastases={"lung": True})).model_dump(
        mode="json", exclude_none=True)
    values = formspec.doc_to_values(doc)
    assert values["subject.tumor.bbb"] == "intact"
    back, problems = validate(formspec.values_to_doc(values, doc))
    assert not problems
    t = back.subject.tumor
    assert (t.bbb, t.post_surgical, t.metastases.lung) == ("intact", True, True)
