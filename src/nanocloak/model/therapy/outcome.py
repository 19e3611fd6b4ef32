"""Therapy and outcome: heating under each laser, the heat's effect on vessels and release, light
doses for photodynamic kill, chemotherapy from the free drug in the tumor, and tumor growth of a
treated and an untreated arm.

Order for one formulation (each step uses what the previous produced):
1. the untreated arm's growth (tumor size at each laser);
2. heating per laser from the particles and dyes in the tumor at that time (photothermal.py);
3. if a laser brings the tumor to mild hyperthermia, its vessels open for a while (therapy.yaml):
   the particle model is run again with that window, then the heating recomputed;
4. the payload model with the tumor's temperature (hyperthermia triggers) and light (nir);
5. the tumor oxygen state (oxygen.py: glucose oxidase consumes glucose and O2), shared by:
   photodynamic doses from photosensitisers in the tumor (photodynamic.py), sonodynamic doses
   from sonosensitisers under ultrasound (sonodynamic.py) and hypoxia-activated prodrugs;
6. growth of the treated arm: chemotherapy kill k2 C_free(t) (hypoxia-activated prodrugs at
   their oxygen-dependent potency), thermal, photodynamic and sonodynamic kill as impulses at
   each exposure (tumor_growth.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from nanocloak.library import tables as library
from nanocloak.model import drug as drug_pbpk
from nanocloak.model.therapy import growth as tumor_growth
from nanocloak.model.therapy import immune, oxygen, photodynamic, photothermal, sonodynamic, survival
from nanocloak.surface import coating

DRUG_KILL_KINDS = ("chemotherapy", "kinase_inhibitor")


def damage_constant(key: str) -> float:
    """A tissue-damage constant of therapy.yaml (thermal dose, vessel opening)."""
    return library.value(library.table("therapy")["damage"][key], f"therapy.damage.{key}")


@dataclass
class TherapyResult:
    t_h: np.ndarray
    treated_mm3: np.ndarray
    control_mm3: np.ndarray
    heating: list = field(default_factory=list)          # photothermal.Heating per laser
    pdt: list = field(default_factory=list)              # photodynamic.PdtDose per laser
    thermal_kill: list = field(default_factory=list)
    doubling_time_days: float = float("nan")
    growth_law_assumed: bool = True                      # no sourced growth law for the line (growth.py)
    endpoint_mm3: float | None = None                    # humane-endpoint volume of the species
    sdt: list = field(default_factory=list)              # sonodynamic.SdtDose per ultrasound exposure
    oxygen: oxygen.OxygenState | None = None             # the one tumor oxygen state (oxygen.py)
    survival: survival.Survival | None = None            # virtual cohort (survival.py); None without an endpoint
    species: str = ""
    immune: Any = None                                   # immune.ImmuneArm; None without an immune agent


def particle_core_mg_per_dose(f) -> float:
    return coating.core_mg_per_kg(f) * f.subject.body_weight_g / 1000.0


def growth_grid(end_h: float, t_h: np.ndarray) -> np.ndarray:
    return np.unique(np.r_[t_h, np.linspace(0.0, end_h, max(int(end_h / 2), 50) + 1)])


def absorbers_at(result, t_h: float, tumor_volume_mm3: float) -> photothermal.Absorbers:
    f = result.resolved.formulation
    tumor_pct = float(np.interp(t_h, result.t_h, result.series["tumor"])) if "tumor" in result.series else 0.0
    core_mg = particle_core_mg_per_dose(f)
    volume_L = tumor_volume_mm3 * 1e-6
    conc = tumor_pct / 100.0 * core_mg / 1000.0 / volume_L if core_mg else 0.0
    dyes = {}
    for drug, p in result.payloads.items():
        entry = library.entry("drugs", drug)
        mw = entry.get("molecular_weight_g_per_mol")
        optical = isinstance(entry.get("absorption_peak_nm"), dict) and isinstance(entry.get("molar_extinction_at_peak_per_M_per_cm"), dict)
        if not optical or not isinstance(mw, dict):
            continue
        ug = float(np.interp(t_h, p.t_h, p.bound_ug.get("tumor", 0 * p.t_h) + p.free_ug.get("tumor", 0 * p.t_h)))
        dyes[drug] = ug * 1e-6 / library.value(mw) / volume_L
    return photothermal.Absorbers(conc, dyes)


def temperature_function(heatings):
    """Tumor temperature (C) at absolute time t: the exposures' curves, 37 C elsewhere."""
    def temp(t_h: float) -> float:
        for h in heatings:
            if h.t_h[0] <= t_h <= h.t_h[-1]:
                return float(np.interp(t_h, h.t_h, h.tumor_C))
        return photothermal.body_temperature_C()
    return temp


