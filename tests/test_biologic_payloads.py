"""Biologic payloads and the paclitaxel dimer (issue 17): a therapeutic IgG whose half-life of days
rests on FcRn recycling (drug.py: CL_cat = CL_pino (1 - f_R), Shah & Betts 2012 lumped), TRAIL
(minutes, mostly renal; Kelley 2001) and the ROS-activated PTX2-TK prodrug (Pei 2018, seed 001)."""

import math

import numpy as np
import pytest
from conftest import make

import nanocloak
from nanocloak.errors import FormulationError
from nanocloak.library import listing
from nanocloak.library import tables as library
from nanocloak.model import drug as drug_pbpk
from nanocloak.spec.formulation import from_dict

FCRN_OFF = {"payload.igg_antibody.fcrn_recycled_fraction": 0.0}


def _free(drug, end_h, overrides=None):
    d = make(core={"material": "free"}, payloads=[{"drug": drug, "loading_wt_pct": 100}],
             dose={"basis": "drug", "mg_per_kg": 5}, end_h=end_h)
    if overrides:
        d["model"] = {"overrides": overrides}
    r = nanocloak.simulate(from_dict(d))
    return r, r.payloads[drug]


def _entered(drug):
    return library.value(library.entry("drugs", drug)["terminal_half_life_h_mouse"])


@pytest.fixture(scope="module")
def igg():
    return _free("igg_antibody", end_h=1500.0)


@pytest.fixture(scope="module")
def igg_no_fcrn():
    return _free("igg_antibody", end_h=1500.0, overrides=FCRN_OFF)


@pytest.fixture(scope="module")
def trail():
    return _free("trail", end_h=2.0)


def test_igg_half_life_is_days_within_2_fold_of_its_entry(igg, trail):
    r, p = igg
    model, entered = r.metrics["blood_t_half_h"], _entered("igg_antibody")
    assert entered / 2 <= model <= 2 * entered, f"IgG t1/2 {model:.3g} h vs entered {entered:g} h"
    assert model > 72.0                                                      # days, not hours
    assert model > 100 * trail[0].metrics["blood_t_half_h"]                  # >> a small protein's
    assert p.mass_balance_error() <= 1e-6 and r.metrics["mass_balance_error"] <= 1e-6
    # the terminal phase of the simulated curve is the slowest mode of the free-drug matrix
    assert r.metrics["free_drug_t_half_h"] == pytest.approx(model, rel=0.1)
    assert p.renal_ug[-1] <= 1e-9 * p.dose_ug                                # too large to filter


def test_trastuzumab_in_a_mouse_is_the_generic_igg(igg):
    """Without human HER2 in the mouse, trastuzumab is the generic IgG1 (drugs.yaml): same curve."""
    r, p = _free("trastuzumab", end_h=1500.0)
    assert np.allclose(p.free_ug["blood"], igg[1].free_ug["blood"], rtol=1e-6, atol=1e-9 * p.dose_ug)
    assert r.metrics["fcrn_recycled_fraction"] == igg[0].metrics["fcrn_recycled_fraction"]


def test_fcrn_off_shortens_the_igg_half_life_by_the_recycled_share(igg, igg_no_fcrn):
    """f_R = 0 (an FcRn knockout): every pinocytosed IgG is degraded, the catabolic clearance rises
    by 1/(1 - f_R) and, with the same Vss, the terminal half-life falls by the same factor."""
    (r, p), (r0, p0) = igg, igg_no_fcrn
    f_r = library.value(library.entry("drugs", "igg_antibody")["fcrn"]["recycled_fraction"])
    assert r.metrics["fcrn_recycled_fraction"] == pytest.approx(f_r)
    assert r0.metrics["fcrn_recycled_fraction"] == 0.0
    assert r0.metrics["fcrn_catabolic_clearance_L_per_h_per_kg"] == pytest.approx(
        r.metrics["fcrn_catabolic_clearance_L_per_h_per_kg"] / (1 - f_r), rel=1e-9)
    ratio = r.metrics["blood_t_half_h"] / r0.metrics["blood_t_half_h"]
    assert ratio == pytest.approx(1 / (1 - f_r), rel=0.15)
    k = np.searchsorted(p.t_h, 168.0)
    assert p0.free_ug["blood"][k] < 0.5 * p.free_ug["blood"][k]
    assert p0.metabolised_ug[k] > p.metabolised_ug[k]
    assert p0.mass_balance_error() <= 1e-6


def test_fcrn_fraction_is_a_checked_parameter():
    with pytest.raises(FormulationError, match="fcrn_recycled_fraction"):
        _free("igg_antibody", end_h=24.0, overrides={"payload.igg_antibody.fcrn_recycled_fraction": 1.5})
    with pytest.raises(FormulationError, match="not a model parameter"):      # no FcRn block on TRAIL
        _free("trail", end_h=1.0, overrides={"payload.trail.fcrn_recycled_fraction": 0.5})


def test_fcrn_is_absent_for_drugs_without_the_block():
    props = drug_pbpk.drug_properties("doxorubicin", 0.02)
    assert props.catabolic_clearance_L_per_h == 0.0


