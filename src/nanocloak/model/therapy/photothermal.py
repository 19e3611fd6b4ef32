"""Photothermal heating of the tumor under a laser, and the thermal damage it does.

Light: the laser's power density I falls on the tumor's cross-section (pi R^2, the beam covering the
tumor), is attenuated by the skin above it (exp(-mu_eff d), diffusion theory) and absorbed in the
tumor by the particles (ln10 x mass extinction x concentration), loaded dyes (ln10 x molar
extinction x molarity) and the tissue itself (mu_a), over a diffuse path of DPF x 4R/3 (mean chord of
a sphere times the differential pathlength factor, Delpy 1988). Particles and dyes turn absorbed
light into heat with their photothermal conversion efficiency; tissue absorption becomes heat.

Heat: a lumped Pennes bioheat balance (Pennes HH 1948, J Appl Physiol 1:93) for two nodes, tumor and
the skin over it:

    C_T dT/dt = Q_T - G_body (T - 37) - w_T rho_b c_b V_T (T - 37) - G_TS (T - S)
    C_S dS/dt = Q_S - h A (S - T_air)  - w_S rho_b c_b V_S (S - 37) + G_TS (T - S)

G_body is conduction into the body: from the base of a subcutaneous tumor (a disk of radius R on a
half-space, 4 k R) or from the whole surface of an embedded one (a sphere, 4 pi k R) (Carslaw &
Jaeger 1959). Thermal damage: CEM43 = sum R^(43 - T) dt, R = 0.5 above 43 C and 0.25 below
(Sapareto & Dewey 1984, Int J Radiat Oncol Biol Phys 10:787).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from nanocloak.errors import NanocloakError
from nanocloak.library import tables as library
from nanocloak.solvers.compiled import inlined, observe_state, shifted_lu, solve_into
from nanocloak.solvers.rodas4 import IntegrationError
from nanocloak.solvers.stepper import rodas4_stepper
from nanocloak.spec.formulation import Formulation, Laser

EMBEDDED_SITES = ("brain", "lung_metastasis")


def _t(group: str, key: str) -> float:
    return library.value(library.table("therapy")[group][key], f"therapy.{group}.{key}")


def tissue_optics(wavelength_nm: float) -> tuple[float, float]:
    """(mu_a, mu_eff) of soft tissue (1/cm) at the tabulated wavelength nearest the laser's."""
    table = library.table("therapy")["thermal"]["tissue_absorption"]
    nearest = min(table, key=lambda w: abs(float(w) - wavelength_nm))
    node = table[nearest]
    return library.value(node["mua_per_cm"]), library.value(node["mueff_per_cm"])


def material_extinction(material: str, wavelength_nm: float) -> tuple[float, float]:
    """(mass extinction L/(g cm), photothermal efficiency) of a core at the nearest tabulated wavelength."""
    m = library.entry("materials", material)
    options = {w: f"mass_extinction_coefficient_{w}_L_per_g_cm" for w in (660, 808, 1064)}
    best = min((w for w, k in options.items() if isinstance(m.get(k), dict)), key=lambda w: abs(w - wavelength_nm), default=None)
    ext = library.value(m[options[best]]) if best is not None else 0.0
    if best is not None and abs(best - wavelength_nm) > 150:
        ext = 0.0          # no tabulated value near this wavelength: treat the core as transparent there
    eff = m.get("photothermal_conversion_efficiency")
    return ext, library.value(eff) if isinstance(eff, dict) else 0.0


def dye_absorption(drug: str, wavelength_nm: float) -> tuple[float, float, float]:
    """(molar extinction at the laser wavelength 1/(M cm), photothermal efficiency, singlet oxygen yield)."""
    d = library.entry("drugs", drug)
    peak, eps = d.get("absorption_peak_nm"), d.get("molar_extinction_at_peak_per_M_per_cm")
    if not isinstance(peak, dict) or not isinstance(eps, dict):
        return 0.0, 0.0, 0.0
    width = _t("photodynamic", "absorption_bandwidth_nm")
    match = math.exp(-0.5 * ((wavelength_nm - library.value(peak)) / width) ** 2)
    eff = d.get("photothermal_conversion_efficiency")
    phi = d.get("singlet_oxygen_quantum_yield")
    return (library.value(eps) * match, library.value(eff) if isinstance(eff, dict) else 0.0,
            library.value(phi) if isinstance(phi, dict) else 0.0)


