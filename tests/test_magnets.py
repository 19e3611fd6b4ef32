"""treatment.magnets (issue 17): magnetophoretic capture of magnetic cores over the tumor."""

import copy
import math

import pytest

import nanocloak
from nanocloak.errors import FormulationError
from nanocloak.model import magnetic
from nanocloak.spec.formulation import from_dict

MAGNET = {"at_h": 0, "duration_min": 60, "field_T": 0.4, "gradient_T_per_m": 40}


def design(material="iron_oxide", diameter=20, magnets=(MAGNET,), **tumor):
    return {
        "nanocloak": 1, "name": f"{material} magnet",
        "core": {"material": material, "diameter_nm": diameter},
        "surface": {"kind": "peg", "peg": {"mw_kDa": 2}},
        "dose": {"mg_per_kg": 10},
        "subject": {"species": "mouse", "body_weight_g": 20,
                    "tumor": {"line": "4T1", "volume_mm3": 100, **tumor}},
        "treatment": {"magnets": [dict(m) for m in magnets]},
        "simulate": {"end_h": 48},
    }


def run(d):
    return nanocloak.simulate(from_dict(d)).metrics


@pytest.fixture(scope="module")
def iron():
    # a 100 nm multi-core cluster: a single 20 nm crystal is pulled too weakly to cross the wall
    # (model/magnetic.py transwall_rate; test_single_small_crystal_is_hardly_captured)
    return run(design(diameter=100)), run(design(diameter=100, magnets=()))


def test_magnet_raises_iron_oxide_tumor_uptake_at_24h(iron):
    on, off = iron
    assert on["tumor_pct_id_24h"] > 1.05 * off["tumor_pct_id_24h"]
    assert on["tumor_pct_id_max"] > 1.3 * off["tumor_pct_id_max"]
    assert on["magnetic_targeting"]["core_is_magnetic"] is True
    assert "magnetic_targeting" not in off


def test_magnet_conserves_mass(iron):
    on, _ = iron
    assert abs(on["mass_balance_error"]) < 1e-6


def test_magnet_leaves_plga_alone():
    on, off = run(design("plga", 70)), run(design("plga", 70, magnets=()))
    assert on["tumor_pct_id_24h"] == pytest.approx(off["tumor_pct_id_24h"], rel=0.05)
    assert on["tumor_pct_id_24h"] == pytest.approx(off["tumor_pct_id_24h"], rel=1e-9)   # nothing at all
    mt = on["magnetic_targeting"]
    assert mt["core_is_magnetic"] is False and mt["capture_rate_per_h"] == 0.0
    assert "not magnetic" in mt["note"]


def test_stronger_gradient_captures_more():
    weak = run(design(diameter=100, magnets=[{**MAGNET, "gradient_T_per_m": 5}]))
    strong = run(design(diameter=100, magnets=[{**MAGNET, "gradient_T_per_m": 80}]))
    assert strong["tumor_pct_id_24h"] > weak["tumor_pct_id_24h"]
    assert strong["magnetic_targeting"]["capture_rate_per_h"] > 16 * weak["magnetic_targeting"]["capture_rate_per_h"]
    assert strong["magnetic_targeting"]["wall_arrival_rate_per_h"] == pytest.approx(
        16 * weak["magnetic_targeting"]["wall_arrival_rate_per_h"], rel=1e-9, abs=0)   # v / d linear in grad B
    assert strong["magnetic_targeting"]["transwall_peclet"] == pytest.approx(
        16 * weak["magnetic_targeting"]["transwall_peclet"], rel=1e-9, abs=0)          # Pe = F L / kT


def test_capture_grows_with_core_size():
    class M:
        at_h, duration_min, field_T, gradient_T_per_m = 0.0, 30.0, 0.5, 20.0

    small = magnetic.magnet_capture("iron_oxide", 10, 30, M)
    large = magnetic.magnet_capture("iron_oxide", 50, 70, M)
    assert large.capture_rate_per_h > small.capture_rate_per_h > 0


def test_force_and_velocity_against_hand_calculation():
    class M:
        at_h, duration_min, field_T, gradient_T_per_m = 1.0, 30.0, 1.0, 100.0

    c = magnetic.magnet_capture("iron_oxide", 100, 150, M, magnetic_fraction=1.0)   # all magnetite
    ms = magnetic.saturation_magnetisation_A_per_m("iron_oxide")
    volume = math.pi / 6 * (100e-9) ** 3
    assert c.magnetisation_A_per_m == pytest.approx(ms, rel=0.01)          # saturated at 1 T
    # abs=0: pytest.approx's default absolute tolerance (1e-12) would pass any force in N
    assert c.force_N == pytest.approx(volume * c.magnetisation_A_per_m * 100.0, rel=1e-9, abs=0)
    eta = magnetic.constant("plasma_viscosity_mPa_s") * 1e-3
    assert c.velocity_um_per_s == pytest.approx(c.force_N / (3 * math.pi * eta * 150e-9) * 1e6, rel=1e-9, abs=0)
    assert (c.start_h, c.end_h) == (1.0, 1.5)


def test_langevin_limits():
    assert magnetic.langevin(1e-6) == pytest.approx(1e-6 / 3)
    assert magnetic.langevin(0.01) == pytest.approx(0.01 / 3, rel=1e-4)
    assert magnetic.langevin(1000.0) == pytest.approx(1.0 - 1e-3)


