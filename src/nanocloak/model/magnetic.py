"""Magnetic targeting (treatment.magnets, issue 17): magnetophoretic capture of circulating magnetic
particles in the tumor's vessels while a magnet is held over the tumor.

A core's magnetic moment in the field B pulls it along the field gradient against Stokes drag; the
drift velocity across a tumor microvessel gives a one-way capture rate from the tumor's capillary
blood into its retained pool, applied inside the magnet's window (particle_kernel P_CAPT_*; the numpy
engine's _exchange_rates). Only magnetic cores respond (materials.yaml `magnetic: true` with a
saturation magnetisation > 0); any other core gets rate 0 and the report says the magnet did nothing.
Numbers: data/magnetic.yaml and materials.yaml, each with its source. docs/magnetic.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nanocloak.library import tables as library


@dataclass(frozen=True)
class MagnetCapture:
    """One magnet window and what it does to this particle."""

    start_h: float
    end_h: float
    field_T: float
    gradient_T_per_m: float
    magnetic: bool                     # the core responds at all
    magnetisation_A_per_m: float       # M(B) of the core (0 for a non-magnetic core)
    force_N: float                     # magnetophoretic force on one particle
    velocity_um_per_s: float           # drift against Stokes drag
    capture_rate_per_h: float          # tumor capillary blood -> tumor tissue, inside the window
    magnetic_fraction: float = 0.0     # magnetic volume over the core's outer volume
    crystal_nm: float = 0.0            # one superparamagnetic crystal (the Langevin moment)
    wall_arrival_rate_per_h: float = 0.0   # v / d: reaching the vessel wall
    transwall_peclet: float = 0.0          # F L / kT through the wall's openings
    transwall_rate_per_h: float = 0.0      # the push through the wall (inf: not limited, no PA given)


def constant(key: str) -> float:
    """A constant of data/magnetic.yaml (sourced there)."""
    return library.value(library.table("magnetic")["capture"][key], f"magnetic.capture.{key}")


def core_is_magnetic(material: str) -> bool:
    """materials.yaml: `magnetic: true` or a saturation magnetisation above zero."""
    entry = library.entry("materials", material)
    ms = entry.get("saturation_magnetisation_A_m2_per_kg")
    return bool(entry.get("magnetic", False)) or (ms is not None and library.value(ms) > 0)


def saturation_magnetisation_A_per_m(material: str) -> float:
    """Volume saturation magnetisation (A/m) = mass magnetisation (A m2/kg) x core density (kg/m3)."""
    entry = library.entry("materials", material)
    ms = entry.get("saturation_magnetisation_A_m2_per_kg")
    if ms is None or not core_is_magnetic(material):
        return 0.0
    density = library.value(entry["density_g_per_cm3"]) * 1000.0
    return library.value(ms) * density


def langevin(xi: float) -> float:
    """L(xi) = coth(xi) - 1/xi, the equilibrium magnetisation of a superparamagnetic moment
    (Langevin paramagnetism, textbook physics; not looked up here), with its series below 1e-4."""
    if xi < 1e-4:
        return xi / 3.0
    return 1.0 / math.tanh(xi) - 1.0 / xi


def magnetic_content(core_diameter_nm: float, fraction: float | None = None,
                     crystal_nm: float | None = None) -> tuple[float, float]:
    """(magnetic volume fraction of the core, diameter of one magnetic crystal in nm).

    A core no larger than single_crystal_max_nm (data/magnetic.yaml) is one single-domain crystal:
    fraction 1, the crystal the whole core. A larger core is a multi-core cluster (magnetite crystals of
    ~10-20 nm held in a matrix: Buttner M et al., multicore magnetite nanoparticles, 10-20 nm crystals in
    100-150 nm droplets): crystals of multicore_crystal_nm, magnetic volume the fraction
    multicore_volume_fraction of the outer volume (assumption, data/magnetic.yaml).
    core.magnetic_fraction / core.magnetic_crystal_nm override either."""
    single = core_diameter_nm <= constant("single_crystal_max_nm")
    if crystal_nm:
        crystal = float(crystal_nm)
    else:
        crystal = float(core_diameter_nm) if single else constant("multicore_crystal_nm")
    if fraction is None:
        fraction = 1.0 if single else constant("multicore_volume_fraction")
    return float(fraction), min(crystal, float(core_diameter_nm))


def magnet_capture(material: str, core_diameter_nm: float, hydrodynamic_diameter_nm: float, magnet,
                   magnetic_fraction: float | None = None, crystal_nm: float | None = None,
                   wall_exchange_per_h: float | None = None) -> MagnetCapture:
    """The capture one magnet gives this particle.

    The magnetic volume V_m = phi V_core, phi the core's magnetic volume fraction: a multi-core particle
    acts as one magnetic entity whose magnetic volume is the sum of its crystals' volumes (radiologykey.com
    "Delivery and imaging", magnetic force on a particle: "the volume of the particles ... can be summed").
    Each crystal is its own superparamagnetic moment m_c = Ms V_c, so the magnetisation follows the
    crystal's Langevin function, M(B) = Ms L(Ms V_c B / kT) (Langevin paramagnetism, textbook; dipolar
    coupling between crystals, which lowers the force further at high packing (Kuznetsov AA, arXiv
    1805.02347, abstract), is left out). F = V_m M(B) grad B and v = F / (3 pi eta d_h) (magnetophoretic
    force against Stokes drag: the force balance of Furlani & Ng 2006, as issue 17 names it; Sharma S et
    al. 2015, J Magn Magn Mater 379:102, abstract read: trajectories from the magnetization force against
    drag). A particle spread across a vessel of diameter d drifting at v reaches the wall at the rate
    v / d (1/h), the uniform-inflow limit of those trajectory models. Reaching the wall is not entering
    the tumor: with wall_exchange_per_h (the tumor's PA / V_cap) the crossing is limited too
    (transwall_rate), and the two steps act in series. What crosses enters the tumor's retained pool (PC,
    left at the tumor's release rate KTRESrelease), not the freely exchanging interstitium (assumption,
    docs/magnetic.md).
    """
    start = float(magnet.at_h)
    end = start + float(magnet.duration_min) / 60.0
    field, gradient = float(magnet.field_T), float(magnet.gradient_T_per_m)
    ms = saturation_magnetisation_A_per_m(material)
    if ms <= 0.0:
        return MagnetCapture(start, end, field, gradient, False, 0.0, 0.0, 0.0, 0.0)
    fraction, crystal = magnetic_content(core_diameter_nm, magnetic_fraction, crystal_nm)
    volume = fraction * math.pi / 6.0 * (core_diameter_nm * 1e-9) ** 3            # magnetic volume, m3
    v_crystal = math.pi / 6.0 * (crystal * 1e-9) ** 3                              # one crystal, m3
    kt = thermal_energy_J()
    m_of_b = ms * langevin(ms * v_crystal * field / kt)                           # A/m of the magnetic phase
    force = volume * m_of_b * gradient                                            # N
    eta = constant("plasma_viscosity_mPa_s") * 1e-3                               # Pa s
    velocity = force / (3.0 * math.pi * eta * hydrodynamic_diameter_nm * 1e-9)    # m/s
    arrival = velocity / (constant("tumor_vessel_diameter_um") * 1e-6) * 3600.0   # 1/h
    rate, peclet, crossing = arrival, 0.0, math.inf
    if wall_exchange_per_h is not None:
        peclet, crossing = transwall_rate(force, wall_exchange_per_h)
        # two steps in series (reach the wall, then cross it): resistances add
        rate = 0.0 if crossing <= 0.0 else arrival * crossing / (arrival + crossing)
    return MagnetCapture(start, end, field, gradient, True, m_of_b, force, velocity * 1e6, rate,
                         fraction, crystal, arrival, peclet, crossing)


def thermal_energy_J() -> float:
    """kT at the body temperature of therapy.yaml."""
    from scipy.constants import Boltzmann, zero_Celsius  # only with a magnet: ~0.15 s to import

    body_C = library.value(library.table("therapy")["thermal"]["body_temperature_C"], "therapy.thermal.body_temperature_C")
    return Boltzmann * (body_C + zero_Celsius)


def transwall_rate(force_N: float, wall_exchange_per_h: float) -> tuple[float, float]:
    """(Peclet number, extra one-way rate 1/h) of the magnetic push through the tumor vessel's wall.

    A particle crosses the wall only through its openings, the ones its diffusive exchange PA already
    uses (the model's pore-theory PA of the tumor for this particle size). A steady force on it adds a
    drift v through an opening of length L to its diffusion D, and the one-dimensional drift-diffusion
    flux through a membrane is J = P C_v Pe / (1 - exp(-Pe)) with Pe = v L / D when the far side is
    dilute (the convection-diffusion flux of a membrane, Patlak CS, Goldstein DA & Hoffman JF 1963,
    J Theor Biol 5:426, for solvent drag; the same form for any steady drift). With the same Stokes drag
    in v = F / (3 pi eta d) and D = kT / (3 pi eta d) (Stokes-Einstein), Pe = F L / kT: the viscosity and
    the pore's hindrance of drift and diffusion alike cancel. The magnet's extra one-way rate from the
    capillary blood is PA / V_cap x (Pe / (1 - exp(-Pe)) - 1): nothing without force (Pe -> 0) and
    nothing through a wall without openings (PA = 0). L: data/magnetic.yaml vessel_wall_thickness_um."""
    peclet = force_N * constant("vessel_wall_thickness_um") * 1e-6 / thermal_energy_J()
    if peclet < 1e-6:
        gain = peclet / 2.0                                    # series of Pe/(1-exp(-Pe)) - 1 at small Pe
    else:
        gain = peclet / -math.expm1(-peclet) - 1.0
    return peclet, max(wall_exchange_per_h, 0.0) * gain


def wall_exchange_per_h(params) -> float | None:
    """The tumor's PA / V_cap (1/h) for this particle, from the resolved parameters (Cheng 2020's PATC x
    QTC x cardiac output over VTC x body weight x BVT, as model/parameters/systems.py builds them)."""
    try:
        pa = params["tumor.PATC"] * params["tumor.QTC"] * params["cardiac_output_L_per_h"]
        v_cap = params["tumor.VTC"] * params["body_weight_kg"] * params["tumor.BVT"]
    except KeyError:
        return None
    return pa / v_cap if v_cap > 0 else None


def magnet_captures(f, hydrodynamic_diameter_nm: float, params=None) -> list[MagnetCapture]:
    """Every magnet of the formulation, in time order (none without a tumor or a particle); with the
    resolved parameters the capture is limited by the tumor wall's openings (transwall_rate)."""
    magnets = getattr(f.treatment, "magnets", [])
    if not magnets or f.subject.tumor is None or f.core.is_free_drug:
        return []
    fraction = getattr(f.core, "magnetic_fraction", None)
    crystal = getattr(f.core, "magnetic_crystal_nm", None)
    wall = wall_exchange_per_h(params) if params is not None else None
    return [magnet_capture(f.core.material, float(f.core.diameter_nm), hydrodynamic_diameter_nm, m, fraction, crystal,
                           wall) for m in sorted(magnets, key=lambda m: m.at_h)]