@dataclass
class Absorbers:
    """What sits in the tumor when the light comes on."""

    particle_g_per_L: float                       # core mass concentration in the tumor
    dyes_M: dict[str, float]                      # molar concentration of each loaded dye / photosensitiser


@dataclass
class LightBudget:
    incident_W: float
    skin_transmission: float
    absorbed_fraction: float
    heat_tumor_W: float
    heat_skin_W: float
    absorbed_by_dye_W: dict[str, float]


def light_budget(f: Formulation, laser: Laser, tumor_volume_mm3: float, absorbers: Absorbers) -> LightBudget:
    radius_cm = (3.0 * tumor_volume_mm3 / (4.0 * math.pi)) ** (1 / 3) / 10.0
    area_cm2 = math.pi * radius_cm**2
    incident = laser.power_W_per_cm2 * area_cm2
    mua, mueff = tissue_optics(laser.wavelength_nm)
    site = _tumor(f).site
    depth_cm = (_t("thermal", "skin_thickness_mm") + site_extra_depth_mm(site)) / 10.0
    transmission = math.exp(-mueff * depth_cm)
    ext, eff = (0.0, 0.0) if f.core.is_free_drug else material_extinction(f.core.material, laser.wavelength_nm)
    mu_particles = math.log(10) * ext * absorbers.particle_g_per_L
    mu_dyes, heat_weight = {}, mu_particles * eff + mua
    for drug, molar in absorbers.dyes_M.items():
        eps, dye_eff, _ = dye_absorption(drug, laser.wavelength_nm)
        mu_dyes[drug] = math.log(10) * eps * molar
        heat_weight += mu_dyes[drug] * dye_eff
    mu_total = mua + mu_particles + sum(mu_dyes.values())
    path = _t("thermal", "differential_pathlength_factor") * 4.0 * radius_cm / 3.0
    absorbed = 1.0 - math.exp(-mu_total * path)
    into_tumor = incident * transmission
    heat_tumor = into_tumor * absorbed * heat_weight / mu_total
    skin_mua = mua                                 # skin's own absorption of the light passing it
    heat_skin = incident * skin_mua * _t("thermal", "skin_thickness_mm") / 10.0 * _t("thermal", "differential_pathlength_factor")
    by_dye = {d: into_tumor * absorbed * mu / mu_total for d, mu in mu_dyes.items()}
    return LightBudget(incident, transmission, absorbed, heat_tumor, min(heat_skin, incident), by_dye)


@dataclass
class Heating:
    laser: Laser
    t_h: np.ndarray            # absolute time (h)
    tumor_C: np.ndarray
    skin_C: np.ndarray
    cem43_min: float           # tumor thermal dose of this exposure
    budget: LightBudget

    @property
    def tumor_max_C(self) -> float:
        return float(self.tumor_C.max())

    @property
    def skin_max_C(self) -> float:
        return float(self.skin_C.max())


