"""The magnetic content of a core (core.magnetic_fraction, core.magnetic_crystal_nm; model/magnetic.py):
multi-core clusters carry only part of their volume as magnetite, each crystal its own Langevin moment."""

import math

import pytest

import nanocloak
from nanocloak.errors import FormulationError
from nanocloak.model import magnetic
from nanocloak.spec.formulation import from_dict


class Magnet:
    at_h, duration_min, field_T, gradient_T_per_m = 0.0, 30.0, 0.4, 40.0


def weak(field):
    class M(Magnet):
        field_T = field
    return M


def design(material="iron_oxide", diameter=100, magnet=True, **core):
    return {
        "nanocloak": 1, "name": "content",
        "core": {"material": material, "diameter_nm": diameter, **core},
        "surface": {"kind": "peg", "peg": {"mw_kDa": 2}},
        "dose": {"mg_per_kg": 10},
        "subject": {"species": "mouse", "body_weight_g": 20, "tumor": {"line": "4T1", "volume_mm3": 100}},
        "treatment": {"magnets": [{"at_h": 0, "duration_min": 60, "field_T": 0.4, "gradient_T_per_m": 40}]
                      if magnet else []},
        "simulate": {"end_h": 24},
    }


def test_force_is_linear_in_the_magnetic_fraction():
    full = magnetic.magnet_capture("iron_oxide", 100, 120, Magnet, magnetic_fraction=1.0)
    tenth = magnetic.magnet_capture("iron_oxide", 100, 120, Magnet, magnetic_fraction=0.1)
    assert tenth.force_N == pytest.approx(0.1 * full.force_N, rel=1e-12, abs=0)
    assert tenth.capture_rate_per_h == pytest.approx(0.1 * full.capture_rate_per_h, rel=1e-12, abs=0)


def test_hand_calculation_of_a_multicore_particle():
    c = magnetic.magnet_capture("iron_oxide", 100, 150, Magnet, magnetic_fraction=0.25, crystal_nm=12)
    ms = magnetic.saturation_magnetisation_A_per_m("iron_oxide")
    from scipy.constants import Boltzmann, zero_Celsius
    kt = Boltzmann * (37.0 + zero_Celsius)
    xi = ms * math.pi / 6 * (12e-9) ** 3 * 0.4 / kt                 # one 12 nm crystal's moment in 0.4 T
    m_of_b = ms * (1 / math.tanh(xi) - 1 / xi)
    force = 0.25 * math.pi / 6 * (100e-9) ** 3 * m_of_b * 40.0
    assert c.magnetisation_A_per_m == pytest.approx(m_of_b, rel=1e-3, abs=0)
    assert c.force_N == pytest.approx(force, rel=1e-3, abs=0)
    eta = magnetic.constant("plasma_viscosity_mPa_s") * 1e-3
    assert c.velocity_um_per_s == pytest.approx(force / (3 * math.pi * eta * 150e-9) * 1e6, rel=1e-3, abs=0)


def test_small_crystals_are_further_from_saturation_in_a_weak_field():
    """Langevin per crystal: a smaller crystal's moment is aligned less by the same field."""
    small = magnetic.magnet_capture("iron_oxide", 100, 120, weak(0.02), magnetic_fraction=0.3, crystal_nm=6)
    large = magnetic.magnet_capture("iron_oxide", 100, 120, weak(0.02), magnetic_fraction=0.3, crystal_nm=18)
    ms = magnetic.saturation_magnetisation_A_per_m("iron_oxide")
    assert small.magnetisation_A_per_m < large.magnetisation_A_per_m < ms
    assert small.magnetisation_A_per_m < 0.5 * ms                     # well below saturation at 20 mT