def heat_windows(heatings) -> list[tuple[float, float, float]]:
    """Windows of opened tumor vessels after exposures that reached mild hyperthermia."""
    out = []
    for h in heatings:
        if h.tumor_max_C >= damage_constant("mild_hyperthermia_threshold_C"):
            start = h.laser.at_h
            lasting = h.laser.duration_min / 60.0 + damage_constant("heat_permeability_duration_h")
            out.append((start, start + lasting, damage_constant("heat_permeability_factor")))
    return out


def kill_rate_table(result, state: oxygen.OxygenState | None = None):
    """k2 C_u(t) summed over the chemotherapy payloads, from the unbound released drug in the tumor
    (C_u = fu_p C_tissue / Kp_tumor, drug.tumor_unbound_fraction), and over
    hypoxia-activated prodrugs at the oxygen state's potency: (times h, rate 1/day), or None
    without a killing drug."""
    f = result.resolved.formulation
    line = f.subject.tumor.line
    terms = []
    for drug, p in result.payloads.items():
        entry = library.entry("drugs", drug)
        if entry.get("kind") not in DRUG_KILL_KINDS or "tumor" not in p.free_ug:
            continue
        k2 = tumor_growth.potency_per_uM_per_day(drug, line)
        mw = library.value(entry["molecular_weight_g_per_mol"])
        uM = p.free_ug["tumor"] / p.organ_mass_g["tumor"] / mw * 1000.0       # ug/g -> umol/kg ~ uM
        # the in vitro IC50 is a medium (unbound) concentration: the tumor's unbound drug drives the kill
        terms.append((k2, p.t_h, uM * drug_pbpk.tumor_unbound_fraction(drug)))
    if state is not None:
        terms += oxygen.hypoxic_kill_terms(result, state)
    if not terms:
        return None
    times = np.unique(np.concatenate([t for _, t, _ in terms]))
    return times, sum(k2 * np.interp(times, t, c) for k2, t, c in terms)


@lru_cache(maxsize=256)
def _control_growth_cached(line: str, v0: float, t_bytes: bytes) -> tumor_growth.GrowthResult:
    t = np.frombuffer(t_bytes)
    grown = tumor_growth.simulate_growth(tumor_growth.growth_parameters(line), v0, t)
    grown.volume_mm3.flags.writeable = False                # shared between results
    return grown


def _control_growth(line: str, v0: float, t: np.ndarray) -> tumor_growth.GrowthResult:
    """The untreated arm depends only on the line, the start volume and the grid: shared by the
    designs of a screen."""
    return _control_growth_cached(line, float(v0), np.ascontiguousarray(t, dtype=float).tobytes())


