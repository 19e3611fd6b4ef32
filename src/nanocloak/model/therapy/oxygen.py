"""One tumor oxygen state, shared by photodynamic and sonodynamic therapy, glucose oxidase
(starvation therapy) and hypoxia-activated prodrugs (docs/therapy.md, "Tumor oxygen").

Baseline: the tumor pO2 (Vaupel P et al. 1989, Cancer Res 49:6449), raised by RBC-membrane
carriers (therapy.yaml photodynamic). Glucose oxidase in the tumor (carried and released: both
counted active) oxidises glucose with O2 to gluconic acid and H2O2 at the two-substrate
Michaelis-Menten rate (ordered ping-pong mechanism reduced to independent saturation in each
substrate; Km and kcat in drugs.yaml)

    v = kcat E G / (Km_G + G) x C / (Km_O2 + C).

Supply is linear and quasi-steady (seconds against the particles' hours):
    O2:      k_O2 (C0 - C) = v, k_O2 from the tumor perfusion and the blood's O2 content;
    glucose: PS (Gp - G) = k_cell G + v, PS and k_cell from Gullino PM et al. 1967 (Cancer Res
             27:1031: uptake 0.96 g/h/100 g, interstitial glucose a few mg/dL), i.e.
             (PS + k_cell) (G0 - G) = v: GOx takes glucose from the supply the cells share.
H2O2 made by GOx: extra = v / k_clear (steady state). One scalar v per time (bisection: the
consumption falls as v grows, the supply's deficit rises).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nanocloak.library import tables as library
from nanocloak.spec.formulation import Formulation
from nanocloak.surface.blocks import membrane_of, source_fraction

GLUCOSE_G_PER_MOL = 180.156          # C6H12O6, computed from the formula
GOX = "glucose_oxidase"


def _o(key: str) -> float:
    return library.value(library.table("therapy")["oxygen"][key], f"therapy.oxygen.{key}")


def _pd(key: str) -> float:
    return library.value(library.table("therapy")["photodynamic"][key], f"therapy.photodynamic.{key}")


def baseline_po2_mmHg(f: Formulation) -> float:
    """Tumor pO2 before any consumption by the agent; RBC-membrane carriers raise it (therapy.yaml)."""
    po2 = _pd("tumor_po2_mmHg")
    if f.surface.kind == "membrane":
        rbc = sum(source_fraction(s) for s in membrane_of(f).sources if s.cell == "rbc")
        po2 *= 1.0 + (_pd("rbc_membrane_oxygen_boost_factor") - 1.0) * rbc
    return po2


def availability(po2_mmHg: float) -> float:
    """Photochemical oxygen dependence pO2 / (pO2 + K) (Foster TH et al. 1991, Radiat Res 126:296)."""
    return po2_mmHg / (po2_mmHg + _pd("oxygen_half_saturation_mmHg"))


def solubility_uM_per_mmHg() -> float:
    # mL O2 / dL / mmHg x mM per mL/dL -> uM per mmHg
    return _o("o2_solubility_mL_per_dL_per_mmHg") * _o("o2_mM_per_mL_per_dL") * 1000.0


@dataclass(frozen=True)
class Supply:
    c0_uM: float          # baseline dissolved O2
    k_o2_per_s: float     # O2 resupply rate constant
    g0_uM: float          # baseline interstitial glucose
    k_g_per_s: float      # PS + k_cell: glucose resupply net of the cells' share


def supply(po2_0_mmHg: float) -> Supply:
    c0 = solubility_uM_per_mmHg() * po2_0_mmHg
    perfusion_per_s = library.value(library.table("therapy")["thermal"]["tumor_perfusion_mL_per_min_per_g"]) / 60.0
    # extra O2 the blood can give (uM/s) at full deficit = perfusion x fraction x arterial content (assumption)
    o2_capacity = perfusion_per_s * _o("o2_supply_fraction") * _o("arterial_o2_content_mL_per_dL") * _o("o2_mM_per_mL_per_dL") * 1000.0
    mg_dl_to_uM = 10.0 / GLUCOSE_G_PER_MOL * 1000.0
    g0, gp = _o("tumor_glucose_mg_per_dL") * mg_dl_to_uM, _o("plasma_glucose_mg_per_dL") * mg_dl_to_uM
    uptake = _o("tumor_glucose_consumption_g_per_h_per_100g") / 100.0 / GLUCOSE_G_PER_MOL * 1e9 / 3600.0  # uM/s (1 g ~ 1 mL)
    ps, k_cell = uptake / (gp - g0), uptake / g0          # Gullino 1967: PS (Gp - G0) = k_cell G0 = uptake
    return Supply(c0, o2_capacity / c0, g0, ps + k_cell)


def gox_constants() -> tuple[float, float, float]:
    e = library.entry("drugs", GOX)
    return (library.value(e["kcat_per_s"]), library.value(e["km_glucose_mM"]) * 1000.0,
            library.value(e["km_oxygen_mM"]) * 1000.0)


def gox_rate_uM_per_s(enzyme_uM: np.ndarray, s: Supply) -> np.ndarray:
    """Quasi-steady GOx turnover v (uM/s) for each enzyme concentration (bisection on v)."""
    kcat, km_g, km_o = gox_constants()
    e = np.asarray(enzyme_uM, dtype=float)
    lo, hi = np.zeros_like(e), np.full_like(e, min(s.k_g_per_s * s.g0_uM, s.k_o2_per_s * s.c0_uM))
    for _ in range(80):
        v = 0.5 * (lo + hi)
        g, c = s.g0_uM - v / s.k_g_per_s, s.c0_uM - v / s.k_o2_per_s
        made = kcat * e * g / (km_g + g) * c / (km_o + c)
        up = made > v
        lo, hi = np.where(up, v, lo), np.where(up, hi, v)
    return 0.5 * (lo + hi)


@dataclass
class OxygenState:
    t_h: np.ndarray
    po2_mmHg: np.ndarray
    glucose_fraction: np.ndarray     # interstitial glucose / baseline
    h2o2_extra_uM: np.ndarray        # H2O2 made by GOx, above the tumor's own
    baseline_po2_mmHg: float
    has_gox: bool
    hypoxic_drugs: tuple[str, ...] = ()  # hypoxia-activated payloads (drugs.yaml hypoxia_activation)
    ros_thresholds: tuple[float, ...] = ()  # thresholds of the payloads' ROS release triggers

    def po2_at(self, t_h: float) -> float:
        return float(np.interp(t_h, self.t_h, self.po2_mmHg))

    def ros_relative_max(self) -> float:
        """The tumor's ROS level relative to healthy tissue (environment.yaml tumor_tissue scale) at its
        highest: the tumor's own level x (1 + GOx H2O2 / the tumor's own H2O2)."""
        return own_ros_relative() * (1.0 + float(np.max(self.h2o2_extra_uM)) / _o("tumor_h2o2_uM"))

    def ros_trigger_crossed(self) -> bool:
        """A ROS release trigger that the tumor's own level leaves off and the GOx-raised level turns on."""
        own, raised = own_ros_relative(), self.ros_relative_max()
        return any(own < thr <= raised for thr in self.ros_thresholds)