def test_orderings_in_gradient_field_and_core_size():
    rates = [magnetic.magnet_capture("iron_oxide", 100, 120, type("M", (Magnet,), {"gradient_T_per_m": g}))
             .capture_rate_per_h for g in (1, 10, 100)]
    assert rates[0] < rates[1] < rates[2]
    fields = [magnetic.magnet_capture("iron_oxide", 100, 120, weak(b)).capture_rate_per_h for b in (0.005, 0.05, 0.5)]
    assert fields[0] < fields[1] < fields[2]
    sizes = [magnetic.magnet_capture("iron_oxide", d, d + 20, Magnet, magnetic_fraction=0.3).capture_rate_per_h
             for d in (40, 80, 160)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_default_content_single_crystal_versus_cluster():
    single = magnetic.magnetic_content(15)
    cluster = magnetic.magnetic_content(100)
    assert single == (1.0, 15.0)                                       # one crystal: all magnetite
    assert cluster[0] == magnetic.constant("multicore_volume_fraction") < 1.0
    assert cluster[1] == magnetic.constant("multicore_crystal_nm")
    assert magnetic.magnetic_content(100, 0.5, 10) == (0.5, 10.0)       # the core's own fields win


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, d in {"dense": design(magnetic_fraction=1.0), "sparse": design(magnetic_fraction=0.05),
                    "none": design(magnet=False)}.items():
        out[name] = nanocloak.simulate(from_dict(d)).metrics
    return out


def test_more_magnetite_captures_more_and_mass_is_conserved(runs):
    assert runs["dense"]["tumor_pct_id_24h"] > runs["sparse"]["tumor_pct_id_24h"] > runs["none"]["tumor_pct_id_24h"]
    for m in runs.values():
        assert abs(m["mass_balance_error"]) < 1e-6
    mt = runs["sparse"]["magnetic_targeting"]
    assert mt["magnetic_volume_fraction"] == 0.05
    assert mt["magnetic_crystal_nm"] == magnetic.constant("multicore_crystal_nm")


def test_plga_unchanged_and_content_refused_on_it():
    on = nanocloak.simulate(from_dict(design("plga", 70))).metrics
    off = nanocloak.simulate(from_dict(design("plga", 70, magnet=False))).metrics
    assert on["tumor_pct_id_24h"] == pytest.approx(off["tumor_pct_id_24h"], rel=0.05)
    with pytest.raises(FormulationError, match="magnetic_fraction.*not magnetic"):
        from_dict(design("plga", 70, magnetic_fraction=0.3))


@pytest.mark.parametrize("core, words", [
    ({"magnetic_fraction": 0}, "magnetic_fraction"),
    ({"magnetic_fraction": 1.5}, "magnetic_fraction"),
    ({"magnetic_crystal_nm": 150}, "magnetic_crystal_nm"),
])
def test_bad_magnetic_content_is_a_clear_error(core, words):
    with pytest.raises(FormulationError, match=words):
        from_dict(design(**core))


def test_transwall_push_limits():
    """Drift-diffusion through the wall's openings: J/J_diffusive = Pe / (1 - exp(-Pe))."""
    kt = magnetic.thermal_energy_J()
    length = magnetic.constant("vessel_wall_thickness_um") * 1e-6
    pe, extra = magnetic.transwall_rate(kt / length, 10.0)              # a force giving Pe = 1
    assert pe == pytest.approx(1.0, rel=1e-12, abs=0)
    assert extra == pytest.approx(10.0 * (1.0 / (1.0 - math.exp(-1.0)) - 1.0), rel=1e-12, abs=0)
    assert magnetic.transwall_rate(0.0, 10.0) == (0.0, 0.0)              # no force, no push
    assert magnetic.transwall_rate(kt / length, 0.0)[1] == 0.0           # no openings, no push
    _, tiny = magnetic.transwall_rate(1e-4 * kt / length, 10.0)
    assert tiny == pytest.approx(10.0 * 1e-4 / 2, rel=1e-3, abs=0)     # Pe/2 at small Pe
    _, strong = magnetic.transwall_rate(50 * kt / length, 10.0)
    assert strong == pytest.approx(10.0 * 49.0, rel=1e-6, abs=0)        # pure drift: Pe - 1


def test_capture_is_the_slower_of_reaching_and_crossing_the_wall():
    for wall in (0.1, 10.0, 1e4):
        c = magnetic.magnet_capture("iron_oxide", 100, 120, Magnet, wall_exchange_per_h=wall)
        assert 0.0 < c.capture_rate_per_h < min(c.wall_arrival_rate_per_h, c.transwall_rate_per_h)
        assert c.capture_rate_per_h == pytest.approx(
            1.0 / (1.0 / c.wall_arrival_rate_per_h + 1.0 / c.transwall_rate_per_h), rel=1e-12, abs=0)
    closed = magnetic.magnet_capture("iron_oxide", 100, 120, Magnet, wall_exchange_per_h=0.0)
    assert closed.capture_rate_per_h == 0.0


def test_single_small_crystal_is_hardly_captured():
    """A lone 20 nm crystal's force is far below kT over the wall: the magnet barely adds to diffusion."""
    small = magnetic.magnet_capture("iron_oxide", 20, 35, Magnet, wall_exchange_per_h=10.0)
    cluster = magnetic.magnet_capture("iron_oxide", 100, 120, Magnet, wall_exchange_per_h=10.0)
    assert small.transwall_peclet < 0.02 < cluster.transwall_peclet
    assert small.capture_rate_per_h < 0.01 * small.wall_arrival_rate_per_h
    assert cluster.capture_rate_per_h > 10 * small.capture_rate_per_h
