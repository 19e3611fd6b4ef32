"""Model behaviour: mass balance, physical orderings, orderings the literature reports (the full
comparison with published experiments is the evidence scorecard, docs/validation.md)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nanocloak
from nanocloak.library import tables as library
from nanocloak.spec.formulation import from_dict
from experiments import BARE, PEG2K, PLGA70, RBC, formulation, second_dose_retention_ratio, tumor_subject

from conftest import EXAMPLES, make


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_mass_balance_of_every_example(path):
    r = nanocloak.simulate(nanocloak.load(path))
    assert r.metrics["mass_balance_error"] <= 1e-6
    assert r.series["excreted_urine"][-1] >= 0 and r.series["degraded"][-1] >= 0


MATERIALS = sorted(k for k in library.entries("materials") if k != "free")
CELLS = ["rbc", "platelet", "cancer", "mesenchymal_stem", "macrophage", "neutrophil", "t_cell", "nk_cell", "leukocyte", "exosome",
         "bacterial_omv", "cancer_stem"]


@st.composite
def formulations(draw):
    kind = draw(st.sampled_from(["none", "peg", "membrane"]))
    surface = {"kind": kind}
    if kind == "peg":
        surface["peg"] = {"mw_kDa": draw(st.floats(0.5, 20))}
    if kind == "membrane":
        cells = draw(st.lists(st.sampled_from(CELLS), min_size=1, max_size=2, unique=True))
        fr = draw(st.floats(0.1, 0.9)) if len(cells) == 2 else 1.0
        fractions = [fr, 1 - fr] if len(cells) == 2 else [1.0]
        surface["membrane"] = {
            "sources": [dict(cell=c, fraction=f, donor=draw(st.sampled_from(["syngeneic", "allogeneic", "xenogeneic"])),
                             **({"line": draw(st.sampled_from(["4T1", "B16F10", "CT26"]))} if c.startswith("cancer") else {}))
                        for c, f in zip(cells, fractions)],
            "method": draw(st.sampled_from(["coextrusion", "sonication", "microfluidic_electroporation"])),
            "membrane_to_core_mass_ratio": draw(st.floats(0.05, 10))}
    if draw(st.booleans()):
        surface["ligands"] = [{"name": draw(st.sampled_from(["folate", "rgd", "cetuximab", "transferrin"])),
                               "per_particle": draw(st.floats(1, 5000))}]
    end_h = draw(st.sampled_from([24.0, 100.0, 168.0]))
    n_doses = draw(st.integers(1, 3))
    times = sorted({0.0} | {float(draw(st.integers(1, int(end_h)))) for _ in range(n_doses - 1)})
    species = draw(st.sampled_from(["mouse", "mouse", "rat", "human"]))
    subject = {"species": species}
    if species == "mouse" and draw(st.booleans()):
        subject["tumor"] = {"line": draw(st.sampled_from(["4T1", "B16F10", "CT26"])),
                            "site": draw(st.sampled_from(["subcutaneous", "orthotopic", "brain"])),
                            "volume_mm3": draw(st.floats(20, 1500))}
    core = {"material": draw(st.sampled_from(MATERIALS)), "diameter_nm": draw(st.floats(2, 600)),
            "zeta_mV": draw(st.floats(-60, 60))}
    return from_dict(make(core=core, surface=surface, subject=subject, dose={"mg_per_kg": 5, "times_h": times},
                          end_h=end_h))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulations())
def test_mass_balance_for_random_valid_formulations(f):
    r = nanocloak.simulate(f)
    assert r.metrics["mass_balance_error"] <= 1e-6
    # the partition holds whole doses: just after each dose the sum jumps by 100
    assert np.all(np.isfinite(r.partition_sum()))
    assert min(v.min() for v in r.series.values()) > -1e-6


def test_hu2011_half_lives_and_ordering():
    """Hu 2011's ordering RBC > PEG > bare (its magnitudes, 39.6 and 15.8 h, are evidence points:
    the scorecard compares them, docs/validation.md)."""
    rbc, peg, bare = nanocloak.simulate_many([formulation(PLGA70, RBC), formulation(PLGA70, PEG2K), formulation(PLGA70, BARE)])
    assert rbc.metrics["blood_t_half_h"] > peg.metrics["blood_t_half_h"] > bare.metrics["blood_t_half_h"]
    for r in (rbc, peg, bare):
        o = r.metrics["organ_pct_id_24h"]
        assert o["liver"] + o["spleen"] > 50


def test_homotypic_targeting_needs_the_matching_line():
    cancer = {"kind": "membrane", "membrane": {"sources": [{"cell": "cancer", "line": "B16F10"}]}}
    own, other = nanocloak.simulate_many([formulation(PLGA70, cancer, tumor_subject("B16F10")),
                                          formulation(PLGA70, cancer, tumor_subject("4T1"))])
    assert own.metrics["tumor_pct_id_24h"] >= 1.2 * other.metrics["tumor_pct_id_24h"]


def test_abc_for_peg_but_not_rbc_and_only_in_hosts_with_b_cells():
    """Anti-PEG IgM is T-independent: nude mice make it, SCID mice (no B cells) do not (Ishida 2007;
    Pharmaceutics 2011 3:1); issue 14 corrects the earlier rule that nude hosts make none."""
    liposome = {"material": "liposome", "diameter_nm": 90}
    assert second_dose_retention_ratio(liposome, PEG2K) < 0.7
    assert second_dose_retention_ratio(PLGA70, RBC) >= 0.85
    assert second_dose_retention_ratio(liposome, PEG2K, host="nude") < 0.7
    assert second_dose_retention_ratio(liposome, PEG2K, host="scid") >= 0.99


def test_nude_hosts_make_no_anti_donor_response():
    """Antibodies against foreign membrane proteins need T-cell help, which athymic hosts lack."""
    xeno = {"kind": "membrane", "membrane": {"sources": [{"cell": "macrophage", "donor": "xenogeneic"}]}}
    assert second_dose_retention_ratio(PLGA70, xeno, interval_h=336, host="nude") >= 0.99


def test_non_syngeneic_membranes_raise_clearance_of_later_doses():
    xeno = {"kind": "membrane", "membrane": {"sources": [{"cell": "macrophage", "donor": "xenogeneic"}]}}
    syn = {"kind": "membrane", "membrane": {"sources": [{"cell": "macrophage", "donor": "syngeneic"}]}}
    assert second_dose_retention_ratio(PLGA70, xeno, interval_h=336) < second_dose_retention_ratio(PLGA70, syn, interval_h=336)


def test_repeated_dose_uptake_clock_restarts_each_dose():
    """Superposition: with no immune response a second dose behaves exactly like the first."""
    one = nanocloak.simulate(from_dict(make(surface=PEG2K, subject={"species": "mouse", "host": "scid"}, end_h=96)))
    two = nanocloak.simulate(from_dict(make(surface=PEG2K, subject={"species": "mouse", "host": "scid"},
                                            dose={"mg_per_kg": 5, "times_h": [0, 48]}, end_h=96)))
    later = np.interp(48 + 24, two.t_h, two.series["blood_sample"]) - np.interp(72, one.t_h, one.series["blood_sample"])
    assert later == pytest.approx(np.interp(24, one.t_h, one.series["blood_sample"]), rel=1e-5)
    assert two.partition_sum()[-1] == pytest.approx(200, rel=1e-8)


def test_size_orderings():
    rs = nanocloak.simulate_many([formulation({"material": "plga", "diameter_nm": d}, RBC) for d in (80, 120, 160, 200)])
    auc = [r.metrics["blood_auc_pct_id_h"] for r in rs]
    liver = [r.metrics["organ_pct_id_24h"]["liver"] for r in rs]
    assert auc == sorted(auc, reverse=True) and liver == sorted(liver)


@pytest.mark.xfail(strict=True, reason="the evidence calibration (docs/calibration.md) puts the splenic uptake factor at "
                   "0.065 and clears the opsonised share within minutes, which evens PEG-gold's spleen %ID/g at 100 and "
                   "400 nm (36.7 vs 35.2 at 24 h): a finding; strict, so a model that restores the ordering fails here")
def test_bigger_particles_load_the_spleen_more():
    spleen_small, spleen_big = nanocloak.simulate_many([formulation({"material": "gold_sphere", "diameter_nm": d}, PEG2K) for d in (100, 400)])
    assert spleen_big.metrics["organ_pct_id_per_g_24h"]["spleen"] > spleen_small.metrics["organ_pct_id_per_g_24h"]["spleen"]


def test_renal_filtration_only_below_the_cutoff():
    small, large = nanocloak.simulate_many([formulation({"material": "gold_sphere", "diameter_nm": d}, BARE, end_h=24) for d in (3, 12)])
    assert small.series["excreted_urine"][-1] > 20 and large.series["excreted_urine"][-1] < 1


def test_stealth_ordering_and_coverage():
    """PEG and membranes circulate longer than bare; more coverage (electroporation) longer than coextrusion."""
    def rbc(method, ratio=None):
        m = {"sources": [{"cell": "rbc"}], "method": method}
        if ratio:
            m["membrane_to_core_mass_ratio"] = ratio
        return {"kind": "membrane", "membrane": m}
    rs = nanocloak.simulate_many([formulation(PLGA70, s) for s in
                                  (BARE, PEG2K, rbc("coextrusion"), rbc("microfluidic_electroporation"),
                                   rbc("coextrusion", 0.5), rbc("coextrusion", 0.1))])
    auc = [r.metrics["blood_auc_pct_id_h"] for r in rs]
    assert auc[0] < auc[1] < auc[2] < auc[3]
    assert auc[5] < auc[4] <= auc[2]      # less membrane: less coverage, shorter circulation


def test_positive_charge_speeds_clearance():
    neutral, cationic = nanocloak.simulate_many([formulation(dict(PLGA70, zeta_mV=z), PEG2K) for z in (-5, 40)])
    assert cationic.metrics["blood_auc_pct_id_h"] < neutral.metrics["blood_auc_pct_id_h"]


def test_degradable_cores_degrade_and_gold_does_not():
    plga, gold = nanocloak.simulate_many([formulation(PLGA70, PEG2K), formulation({"material": "gold_sphere", "diameter_nm": 70}, PEG2K)])
    assert plga.series["degraded"][-1] > 1.0
    assert gold.series["degraded"][-1] == 0.0


def test_species_scaling_runs_for_rat_and_human():
    for species, bw in (("rat", 250), ("human", 70000)):
        r = nanocloak.simulate(formulation(PLGA70, PEG2K, {"species": species, "body_weight_g": bw}))
        assert r.metrics["mass_balance_error"] <= 1e-6
        assert 0 < r.metrics["blood_pct_id_24h"] < 100
