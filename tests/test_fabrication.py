"""Making the particle: coating calculator, method model, QC inference, storage (issue 5)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanocloak import simulate
from nanocloak.surface import coating
from nanocloak.library import tables as library
from nanocloak.lab.fabrication import coating_plan, infer_coverage
from nanocloak.spec.formulation import Formulation

from conftest import EXAMPLES, make


def rbc(method="coextrusion", ratio=None, storage="fresh", days=0.0, diameter=70, cells=("rbc",)):
    membrane = {"sources": [{"cell": c, "fraction": 1.0 / len(cells)} for c in cells], "method": method,
                "storage": storage, "storage_days": days}
    if ratio is not None:
        membrane["membrane_to_core_mass_ratio"] = ratio
    return Formulation.model_validate(make(core={"material": "plga", "diameter_nm": diameter},
                                           surface={"kind": "membrane", "membrane": membrane}))


def half_life(f):
    return simulate(f).metrics["blood_t_half_h"]


def test_one_mg_70nm_plga_matches_hand_calculation():
    plan = coating_plan(rbc(), batch_mg=1.0)
    rho = library.value(library.entry("materials", "plga")["density_g_per_cm3"])   # g/cm3
    d_cm = 70e-7
    one_particle_g = rho * math.pi / 6 * d_cm**3
    assert plan.particles == pytest.approx(1e-3 / one_particle_g, rel=1e-9)
    # surface: N pi d^2 = 6 m / (rho d)
    assert plan.core_surface_m2 == pytest.approx(plan.particles * math.pi * (70e-9) ** 2, rel=1e-9)
    assert plan.core_surface_m2 * 1e4 == pytest.approx(6 * 1e-3 / (rho * d_cm), rel=1e-9)


def test_blood_geometric_minimum_and_protocol_amount():
    plan = coating_plan(rbc(), batch_mg=1.0)
    (donor,) = plan.donors
    node = library.entry("membranes", "rbc")
    area_um2 = library.value(node["cell_surface_area_um2"])
    per_mL = library.value(library.table("fabrication")["blood_cells_per_mL"]["mouse"]["rbc"])
    extraction = library.value(library.table("fabrication")["membrane_extraction_yield_fraction"]["blood"])
    expected_geo = plan.membrane_area_m2_geometric / (area_um2 * 1e-12) / extraction / per_mL
    assert donor.blood_mL_geometric == pytest.approx(expected_geo, rel=1e-9)
    # protocols use about 1 mL of blood per mg PLGA (Hu 2011): the same order
    assert 0.3 <= donor.blood_mL_protocol <= 3.0
    assert donor.blood_mL_protocol > 10 * donor.blood_mL_geometric


def test_cultured_membranes_are_counted_in_cells_and_flasks():
    f = Formulation.model_validate(make(surface={"kind": "membrane", "membrane": {"sources": [{"cell": "cancer", "line": "4T1"}]}}))
    (donor,) = coating_plan(f, batch_mg=1.0).donors
    assert donor.blood_mL_protocol is None
    per_flask = library.value(library.table("fabrication")["cells_per_flask"]["adherent"])
    assert donor.flasks_protocol == pytest.approx(donor.cells_protocol / per_flask)


def test_hybrid_lists_each_source():
    plan = coating_plan(rbc(cells=("rbc", "platelet")), batch_mg=2.0)
    assert [d.cell for d in plan.donors] == ["rbc", "platelet"]
    assert all(d.blood_mL_protocol > 0 for d in plan.donors)
    assert sum(d.protein_mg_protocol for d in plan.donors) == pytest.approx(plan.membrane_to_core_ratio * 2.0)


def test_electroporation_coats_more_and_circulates_longer_than_coextrusion():
    ep, co = rbc("microfluidic_electroporation"), rbc("coextrusion")
    assert coating.coverage_fraction(ep) > coating.coverage_fraction(co)
    assert half_life(ep) > half_life(co)


def test_coextrusion_keeps_more_protein_integrity_than_sonication():
    assert coating.protein_integrity(rbc("coextrusion")) > coating.protein_integrity(rbc("sonication"))
    assert half_life(rbc("coextrusion")) > half_life(rbc("sonication"))


def test_too_little_membrane_lowers_coverage_and_circulation_monotonically():
    # coextrusion's protocol ratio is 3.75 mg protein per mg core; below ~3 the supply caps coverage
    ratios = [0.25, 0.5, 1.0, 2.0, 3.0, 5.0]
    forms = [rbc(ratio=r) for r in ratios]
    cover = [coating.coverage_fraction(f) for f in forms]
    runs = [simulate(f).metrics for f in forms]
    auc = [m["blood_auc_pct_id_h"] for m in runs]
    assert all(a < b for a, b in zip(cover, cover[1:]))
    assert all(a < b for a, b in zip(auc, auc[1:]))
    assert auc[0] < 0.2 * auc[-1]


def test_the_half_life_rises_with_the_membrane_supply():
    t_half = [simulate(rbc(ratio=r)).metrics["blood_t_half_h"] for r in (0.25, 0.5, 1.0, 2.0, 3.0, 5.0)]
    assert all(a <= b * (1 + 1e-6) for a, b in zip(t_half, t_half[1:]))


@settings(max_examples=25, deadline=None)
@given(coverage=st.floats(0.05, 0.95), zeta_core=st.floats(-45, 5), diameter=st.integers(40, 200))
def test_qc_recovers_the_coverage_that_generated_the_measurements(coverage, zeta_core, diameter):
    f = rbc(diameter=diameter)
    node = library.entry("membranes", "rbc")
    zeta_mem = library.value(node["membrane_zeta_mV"])
    t = library.value(node["coat_thickness_nm"])
    if abs(zeta_mem - zeta_core) < 5:
        return
    size_after = diameter + 2 * coverage * t
    zeta_after = coverage * zeta_mem + (1 - coverage) * zeta_core
    r = infer_coverage(f, diameter, size_after, zeta_core, zeta_after)
    assert r.coverage == pytest.approx(coverage, abs=1e-9)


def test_qc_warns_on_aggregation_vesicles_and_incomplete_coating():
    f = rbc()
    agg = infer_coverage(f, 70, 200, -40, -27)
    assert any("aggregated" in w for w in agg.warnings) and agg.coverage_from_size is None
    ves = infer_coverage(f, 70, 80, -40, -27, pdi_after=0.4)
    assert any("second population" in w for w in ves.warnings)
    poor = infer_coverage(f, 70, 72, -40, -38)
    assert any("incomplete coating" in w for w in poor.warnings)


@pytest.mark.parametrize("storage", ["4C", "-80C", "lyophilized"])
def test_storage_lowers_integrity_and_circulation(storage):
    fresh, stored = rbc(), rbc(storage=storage, days=60)
    assert coating.protein_integrity(stored) < coating.protein_integrity(fresh)
    assert half_life(stored) < half_life(fresh)


def test_storage_conditions_rank_as_expected():
    keep = {s: coating.storage_retention(rbc(storage=s, days=30)) for s in ("fresh", "4C", "-80C", "lyophilized")}
    assert keep["fresh"] == 1.0
    assert keep["4C"] < keep["-80C"] < keep["lyophilized"] < 1.0


def test_calculator_rejects_non_membrane_formulation():
    from nanocloak.errors import NanocloakError

    with pytest.raises(NanocloakError, match="surface.kind"):
        coating_plan(Formulation.model_validate(make()))


def test_make_and_qc_commands(tmp_path):
    from typer.testing import CliRunner

    from nanocloak.cli.main import app

    runner = CliRunner()
    example = next(p for p in EXAMPLES if p.name == "rbc_plga.yaml")
    made = runner.invoke(app, ["make", str(example), "--batch-mg", "1", "--out", str(tmp_path)])
    assert made.exit_code == 0, made.output
    assert "mL blood" in made.output and "4.28e+12" in made.output
    sheet = (tmp_path / "batch_sheet.html").read_text()
    assert "Donor material" in sheet and "Expected QC" in sheet
    checked = runner.invoke(app, ["qc", str(example), "--size-before-nm", "70", "--size-after-nm", "200",
                                  "--zeta-before-mV", "-40", "--zeta-after-mV", "-27"])
    assert checked.exit_code == 0 and "aggregated" in checked.output
    bare = next(p for p in EXAMPLES if p.name == "bare_plga.yaml")
    refused = runner.invoke(app, ["make", str(bare)])
    assert refused.exit_code == 2