def own_ros_relative() -> float:
    return library.value(library.table("environment")["tumor_tissue"]["ros_relative"])


def enzyme_in_tumor_uM(result, tumor_volume_mm3: float) -> tuple[np.ndarray, np.ndarray] | None:
    p = result.payloads.get(GOX)
    if p is None or "tumor" not in p.bound_ug:
        return None
    ug = p.bound_ug["tumor"] + p.free_ug.get("tumor", 0.0 * p.t_h)
    mw = library.value(library.entry("drugs", GOX)["molecular_weight_g_per_mol"])
    return p.t_h, ug * 1e-6 / mw / (tumor_volume_mm3 * 1e-6) * 1e6      # ug in the tumor -> uM


def tumor_oxygen(result, tumor_volume_mm3: float) -> OxygenState:
    """The tumor's oxygen, glucose and GOx-made H2O2 over the payload time course."""
    f = result.resolved.formulation
    po2_0 = baseline_po2_mmHg(f)
    hypoxic = tuple(d for d in result.payloads if "hypoxia_activation" in library.entry("drugs", d))
    ros = tuple(float(t.threshold) for p in f.payloads if p.release for t in p.release.triggers
                if t.kind == "ros" and t.threshold is not None)
    enz = enzyme_in_tumor_uM(result, tumor_volume_mm3)
    if enz is None:
        t = np.asarray(result.t_h, dtype=float)
        return OxygenState(t, np.full_like(t, po2_0), np.ones_like(t), np.zeros_like(t), po2_0, False, hypoxic, ros)
    t, e = enz
    s = supply(po2_0)
    v = gox_rate_uM_per_s(e, s)
    c = s.c0_uM - v / s.k_o2_per_s
    g = s.g0_uM - v / s.k_g_per_s
    h2o2 = v / _o("h2o2_clearance_per_s")
    return OxygenState(np.asarray(t, float), c / solubility_uM_per_mmHg(), g / s.g0_uM, h2o2, po2_0, True, hypoxic, ros)