def magnet_metrics(captures: list[MagnetCapture], material: str) -> dict:
    """metrics.magnetic_targeting: the window, the physics and whether the core responded."""
    if not captures:
        return {}
    first = captures[0]
    out = {
        "core_is_magnetic": first.magnetic,
        "magnet_on_h": [c.start_h for c in captures],
        "magnet_off_h": [c.end_h for c in captures],
        "core_magnetisation_kA_per_m": first.magnetisation_A_per_m / 1000.0,
        "magnetophoretic_force_fN": first.force_N * 1e15,
        "magnetophoretic_velocity_um_per_s": first.velocity_um_per_s,
        "capture_rate_per_h": max(c.capture_rate_per_h for c in captures),
        "magnetic_volume_fraction": first.magnetic_fraction,
        "magnetic_crystal_nm": first.crystal_nm,
        "wall_arrival_rate_per_h": first.wall_arrival_rate_per_h,
        "transwall_peclet": first.transwall_peclet,
    }
    if math.isfinite(first.transwall_rate_per_h):
        out["transwall_rate_per_h"] = first.transwall_rate_per_h
    if not first.magnetic:
        out["note"] = (f"the core ({material}) is not magnetic (materials.yaml): the magnet over the tumor does "
                       "nothing to these particles")
    return out


def magnet_lines(m: dict) -> list[str]:
    """The report's sentence on treatment.magnets (metrics.magnetic_targeting; none without a magnet)."""
    mt = m.get("magnetic_targeting")
    if not mt:
        return []
    window = f"{mt['magnet_on_h'][0]:g}-{mt['magnet_off_h'][0]:g} h"
    if not mt["core_is_magnetic"]:
        return [f"Magnet over the tumor ({window}): {mt['note']}."]
    wall = ""
    if "transwall_rate_per_h" in mt:
        wall = (f" (they reach the vessel wall at {mt['wall_arrival_rate_per_h']:.3g} per h and are pushed through its "
                f"openings at {mt['transwall_rate_per_h']:.3g} per h, Peclet number {mt['transwall_peclet']:.2g})")
    return [f"Magnet over the tumor ({window}): the cores drift at {mt['magnetophoretic_velocity_um_per_s']:.3g} um/s "
            f"toward it (force {mt['magnetophoretic_force_fN']:.3g} fN), captured from the tumor's blood at "
            f"{mt['capture_rate_per_h']:.3g} per h into the tumor while it is on{wall}."]