def _conductances(f: Formulation, tumor_volume_mm3: float) -> dict[str, float]:
    radius_m = (3.0 * tumor_volume_mm3 / (4.0 * math.pi)) ** (1 / 3) / 1000.0
    k = _t("thermal", "tissue_conductivity_W_per_m_K")
    rho_c_blood = _t("thermal", "blood_volumetric_heat_capacity_J_per_mL_K")
    v_tumor_mL = tumor_volume_mm3 / 1000.0
    area_m2 = math.pi * radius_m**2
    skin_m = _t("thermal", "skin_thickness_mm") / 1000.0
    v_skin_mL = area_m2 * skin_m * 1e6
    embedded = _tumor(f).site in EMBEDDED_SITES
    return {
        "body": (4.0 * math.pi if embedded else 4.0) * k * radius_m,
        "perf_tumor": _t("thermal", "tumor_perfusion_mL_per_min_per_g") / 60.0 * v_tumor_mL * rho_c_blood,
        "perf_skin": _t("thermal", "skin_perfusion_mL_per_min_per_g") / 60.0 * v_skin_mL * rho_c_blood,
        "tumor_skin": k * area_m2 / (skin_m / 2.0 + radius_m / 2.0),
        "air": _t("thermal", "air_heat_transfer_W_per_m2_K") * area_m2,
        "c_tumor": _t("thermal", "tissue_density_g_per_cm3") * _t("thermal", "tissue_heat_capacity_J_per_g_K") * v_tumor_mL,
        "c_skin": _t("thermal", "tissue_density_g_per_cm3") * _t("thermal", "tissue_heat_capacity_J_per_g_K") * v_skin_mL,
    }


def _tumor(f: Formulation):
    """The tumor (a laser exposure is refused without one: Formulation._check)."""
    if f.subject.tumor is None:
        raise NanocloakError("treatment.lasers: a laser needs subject.tumor (the heated tissue)")
    return f.subject.tumor


def body_temperature_C() -> float:
    return _t("thermal", "body_temperature_C")


def site_extra_depth_mm(site: str) -> float:
    """Tumor depth beyond the skin at a site (therapy.yaml; 0 for a site the table does not list)."""
    depths = library.table("therapy")["thermal"]["site_extra_depth_mm"]
    return library.value(depths[site], f"therapy.thermal.site_extra_depth_mm.{site}") if site in depths else 0.0


def cem43(t_h: np.ndarray, temp_C: np.ndarray) -> float:
    """Cumulative equivalent minutes at 43 C: sum R^(43 - T) dt (Sapareto & Dewey 1984)."""
    ref = _t("damage", "cem43_reference_C")
    r = np.where(temp_C >= ref, _t("damage", "cem43_r_above"), _t("damage", "cem43_r_below"))
    integrand, minutes = r ** (ref - temp_C), t_h * 60.0
    return float(np.trapezoid(integrand, minutes))


def heat(f: Formulation, laser: Laser, tumor_volume_mm3: float, absorbers: Absorbers) -> Heating:
    """Tumor and skin temperature through one exposure and the cooldown after it."""
    g = _conductances(f, tumor_volume_mm3)
    budget = light_budget(f, laser, tumor_volume_mm3, absorbers)
    air, body_C = _t("thermal", "ambient_temperature_C"), body_temperature_C()
    on_s = laser.duration_min * 60.0
    total_s = on_s + _t("thermal", "cooldown_min") * 60.0
    # C dy/dt = a y + b (+ the absorbed light while the laser is on), y = (tumor, skin) in C
    a = np.array([[-(g["body"] + g["perf_tumor"] + g["tumor_skin"]), g["tumor_skin"]],
                  [g["tumor_skin"], -(g["air"] + g["perf_skin"] + g["tumor_skin"])]])
    b = np.array([(g["body"] + g["perf_tumor"]) * body_C, g["air"] * air + g["perf_skin"] * body_C])
    capacity = np.array([g["c_tumor"], g["c_skin"]])
    light = np.array([budget.heat_tumor_W, budget.heat_skin_W])
    # start from the unheated steady state (the skin sits a little below 37 C, cooled by the air)
    y0 = np.linalg.solve(a, -b)
    t_on = np.linspace(0, on_s, 121)
    t_off = np.linspace(on_s, total_s, 61)[1:]
    on = _linear_course(a / capacity[:, None], (b + light) / capacity, y0, t_on)
    off = _linear_course(a / capacity[:, None], b / capacity, on[-1], t_off - on_s)
    t_h = laser.at_h + np.concatenate([t_on, t_off]) / 3600.0
    temps = np.concatenate([on, off])
    return Heating(laser, t_h, temps[:, 0], temps[:, 1], cem43(t_h, temps[:, 0]), budget)


