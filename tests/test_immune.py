"""The immune arm of therapy (model/therapy/immune.py, docs/immune.md; issue 14): baseline left alone,
agents acting through the right cells, hosts without T cells, orderings, states, SBML refusal."""

import json

import numpy as np
import pytest

import nanocloak
from nanocloak.io.sbml import SbmlExportError, to_sbml
from nanocloak.library import tables as library
from nanocloak.model.therapy import immune
from nanocloak.spec.formulation import from_dict

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "immune_blz945.yaml"


def _variant(change=None):
    d = nanocloak.load(EXAMPLE).model_dump(mode="json", exclude_none=True)
    d = json.loads(json.dumps(d))
    if change is not None:
        change(d)
    return from_dict(d)


def _drug(name, loading=None, host=None, surface=None):
    def change(d):
        d["payloads"][0]["drug"] = name
        if loading is not None:
            d["payloads"][0]["loading_wt_pct"] = loading
        if host is not None:
            d["subject"]["host"] = host
        if surface is not None:
            d["surface"] = surface
    return change


RBC = {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc"}]}}
NK = {"kind": "membrane", "membrane": {"sources": [{"cell": "nk_cell"}]}}


@pytest.fixture(scope="module")
def runs():
    forms = {
        "vehicle": _variant(lambda d: d.pop("payloads")),
        "blz945": _variant(),
        "blz945_low": _variant(_drug("blz945", loading=1)),
        "blz945_high": _variant(_drug("blz945", loading=15)),
        "pdl1": _variant(_drug("anti_pd_l1")),
        "pdl1_low": _variant(_drug("anti_pd_l1", loading=1)),
        "pdl1_nude": _variant(_drug("anti_pd_l1", host="nude")),
        "pdl1_scid": _variant(_drug("anti_pd_l1", host="scid")),
        "cpg_cancer": _variant(_drug("cpg_odn")),
        "cpg_rbc": _variant(_drug("cpg_odn", surface=RBC)),
        "cpg_nude": _variant(_drug("cpg_odn", host="nude")),
        "nk_nude": _variant(lambda d: (d.pop("payloads"), d.update(surface=NK), d["subject"].update(host="nude"))),
    }
    return dict(zip(forms, nanocloak.simulate_many(list(forms.values()))))


def test_without_an_immune_agent_the_growth_curves_are_unchanged(runs):
    """The calibrated growth laws already hold the untreated tumor's immune pressure: no immune agent, no
    immune arm, treated == untreated; with an agent the untreated arm is the same curve."""
    vehicle = runs["vehicle"]
    assert vehicle.therapy.immune is None and "immune" not in vehicle.metrics
    assert np.array_equal(vehicle.therapy.treated_mm3, vehicle.therapy.control_mm3)
    assert np.array_equal(runs["blz945"].therapy.control_mm3, vehicle.therapy.control_mm3)
    # a cancer-cell membrane without an adjuvant is not an immune agent
    assert not immune.has_immune_agent(_variant(lambda d: d.pop("payloads")))


def test_the_baseline_run_adds_no_kill_of_its_own():
    """The extra kill is kappa(agents) - kappa(no agents) on the same tumor curve: zero for no agent or an
    agent at zero exposure, whatever the host."""
    t = np.linspace(0.0, 240.0, 61)
    tumor = 100.0 * np.exp(0.25 * t / 24.0)
    zero = immune.Agent("blz945", "m2_to_m1", t, np.zeros_like(t))
    for host in ("immunocompetent", "nude", "scid"):
        _, k0, _ = immune.simulate_states(t, tumor, [], host)
        _, k1, _ = immune.simulate_states(t, tumor, [zero], host)
        assert np.array_equal(k0, k1)


def test_blz945_slows_growth_against_vehicle_in_an_immunocompetent_host(runs):
    blz, vehicle = runs["blz945"], runs["vehicle"]
    assert blz.therapy.treated_mm3[-1] < vehicle.therapy.treated_mm3[-1]
    assert blz.metrics["tgi_pct"] > 5.0
    im = blz.metrics["immune"]
    assert im["agents"] == ["blz945"]
    assert im["peak_m1_m2_ratio"] > 2.0 * im["baseline_m1_m2_ratio"]      # M2 -> M1 repolarisation
    assert im["immune_kill_share_pct"] == pytest.approx(100.0)            # no cytotoxic payload


def test_anti_pd_l1_has_no_t_cell_effect_without_t_cells(runs):
    assert runs["pdl1"].metrics["tgi_pct"] > 5.0
    for host in ("nude", "scid"):
        r = runs[f"pdl1_{host}"]
        assert r.metrics["immune"]["peak_effector_cells"] == 0.0
        assert r.metrics["immune"]["immune_kill_max_per_day"] == 0.0
        assert np.array_equal(r.therapy.treated_mm3, r.therapy.control_mm3)
    assert runs["cpg_nude"].metrics["immune"]["immune_kill_max_per_day"] == 0.0   # priming needs T cells too


def test_more_agent_more_growth_inhibition(runs):
    assert runs["blz945_low"].metrics["tgi_pct"] < runs["blz945"].metrics["tgi_pct"] < runs["blz945_high"].metrics["tgi_pct"]
    assert runs["pdl1_low"].metrics["tgi_pct"] < runs["pdl1"].metrics["tgi_pct"]


def test_cancer_membrane_with_adjuvant_vaccinates_and_nk_membranes_act_without_t_cells(runs):
    """The adjuvant primes more with a cancer-cell membrane (antigen) than with an RBC coat; an NK-cell
    membrane raises NK kill, which a nude host keeps."""
    assert runs["cpg_cancer"].metrics["tgi_pct"] > runs["cpg_rbc"].metrics["tgi_pct"] > 0.0
    assert "membrane:cancer" in runs["cpg_cancer"].metrics["immune"]["agents"]
    nk = runs["nk_nude"]
    assert nk.metrics["immune"]["agents"] == ["membrane:nk_cell"]
    assert nk.metrics["immune"]["immune_kill_max_per_day"] > 0.0
    assert nk.therapy.treated_mm3[-1] < nk.therapy.control_mm3[-1]


def test_states_stay_non_negative_and_the_m1_share_relaxes_to_its_analytic_value():
    """Every loss term is proportional to its own state, so no state goes negative, even on a tumor that
    collapses; under a constant effect E the M1 share tends to k21 (1 + E) / (k12 + k21 (1 + E))."""
    t = np.linspace(0.0, 24.0 * 60, 241)
    tumor = 500.0 * np.exp(-0.5 * t / 24.0) + 1e-3
    effect = 4.0
    agents = [immune.Agent("x", target, t, np.full_like(t, effect)) for target in immune.TARGETS]
    states, kappa, cells = immune.simulate_states(t, tumor, agents, "immunocompetent")
    assert np.all(states >= 0.0) and np.all(states[:, 2] <= 1.0) and np.all(np.isfinite(kappa))
    k12 = library.value(library.table("immune")["macrophages"]["m1_to_m2_per_day"])
    k21 = library.value(library.table("immune")["macrophages"]["m2_to_m1_per_day"]) * (1.0 + effect)
    assert states[-1, 2] == pytest.approx(k21 / (k12 + k21), rel=1e-4)


def test_nk_cells_rest_at_source_over_death_without_a_tumor():
    """de Pillis 2005: with no tumor, dN/dt = sigma - f N, so N -> sigma / f."""
    t = np.linspace(0.0, 24.0 * 200, 101)
    states, _, _ = immune.simulate_states(t, np.full_like(t, 1e-9), [], "scid")
    node = library.table("immune")["depillis2005"]
    expected = library.value(node["nk_source_cells_per_day"]) / library.value(node["nk_death_per_day"])
    assert states[-1, 0] == pytest.approx(expected, rel=1e-3)
    assert np.all(states[:, 1] == 0.0)                   # scid: no effector T cells


def test_library_keys_and_aliases():
    assert library.resolve_key("drugs", "aPDL1") == "anti_pd_l1"
    assert library.resolve_key("drugs", "CpG") == "cpg_odn"
    for drug in ("blz945", "anti_pd_l1", "cpg_odn"):
        assert immune.immune_action(drug)["target"] in immune.TARGETS


def test_sbml_export_refuses_immune_agents():
    with pytest.raises(SbmlExportError, match=r"payloads: blz945 acts through the immune arm.*docs/immune.md"):
        to_sbml(_variant())
    nk = _variant(lambda d: (d.pop("payloads"), d.update(surface=NK)))
    with pytest.raises(SbmlExportError, match=r"surface.membrane: the membrane coat acts through the immune arm"):
        to_sbml(nk)