# ---------------------------------------------------------------------------------------------
# hypoxia-activated prodrugs (tirapazamine class)
# ---------------------------------------------------------------------------------------------
def activation_factor(drug: str, po2_mmHg):
    """Potency relative to aerobic cells: 1 + (HCR - 1) K / (K + pO2) (HCR: Shibata T et al. 1995,
    Mutat Res 342:171; the hyperbolic O2 dependence of bioreductive activation, K in drugs.yaml)."""
    act = library.entry("drugs", drug)["hypoxia_activation"]
    hcr, k = library.value(act["hypoxic_cytotoxicity_ratio"]), library.value(act["half_activation_po2_mmHg"])
    return 1.0 + (hcr - 1.0) * k / (k + np.asarray(po2_mmHg, dtype=float))


def hypoxic_kill_terms(result, state: OxygenState) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """(k2 aerobic 1/(uM day), times h, released uM x activation) per hypoxia-activated payload."""
    exposure_h = library.value(library.table("therapy")["growth"]["ic50_exposure_h"])
    terms = []
    for drug, p in result.payloads.items():
        entry = library.entry("drugs", drug)
        if "hypoxia_activation" not in entry or "tumor" not in p.free_ug:
            continue
        ic50 = library.value(entry["hypoxia_activation"]["aerobic_ic50_uM"])
        k2 = math.log(2.0) / (ic50 * exposure_h / 24.0)              # as growth.potency_per_uM_per_day
        mw = library.value(entry["molecular_weight_g_per_mol"])
        uM = p.free_ug["tumor"] / p.organ_mass_g["tumor"] / mw * 1000.0
        po2 = np.interp(p.t_h, state.t_h, state.po2_mmHg)
        terms.append((k2, p.t_h, uM * activation_factor(drug, po2)))
    return terms


def oxygen_metrics(state: OxygenState) -> dict:
    """metrics of the tumor oxygen state, present with glucose oxidase or a hypoxia-activated payload."""
    m: dict = {}
    if not (state.has_gox or state.hypoxic_drugs):
        return m
    m["tumor_po2_mmHg_baseline"] = state.baseline_po2_mmHg
    m["tumor_po2_mmHg_min"] = float(np.min(state.po2_mmHg))
    m["tumor_glucose_fraction_min"] = float(np.min(state.glucose_fraction))
    m["tumor_h2o2_extra_uM_max"] = float(np.max(state.h2o2_extra_uM))
    m["tumor_ros_relative_max"] = state.ros_relative_max()
    if state.ros_thresholds:
        # reported, not re-simulated: the payload model's ROS level is the static tumor value (docs/therapy.md)
        m["ros_trigger_crossed_by_gox"] = state.ros_trigger_crossed()
    for drug in state.hypoxic_drugs:
        m[f"{drug}_activation_max"] = float(np.max(activation_factor(drug, state.po2_mmHg)))
    return m