# ------------------------------------------------------------------------------------------------
# the two-node balance dy/dt = A y + c (constant over an exposure, and over the cooldown) by the
# shared Rodas4 core (solvers/rodas4_template.py); m = (A, c, LU of I - g A, pivots)
# ------------------------------------------------------------------------------------------------
HEAT_RTOL, HEAT_ATOL = 1e-8, 1e-8     # C: as the scipy RK45 this replaces
INITIAL_STEP_S = 1e-3
MAX_STEPS = 100_000


@inlined
def _element(batch, e):
    """ELEMENT: the system's matrix and constant term, work arrays, and the initial temperatures."""
    a, c, y0 = batch
    return (a, c, np.empty(a.shape), np.empty(a.shape[0], dtype=np.int64)), y0[e].copy()


@inlined
def _rhs(m, t, y, out):
    """RHS: A y + c."""
    a, c = m[0], m[1]
    for i in range(y.size):
        acc = c[i]
        for j in range(y.size):
            acc += a[i, j] * y[j]
        out[i] = acc


@inlined
def _factor(m, tau, h, g, y, ft):
    """FACTOR: an autonomous linear system: J = A, no time derivative."""
    for i in range(y.size):
        ft[i] = 0.0
    shifted_lu(m[0], g, m[2], m[3])


@inlined
def _solve(m, g, r, k):
    """SOLVE: dense LU of I - g A."""
    solve_into(m[2], m[3], r, k)


@inlined
def _no_stop(m, tau, end):
    """STOP: nothing jumps inside a phase."""
    return end


@cache
def stepper():
    """The heat balance's compiled Rodas4 stepper (generated on first use, compiled on first call)."""
    return rodas4_stepper("heat", ELEMENT=_element, FACTOR=_factor, RHS=_rhs, SOLVE=_solve, STOP=_no_stop,
                          OBSERVE=observe_state)