def test_trail_half_life_is_minutes_and_mostly_renal(trail):
    r, p = trail
    model, entered = r.metrics["blood_t_half_h"], _entered("trail")
    assert entered / 2 <= model <= 2 * entered, f"TRAIL t1/2 {model * 60:.2g} min vs entered {entered * 60:.2g} min"
    assert model < 0.25
    assert p.mass_balance_error() <= 1e-6
    assert p.renal_ug[-1] > p.metabolised_ug[-1]                              # kidney the main route
    assert p.renal_ug[-1] + p.metabolised_ug[-1] > 0.95 * p.dose_ug           # gone within 2 h
    assert "fcrn_recycled_fraction" not in r.metrics


def test_ptx_dimer_activates_to_paclitaxel_pk():
    """Once out of its particle the dimer is taken as ROS-cleaved at once: its free-drug disposition is
    paclitaxel's; the paclitaxel mass it yields follows from the two molecular weights."""
    r, p = _free("ptx_dimer", end_h=24.0)
    rp, pp = _free("paclitaxel", end_h=24.0)
    assert np.allclose(p.free_ug["blood"], pp.free_ug["blood"], rtol=1e-6, atol=1e-9 * p.dose_ug)
    e = library.entry("drugs", "ptx_dimer")
    assert e["prodrug_of"] == "paclitaxel" and e["activation"]["trigger"] == "ros"
    mw_d = library.value(e["molecular_weight_g_per_mol"])
    mw_p = library.value(library.entry("drugs", "paclitaxel")["molecular_weight_g_per_mol"])
    assert library.value(e["paclitaxel_mass_per_dimer_mass"]) == pytest.approx(2 * mw_p / mw_d, rel=1e-3)
    assert p.mass_balance_error() <= 1e-6


@pytest.mark.parametrize("drug", ["igg_antibody", "trail", "ptx_dimer"])
def test_each_simulates_as_a_payload_in_a_peg_liposome(drug):
    """Held in a PEG liposome (slow first-order release) the payload circulates with the carrier:
    more of it is in the body at 24 h than of the same dose given free, and the drug balances."""
    lipo = make(core={"material": "liposome", "diameter_nm": 100}, surface={"kind": "peg"},
                payloads=[{"drug": drug, "loading_wt_pct": 5,
                           "release": {"model": "first_order", "params": {"k_per_h": 0.05}}}],
                dose={"basis": "drug", "mg_per_kg": 5}, end_h=24.0)
    r = nanocloak.simulate(from_dict(lipo))
    q = r.payloads[drug]
    assert q.mass_balance_error() <= 1e-6 and r.metrics["drug_mass_balance_error"] <= 1e-6
    assert 0 < r.metrics["released_pct_24h"] < 100
    _, free = _free(drug, end_h=24.0)
    body = lambda x: x.dose_ug - x.metabolised_ug[-1] - x.renal_ug[-1] - x.excreted_in_particles_ug[-1]  # noqa: E731
    if drug == "igg_antibody":                       # barely eliminated either way in a day
        assert body(q) / q.dose_ug > 0.9
    else:
        assert body(q) / q.dose_ug > body(free) / free.dose_ug + 0.2
    assert math.isfinite(r.metrics["free_drug_t_half_h"])


def test_the_library_lists_them():
    _, _, rows = listing.listing("drugs")
    keys = {row[0]: row for row in rows}
    for key, kind in (("igg_antibody", "antibody"), ("trastuzumab", "antibody"), ("trail", "protein"), ("ptx_dimer", "prodrug")):
        assert keys[key][2] == kind


def test_the_example_runs():
    from pathlib import Path

    from nanocloak.spec.formulation import load

    f = load(Path(__file__).parent.parent / "examples" / "trail_liposome.yaml")
    r = nanocloak.simulate(f)
    assert r.payloads["trail"].mass_balance_error() <= 1e-6
    assert r.metrics["free_drug_t_half_h"] < 0.25


def test_the_app_accepts_an_igg_payload_with_fcrn_off():
    """The app's form keeps the payload and the FcRn override through a round trip, and the design runs."""
    from pathlib import Path

    from nanocloak.app import backend, formspec

    doc = backend.parse_yaml((Path(__file__).parent.parent / "examples" / "trail_liposome.yaml").read_text(encoding="utf-8"))
    doc["payloads"][0]["drug"] = "igg_antibody"
    doc["model"] = {"overrides": dict(FCRN_OFF)}
    names = [p["name"] for p in backend.release_parameters(formspec.get_path(doc, formspec.parse_path(f"{formspec.REL}.model")))]
    again = formspec.values_to_doc(formspec.doc_to_values(doc), doc, names, formspec.param_values(doc, names))
    f, problems = backend.validate(again)
    assert not problems
    assert f.payloads[0].drug == "igg_antibody" and f.model.overrides == FCRN_OFF
    r = nanocloak.simulate(f)
    assert r.metrics["fcrn_recycled_fraction"] == 0.0


def test_sbml_exports_the_carrier_and_says_the_payload_is_not_in_it():
    """Payloads are never in the SBML (the particle model is); the document's notes say so, and an IgG
    payload with FcRn off exports the same particle model as without the override."""
    from pathlib import Path

    from nanocloak.io import sbml
    from nanocloak.spec.formulation import load

    f = load(Path(__file__).parent.parent / "examples" / "trail_liposome.yaml")
    text = sbml.to_sbml(f)
    assert "Drug payloads" in text and "<sbml" in text
    igg = f.model_copy(update={"payloads": [f.payloads[0].model_copy(update={"drug": "igg_antibody"})]})
    assert sbml.to_sbml(igg).count("<species ") == text.count("<species ")