def test_only_magnetic_cores_respond():
    assert magnetic.core_is_magnetic("iron_oxide")
    assert not magnetic.core_is_magnetic("plga")
    assert magnetic.saturation_magnetisation_A_per_m("plga") == 0.0


def test_units_accepted():
    f = from_dict(design(magnets=[{"at_h": "30 min", "duration_min": "1 h", "field_T": "400 mT",
                                   "gradient_T_per_m": "0.4 T/cm"}]))
    m = f.treatment.magnets[0]
    assert (m.at_h, m.duration_min, m.field_T, m.gradient_T_per_m) == pytest.approx((0.5, 60, 0.4, 40))


@pytest.mark.parametrize("change, field", [
    ({"field_T": 3}, "field_T"),
    ({"field_T": 0}, "field_T"),
    ({"gradient_T_per_m": 0}, "gradient_T_per_m"),
    ({"gradient_T_per_m": 2000}, "gradient_T_per_m"),
    ({"duration_min": 0}, "duration_min"),
    ({"field_T": "0.4 m"}, "field_T"),
])
def test_bad_magnet_is_a_clear_error(change, field):
    with pytest.raises(FormulationError) as exc:
        from_dict(design(magnets=[{**MAGNET, **change}]))
    assert field in str(exc.value)


def test_magnet_needs_a_tumor_and_one_window():
    d = design()
    del d["subject"]["tumor"]
    with pytest.raises(FormulationError, match="treatment.magnets"):
        from_dict(d)
    with pytest.raises(FormulationError, match="at most 1"):
        from_dict(design(magnets=[MAGNET, {**MAGNET, "at_h": 24}]))
    late = design(magnets=[{**MAGNET, "at_h": 100}])
    with pytest.raises(FormulationError, match="after simulate.end_h"):
        from_dict(late)


def test_magnet_after_a_second_dose_acts_in_that_dose_too():
    d = design(magnets=[{**MAGNET, "at_h": 24}])
    d["dose"] = {"mg_per_kg": 10, "times_h": [0, 24]}
    base = copy.deepcopy(d)
    base["treatment"]["magnets"] = []
    on, off = run(d), run(base)
    assert on["tumor_pct_id_max"] > off["tumor_pct_id_max"]
    assert abs(on["mass_balance_error"]) < 1e-6


def test_sbml_refuses_magnets():
    pytest.importorskip("libsbml")
    from nanocloak.io.sbml import SbmlExportError, to_sbml

    with pytest.raises(SbmlExportError, match="treatment.magnets"):
        to_sbml(from_dict(design()))


def test_compiled_kernel_matches_the_numpy_engine_with_a_magnet():
    """The capture window enters the compiled kernel and the numpy reference engine alike (the tumor's
    share, which the window changes most, included)."""
    import numpy as np

    from nanocloak.model import particle as wb
    from nanocloak.model import particle_kernel
    from nanocloak.model.parameters import resolve
    from nanocloak.simulation.core import _plan
    from nanocloak.solvers.rodas4 import integrate

    d = design(magnets=[{**MAGNET, "at_h": 2}])
    d["dose"]["times_h"] = [0, 1.5]                     # the second copy's window starts 0.5 h after its dose
    _, system, tau_out = _plan([resolve(from_dict(d))])
    assert system.capture_rate.max() > 0
    compiled = particle_kernel.integrate(system, tau_out, 1e-6, 1e-8)
    reference = integrate(wb.ParticleModel, system, wb.initial_state(system), tau_out, rtol=1e-6, atol=1e-8)
    assert np.array_equal(compiled.steps, reference.steps)        # the window judged per step in both
    ok = np.isfinite(reference.observations)
    assert np.allclose(compiled.observations[ok], reference.observations[ok], rtol=1e-8, atol=1e-9)


def test_capture_is_a_pure_transfer_inside_the_window():
    """Inside the window the capture adds one flux (tumor capillary -> tumor retained pool): the
    system matrix's mass columns still sum to zero, and outside it the matrix is the magnet-free one."""
    import numpy as np

    from nanocloak.model import particle as wb
    from nanocloak.model.parameters import particle_systems, resolve

    s = particle_systems(resolve(from_dict(design())))[0].take(np.array([0]))
    none = particle_systems(resolve(from_dict(design(magnets=()))))[0].take(np.array([0]))
    inside, outside = wb.system_matrix(s, 0.5), wb.system_matrix(s, 2.0)
    assert np.abs(inside[: wb.N_MASS_STATES].sum(axis=0)).max() < 1e-9 * np.abs(inside).max()
    rate = s.capture_rate[0]
    cap, pc = wb.CAP0 + wb.TUMOR, wb.PC0 + wb.TUMOR
    assert inside[pc, cap] - outside[pc, cap] == pytest.approx(rate)
    assert np.array_equal(outside, wb.system_matrix(none, 2.0))


def test_the_drug_goes_with_the_captured_particles():
    """The payload model's particles are the same ODE: a magnet raises the tumor's drug exposure, and
    the drug's own mass balance still closes."""
    d = design(diameter=100)
    d["payloads"] = [{"drug": "doxorubicin", "loading_wt_pct": 5}]
    base = copy.deepcopy(d)
    base["treatment"]["magnets"] = []
    on, off = run(d), run(base)
    assert on["tumor_drug_auc_ug_h_per_g"] > 1.05 * off["tumor_drug_auc_ug_h_per_g"]
    assert abs(on["drug_mass_balance_error"]) < 1e-6
