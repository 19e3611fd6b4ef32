"""Drug in the body: release from particles, free-drug PBPK, and the literature comparisons."""

import numpy as np
import pytest

import nanocloak
from nanocloak.spec.formulation import from_dict

from conftest import EXAMPLES, ROOT, make

PAYLOAD_EXAMPLES = [p for p in EXAMPLES if "payloads" in p.read_text() or "free" in p.name]


@pytest.mark.parametrize("path", PAYLOAD_EXAMPLES, ids=lambda p: p.name)
def test_drug_mass_balance(path):
    r = nanocloak.simulate(nanocloak.load(path))
    for p in r.payloads.values():
        assert p.mass_balance_error() <= 1e-6
    assert {"released_pct_24h", "heart_drug_auc_ug_h_per_g"} <= set(r.metrics)


def _dox(name):
    return nanocloak.simulate(nanocloak.load(ROOT / "examples" / name))


@pytest.mark.xfail(strict=True, reason="calibration evidence-2026-12-02-023910d5-b67908 (docs/calibration.md: PEG factor at 2 kDa 0.25, uptake "
                   "ramp 0.055 h) clears the PEG liposome faster: its tumor drug AUC is 2.7x free doxorubicin's, under "
                   "the 3.6x of Laginha 2005; a finding; strict, so a model that reproduces it again fails here until "
                   "the mark goes")
def test_doxil_like_liposome_beats_free_doxorubicin_in_tumor_and_spares_the_heart():
    """Laginha KM et al. 2005 Clin Cancer Res 11:6944 (orthotopic 4T1, 9 mg/kg): total tumor
    doxorubicin Cmax 28.6 (Doxil) vs 7.9 ug/g (free), 3.6x, and AUC 3988 vs 45.8 ug-eq h/g (87x,
    7 d vs 24 h windows). Test: the liposome's tumor drug AUC is at least the 3.6x of equal-dose Cmax.
    Heart: PEGylated liposomal doxorubicin lowers the cardiac exposure to free drug (Working PK et
    al. 1999 J Pharmacol Exp Ther 289:1128; Gabizon A et al. 2003 Clin Pharmacokinet 42:419);
    test: below 0.7x of free doxorubicin's."""
    free, lipo = _dox("free_doxorubicin.yaml"), _dox("doxil_like_liposome.yaml")
    assert lipo.metrics["tumor_drug_auc_ug_h_per_g"] >= 3.6 * free.metrics["tumor_drug_auc_ug_h_per_g"]
    assert lipo.metrics["heart_drug_auc_ug_h_per_g"] < 0.7 * free.metrics["heart_drug_auc_ug_h_per_g"]


def test_release_in_vivo_follows_the_law_and_triggers():
    base = make(surface={"kind": "peg"}, payloads=[{"drug": "doxorubicin", "loading_wt_pct": 5,
                                                    "release": {"model": "first_order", "params": {"k_per_h": 0.01}}}])
    acid = make(surface={"kind": "peg"}, payloads=[{"drug": "doxorubicin", "loading_wt_pct": 5, "release": {
        "model": "first_order", "params": {"k_per_h": 0.01}, "triggers": [{"kind": "ph", "threshold": 6.0, "factor": 10}]}}])
    slow, fast = nanocloak.simulate_many([from_dict(base), from_dict(acid)])
    assert fast.metrics["released_pct_24h"] > slow.metrics["released_pct_24h"]


def test_no_release_law_keeps_the_drug_in_the_particles():
    f = from_dict(make(core={"material": "gold_sphere", "diameter_nm": 60},
                       payloads=[{"drug": "doxorubicin", "loading_wt_pct": 5}]))
    r = nanocloak.simulate(f)
    assert r.metrics["released_pct_24h"] == pytest.approx(0.0, abs=1e-6)


def test_nir_light_in_vivo_releases_more_in_the_tumor():
    f = nanocloak.load(ROOT / "examples" / "gold_nanocage_4t1_nir.yaml")
    dark = f.model_copy(deep=True)
    dark.treatment.lasers = []
    lit_r, dark_r = nanocloak.simulate_many([f, dark])
    assert lit_r.metrics["tumor_free_drug_auc_ug_h_per_g"] > dark_r.metrics["tumor_free_drug_auc_ug_h_per_g"]


def test_drug_dose_follows_the_basis():
    from nanocloak.model.payload import drug_dose_ug

    particle = from_dict(make(payloads=[{"drug": "doxorubicin", "loading_wt_pct": 20}], dose={"mg_per_kg": 5}))
    drug = from_dict(make(payloads=[{"drug": "doxorubicin", "loading_wt_pct": 20}], dose={"basis": "drug", "mg_per_kg": 5}))
    # 5 mg/kg x 20 g = 100 ug of core -> drug = core x 20/80 = 25 ug; drug basis: 100 ug of drug
    assert drug_dose_ug(particle, 0) == pytest.approx(25.0)
    assert drug_dose_ug(drug, 0) == pytest.approx(100.0)


def _engines_agree(f, hook=None):
    from nanocloak.model import payload
    from nanocloak.model.parameters import resolve
    from nanocloak.simulation.core import output_grid

    r = resolve(f)
    r.tumor_temperature = hook
    grid = output_grid(f)
    ref = payload.simulate_payloads(r, grid, engine="scipy")
    got = payload.simulate_payloads(r, grid)
    for drug, a in ref.items():
        b = got[drug]
        scale = 1e-6 * a.dose_ug
        for name in a.free_ug:
            assert np.allclose(b.free_ug[name], a.free_ug[name], rtol=1e-4, atol=scale), name
            assert np.allclose(b.bound_ug[name], a.bound_ug[name], rtol=1e-4, atol=scale), name
        for key in a.auc_ug_h_per_g:
            assert b.auc_ug_h_per_g[key][-1] == pytest.approx(a.auc_ug_h_per_g[key][-1], rel=1e-4)
        assert b.mass_balance_error() < 1e-9


@pytest.mark.parametrize("path", [p for p in PAYLOAD_EXAMPLES if "free" not in p.name], ids=lambda p: p.name)
def test_compiled_payload_engine_matches_the_scipy_reference(path):
    _engines_agree(nanocloak.load(path))


def test_compiled_payload_engine_matches_under_light_heat_and_lag():
    """Light and heat triggers (heat from a temperature curve), a lag time, a burst and two doses."""
    d = make(core={"material": "gold_nanocage", "diameter_nm": 60},
             subject={"species": "mouse", "body_weight_g": 20, "tumor": {"line": "4T1", "volume_mm3": 150}},
             dose={"mg_per_kg": 5, "times_h": [0, 30]},
             payloads=[{"drug": "doxorubicin", "loading_wt_pct": 8,
                        "release": {"model": "first_order_f0", "params": {"k_per_h": 0.01, "f0_pct": 5},
                                    "triggers": [{"kind": "nir", "factor": 8},
                                                 {"kind": "hyperthermia", "threshold": 42, "factor": 5}]}},
                       {"drug": "paclitaxel", "loading_wt_pct": 4,
                        "release": {"model": "weibull_tlag", "params": {"td_h": 20, "beta": 0.7, "tlag_h": 0.5},
                                    "triggers": [{"kind": "ph", "threshold": 6.8, "factor": 3}]}}],
             treatment={"lasers": [{"at_h": 24, "wavelength_nm": 808, "power_W_per_cm2": 1, "duration_min": 10}]})
    hot = lambda t: 44.0 if 24.05 <= t <= 24.2 else 37.0  # noqa: E731
    _engines_agree(from_dict(d), hot)