def run(result, rerun_particles) -> tuple[TherapyResult, Any] | None:
    """The therapy chain for one simulated formulation (mutates result's payloads when heat acts).

    rerun_particles(windows) re-simulates the particle model with heat-opened vessel windows and
    returns the new result's series, payloads included.
    """
    f = result.resolved.formulation
    if f.subject.tumor is None:
        return None
    params = tumor_growth.growth_parameters(f.subject.tumor.line)
    v0 = f.subject.tumor.volume_mm3
    t = growth_grid(f.simulate.end_h, result.t_h)
    control = _control_growth(f.subject.tumor.line, v0, t)
    lasers = sorted(f.treatment.lasers, key=lambda las: las.at_h)

    def heat_all(res):
        out = []
        for las in lasers:
            size = float(np.interp(las.at_h, control.t_h, control.volume_mm3))
            out.append(photothermal.heat(f, las, size, absorbers_at(res, las.at_h, size)))
        return out

    heatings = heat_all(result)
    windows = heat_windows(heatings)
    heat_sensitive = any(t.kind == "hyperthermia" for p in f.payloads if p.release for t in p.release.triggers)
    if windows or (heatings and heat_sensitive):
        result = rerun_particles(windows, temperature_function(heatings))
        heatings = heat_all(result)
    state = oxygen.tumor_oxygen(result, v0)
    pdt = []
    for las, h in zip(lasers, heatings):
        size = float(np.interp(las.at_h, control.t_h, control.volume_mm3))
        pdt.append(photodynamic.singlet_oxygen_dose(f, las, h.budget, size, state.po2_at(las.at_h)))
    sdt = sonodynamic.sonodynamic_doses(result, control, state)
    impulses = [(d.ultrasound.at_h + d.ultrasound.duration_min / 60.0, d.kill_fraction) for d in sdt if d.kill_fraction > 0]
    thermal_kills = []
    for las, h, p in zip(lasers, heatings, pdt):
        thermal = photothermal.thermal_kill_fraction(h.cem43_min)
        thermal_kills.append(thermal)
        survive = (1.0 - thermal) * (1.0 - p.kill_fraction)
        if survive < 1.0:
            impulses.append((las.at_h + las.duration_min / 60.0, 1.0 - survive))
    kill = kill_rate_table(result, state)
    arm = immune.immune_arm(result, params, v0, t, control.volume_mm3, kill, impulses)   # None without an immune agent
    kill = kill if arm is None else arm.combined_kill
    treated = control if kill is None and not impulses else tumor_growth.simulate_growth(params, v0, t, kill, impulses)
    endpoint = tumor_growth.humane_endpoint_mm3(f.subject.species)
    cohort = None if endpoint is None else survival.cohort_survival(params, v0, endpoint, f.simulate.end_h, kill, impulses)
    out = TherapyResult(t, treated.volume_mm3, control.volume_mm3, heatings, pdt, thermal_kills, params.doubling_time_days,
                        params.assumed, endpoint, sdt, state, cohort, f.subject.species)
    out.immune = arm
    return out, result


def _first_crossing_days(t_h: np.ndarray, v: np.ndarray, level: float) -> float | None:
    """Days until v first reaches level (linear between output times), None if it never does."""
    above = np.flatnonzero(v >= level)
    if not above.size:
        return None
    i = int(above[0])
    return (t_h[i] if i == 0 else float(np.interp(level, v[i - 1: i + 1], t_h[i - 1: i + 1]))) / 24.0


def therapy_metrics(th: TherapyResult, v0: float) -> dict:
    m: dict = {}
    end_t, end_c = float(th.treated_mm3[-1]), float(th.control_mm3[-1])
    m["tumor_volume_mm3_end"] = end_t
    m["control_tumor_volume_mm3_end"] = end_c
    m["tgi_pct"] = 100.0 * (1.0 - (end_t - v0) / (end_c - v0)) if end_c != v0 else 0.0
    above = np.flatnonzero(th.treated_mm3 >= 2.0 * v0)
    if above.size:
        i = int(above[0])
        t2 = th.t_h[i] if i == 0 else float(np.interp(2.0 * v0, th.treated_mm3[i - 1: i + 1], th.t_h[i - 1: i + 1]))
        m["days_to_2x_volume"] = t2 / 24.0
    else:
        m["days_to_2x_volume"] = None
    m["tumor_growth_law_assumed"] = th.growth_law_assumed
    if th.endpoint_mm3 is not None:             # absent when the endpoint is not reached by end_h
        for key, v in (("days_to_endpoint_volume", th.treated_mm3), ("days_to_endpoint_volume_control", th.control_mm3)):
            days = _first_crossing_days(th.t_h, v, th.endpoint_mm3)
            if days is not None:
                m[key] = days
    if th.heating:
        m["tumor_temperature_max_C"] = max(h.tumor_max_C for h in th.heating)
        m["skin_temperature_max_C"] = max(h.skin_max_C for h in th.heating)
        m["thermal_dose_cem43_min"] = float(sum(h.cem43_min for h in th.heating))
        if any(p.singlet_oxygen_mM > 0 for p in th.pdt):
            m["singlet_oxygen_dose_mM"] = float(sum(p.singlet_oxygen_mM for p in th.pdt))
    m.update(survival.survival_metrics(th.survival, th.species))
    m.update(sonodynamic.sdt_metrics(th.sdt))
    m.update(immune.immune_metrics(th.immune))
    if th.oxygen is not None:
        m.update(oxygen.oxygen_metrics(th.oxygen))
    return m