def _linear_course(a: np.ndarray, c: np.ndarray, y0: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """y at t_s (from 0, increasing) of dy/dt = a y + c, y(0) = y0: (t_s.size, 2)."""
    out = np.empty((1, t_s.size, y0.size))
    steps, rejected = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    batch = (np.ascontiguousarray(a), np.ascontiguousarray(c), np.ascontiguousarray(y0, dtype=float)[None, :])
    stepper().integrate_range(batch, 0, 1, np.ascontiguousarray(t_s, dtype=float)[None, :], np.array([t_s.size]),
                              INITIAL_STEP_S, HEAT_RTOL, HEAT_ATOL, MAX_STEPS, out, steps, rejected)
    if steps[0] < 0:
        raise IntegrationError("the heat balance failed to integrate; check the laser and tumor inputs")
    return out[0]


def thermal_kill_fraction(cem: float) -> float:
    """Fraction of tumor cells killed by a thermal dose: half at CEM43_50 (log-linear survival)."""
    return 1.0 - 2.0 ** (-cem / _t("damage", "cem43_for_half_kill_min"))


# ------------------------------------------------------------------------------------------------
# a stated absorber amount: the optics and the heat balance alone, without the delivery model
# ------------------------------------------------------------------------------------------------
def _non_negative(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0.0:
        raise NanocloakError(f"{name}: must be a finite amount >= 0 (got {value!r})")
    return float(value)


def absorbers_for_amount(tumor_volume_mm3: float, core_ug: float = 0.0,
                         dyes_ug: dict[str, float] | None = None) -> Absorbers:
    """A stated amount of core (ug) and of optical dyes (ug each) spread evenly through the tumor:
    an intratumoral dose at the time of the light, or the content a delivery model must supply."""
    if not math.isfinite(tumor_volume_mm3) or tumor_volume_mm3 <= 0.0:
        raise NanocloakError(f"tumor_volume_mm3: must be > 0 mm3 (got {tumor_volume_mm3!r})")
    volume_L = tumor_volume_mm3 * 1e-6
    dyes: dict[str, float] = {}
    for drug, ug in (dyes_ug or {}).items():
        mw = library.entry("drugs", drug).get("molecular_weight_g_per_mol")
        if not isinstance(mw, dict):
            raise NanocloakError(f"dyes_ug.{drug}: the library has no molecular weight for this drug")
        dyes[drug] = _non_negative(f"dyes_ug.{drug}", ug) * 1e-6 / library.value(mw) / volume_L
    return Absorbers(_non_negative("core_ug", core_ug) * 1e-6 / volume_L, dyes)


def heating_for_amount(f: Formulation, laser: Laser, tumor_volume_mm3: float, core_ug: float = 0.0,
                       dyes_ug: dict[str, float] | None = None) -> Heating:
    """Tumor heating by a known absorber amount in the tumor (f gives the core material, the
    tumor's site and the body): light_budget and heat with no particle or payload model."""
    return heat(f, laser, tumor_volume_mm3, absorbers_for_amount(tumor_volume_mm3, core_ug, dyes_ug))


def content_for_peak(f: Formulation, laser: Laser, tumor_volume_mm3: float, target_C: float,
                     dye: str | None = None) -> float | None:
    """The content (ug per g of tumor) of f's core, or of `dye`, whose exposure peaks at target_C:
    what a delivery model would have to place in the tumor. None where even a tumor that absorbs
    all the light (content up to 100 mg/g) stays below target_C. Bisection in log content."""
    grams = tumor_volume_mm3 / 1000.0 * _t("thermal", "tissue_density_g_per_cm3")

    def peak(ug_per_g: float) -> float:
        ug = ug_per_g * grams
        kw = {"dyes_ug": {dye: ug}} if dye else {"core_ug": ug}
        return heating_for_amount(f, laser, tumor_volume_mm3, **kw).tumor_max_C

    low, high = 1e-3, 1e5                          # ug/g: far below any heating, to 10% w/w
    if peak(low) >= target_C:
        return low
    grid = np.geomspace(low, high, 25)
    hot = next((x for x in grid if peak(x) >= target_C), None)
    if hot is None:
        return None
    lo, hi = float(grid[max(int(np.searchsorted(grid, hot)) - 1, 0)]), float(hot)
    for _ in range(40):                            # 40 halvings in log: ~1e-12 relative
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if peak(mid) < target_C else (lo, mid)
    return hi


@dataclass
class DispersionHeating:
    absorbance: float          # decadic, over the path (A = eps c L)
    heat_W: float              # eta x laser power x (1 - 10^-A)
    tau_s: float               # m c / hS
    rise_C: float              # temperature rise at the end of the exposure


def dispersion_heating(material: str, conc_ug_per_mL: float, path_cm: float, laser_power_W: float,
                       duration_min: float, wavelength_nm: float, heat_capacity_J_per_K: float,
                       loss_W_per_K: float) -> DispersionHeating:
    """A stirred dispersion of a core material in a cuvette or well under a collimated beam
    (Roper DK et al. 2007, J Phys Chem C 111:3636): m c dT/dt = eta P (1 - 10^-A) - hS (T - T0),
    A = mass extinction x concentration x path. The setup's m c and hS (from its measured cooling
    time constant tau_s = m c / hS) are the experiment's, given by the caller."""
    for name, v in (("path_cm", path_cm), ("laser_power_W", laser_power_W), ("duration_min", duration_min),
                    ("heat_capacity_J_per_K", heat_capacity_J_per_K), ("loss_W_per_K", loss_W_per_K)):
        if not math.isfinite(v) or v <= 0.0:
            raise NanocloakError(f"{name}: must be > 0 (got {v!r})")
    ext, eff = material_extinction(material, wavelength_nm)
    absorbance = ext * _non_negative("conc_ug_per_mL", conc_ug_per_mL) * 1e-3 * path_cm
    heat_W = eff * laser_power_W * (1.0 - 10.0 ** (-absorbance))
    tau = heat_capacity_J_per_K / loss_W_per_K
    rise = heat_W / loss_W_per_K * (1.0 - math.exp(-duration_min * 60.0 / tau))
    return DispersionHeating(absorbance, heat_W, tau, rise)
