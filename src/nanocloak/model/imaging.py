"""Imaging: the signal an agent in the tumor gives, over time (docs/imaging.md, data/imaging.yaml).

Every formulation with a tumor gets the tumor-to-muscle ratio of %ID/g and the time it peaks, the
contrast any imaging mode shares. A mode's own keys appear only where the formulation carries an
agent for it:

- MRI (iron oxide cores): delta R_i = r_i [Fe] (relaxivity x iron concentration; the linear
  relaxation-rate law, e.g. the ferumoxytol relaxometry in data/imaging.yaml), per s.
- CT (gold cores): delta HU = k [Au] (HU per mg/mL, linear below the table's limit).
- NIR fluorescence (dyes with an emission wavelength): the excitation the dye absorbs per cm of
  tumor, ln10 eps c, times the tissue transmission on the way in and out, exp(-mu_eff d) at the
  excitation and at the emission wavelength (diffusion-theory effective attenuation, Jacques SL
  2013, Phys Med Biol 58:R37), d the tumor's depth under the skin as the photothermal model has it.
  The fluorescence quantum yield is not sourced and left out (a constant factor per dye).
- Photoacoustic (absorbers): the initial pressure under stress confinement is p0 = Gamma mu_a H
  (Grueneisen x absorption x fluence; a biophotonics text, Sec. 10.5 'Photoacoustic Tomography',
  Eq. 10.25, read at issuhub.com/view/index/6559?pageIndex=331), linear in absorber concentration up to
  optical densities ~0.5 (Alba-Rosales JE et al. 2018, Appl Phys Lett 112:143101); the contrast is
  (mu_a,tissue + sum eta_i mu_a,i) / mu_a,tissue, where eta_i is an absorber's photothermal
  conversion efficiency (its share of absorbed light turned into heat); Gamma and F cancel. It is
  reported at the tissue-optics wavelength (therapy.yaml) where it is largest.

Concentrations: x %ID/g of a dose of D mg of core holds x/100 D w mg of the element per g of
tissue (w its mass fraction in the core; 1 g of tissue ~ 1 mL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nanocloak.library import tables as library
from nanocloak.model.therapy import photothermal


def _table() -> dict:
    return library.table("imaging")


def _v(node, where: str) -> float:
    return library.value(node, f"imaging.{where}")


@dataclass
class ImagingInputs:
    """What the imaging model reads from a simulation (all on the output grid t_h)."""

    t_h: np.ndarray
    tumor_pct_id_per_g: np.ndarray
    muscle_pct_id_per_g: np.ndarray
    core_mg_per_dose: float                      # core mass of one dose (0 for a free drug)
    material: str | None                         # core material key (None for a free drug)
    tumor_site: str = "subcutaneous"
    dyes_uM: dict[str, np.ndarray] = field(default_factory=dict)      # dye concentration in the tumor
    organ_pct_id_per_g_24h: dict[str, float] = field(default_factory=dict)


@dataclass
class ImagingResult:
    metrics: dict
    tumor_to_muscle: np.ndarray                  # on t_h; NaN where undefined (nothing in muscle yet)


def tumor_to_muscle(tumor_pct_id_per_g: np.ndarray, muscle_pct_id_per_g: np.ndarray) -> np.ndarray:
    """Tumor over muscle %ID/g at each time; NaN where muscle holds nothing (t = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.asarray(tumor_pct_id_per_g, float) / np.asarray(muscle_pct_id_per_g, float)
    return np.where(np.asarray(muscle_pct_id_per_g) > 0, ratio, np.nan)


def element_mM(pct_id_per_g, core_mg: float, mass_fraction: float, molar_mass_g_per_mol: float):
    """mmol/L of an element in tissue at pct_id_per_g of a dose of core_mg (mg/g = g/L)."""
    return np.asarray(pct_id_per_g, float) / 100.0 * core_mg * mass_fraction / molar_mass_g_per_mol * 1000.0


def _peak(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    i = int(np.nanargmax(y))
    return float(y[i]), float(t[i])


def mri_metrics(inp: ImagingInputs) -> dict:
    """delta R2 and delta R1 (1/s) from iron in the tumor (and per organ at 24 h)."""
    agent = _table()["mri"]["agents"].get(inp.material or "")
    if agent is None or inp.core_mg_per_dose <= 0:
        return {}
    field_T = _v(_table()["mri"]["field_T"], "mri.field_T")
    fields = agent["fields"]
    rel = fields[min(fields, key=lambda k: abs(float(k) - field_T))]
    r1, r2 = _v(rel["r1_per_mM_per_s"], "mri.r1"), _v(rel["r2_per_mM_per_s"], "mri.r2")
    w, molar = _v(agent["element_mass_fraction"], "mri.w"), _v(agent["element_molar_mass_g_per_mol"], "mri.M")
    fe = element_mM(inp.tumor_pct_id_per_g, inp.core_mg_per_dose, w, molar)
    peak, at = _peak(inp.t_h, fe)
    out: dict[str, float | dict[str, float]]
    out = {"mri_field_T": field_T, "mri_tumor_fe_mM_max": peak, "mri_tumor_delta_r2_per_s_max": r2 * peak,
           "mri_tumor_delta_r1_per_s_max": r1 * peak, "mri_best_time_h": at}
    organs = {k: r2 * float(element_mM(v, inp.core_mg_per_dose, w, molar))
              for k, v in inp.organ_pct_id_per_g_24h.items() if v is not None}
    if organs:
        out["mri_organ_delta_r2_per_s_24h"] = organs
    return out


def ct_metrics(inp: ImagingInputs) -> dict:
    """delta HU from gold in the tumor."""
    agent = _table()["ct"]["agents"].get(inp.material or "")
    if agent is None or inp.core_mg_per_dose <= 0:
        return {}
    element = _table()["ct"]["elements"][agent["element"]]
    w = _v(agent["element_mass_fraction"], "ct.w")
    mg_per_mL = np.asarray(inp.tumor_pct_id_per_g, float) / 100.0 * inp.core_mg_per_dose * w
    peak, at = _peak(inp.t_h, mg_per_mL)
    molar = _v(element["molar_mass_g_per_mol"], "ct.M")
    mM = peak / molar * 1000.0
    return {"ct_tumor_gold_mg_per_mL_max": peak, "ct_tumor_delta_hu_max": _v(element["hu_per_mg_per_mL"], "ct.k") * peak,
            "ct_best_time_h": at, "ct_within_linear_range": bool(mM <= _v(element["linear_limit_mM"], "ct.limit"))}


def depth_cm(site: str) -> float:
    """The tumor's depth under the skin (the photothermal model's: skin plus the site's extra)."""
    skin = library.value(library.table("therapy")["thermal"]["skin_thickness_mm"], "therapy.thermal.skin_thickness_mm")
    return (skin + photothermal.site_extra_depth_mm(site)) / 10.0


def nir_metrics(inp: ImagingInputs) -> dict:
    """Fluorescence excitation absorbed per cm of tumor, attenuated both ways through tissue."""
    dyes = _table()["nir_fluorescence"]["dyes"]
    out: dict = {}
    d = depth_cm(inp.tumor_site)
    best = None
    for drug, uM in inp.dyes_uM.items():
        if drug not in dyes:
            continue
        peak_nm = library.value(library.entry("drugs", drug)["absorption_peak_nm"])
        eps, _, _ = photothermal.dye_absorption(drug, peak_nm)
        emission = _v(dyes[drug]["emission_peak_nm"], f"nir.{drug}")
        transmission = math.exp(-photothermal.tissue_optics(peak_nm)[1] * d) * math.exp(-photothermal.tissue_optics(emission)[1] * d)
        signal = math.log(10) * eps * np.asarray(uM, float) * 1e-6 * transmission
        s, at = _peak(inp.t_h, signal)
        if best is None or s > best[0]:
            best = (s, at, drug, emission, transmission)
    if best is not None:
        s, at, drug, emission, transmission = best
        out = {"nir_dye": drug, "nir_emission_nm": emission, "nir_depth_mm": d * 10.0, "nir_tissue_transmission": transmission,
               "nir_tumor_signal_per_cm_max": s, "nir_best_time_h": at}
    return out


def _pa_heat(inp: ImagingInputs, wl: float) -> np.ndarray:
    """Absorption turned into heat by the agents in the tumor at wavelength wl (1/cm)."""
    heat = np.zeros_like(np.asarray(inp.tumor_pct_id_per_g, float))
    if inp.material is not None and inp.core_mg_per_dose > 0:
        ext, eff = photothermal.material_extinction(inp.material, wl)
        g_per_L = np.asarray(inp.tumor_pct_id_per_g, float) / 100.0 * inp.core_mg_per_dose
        heat = heat + math.log(10) * ext * g_per_L * eff
    for drug, uM in inp.dyes_uM.items():
        eps, eff, _ = photothermal.dye_absorption(drug, wl)
        heat = heat + math.log(10) * eps * np.asarray(uM, float) * 1e-6 * eff
    return heat


def pa_metrics(inp: ImagingInputs) -> dict:
    """Photoacoustic tumor-to-tissue contrast at the tissue-optics wavelength (therapy.yaml) where the
    agents give the most, as a scanner is tuned to its agent."""
    best = None
    for wl in sorted(float(w) for w in library.table("therapy")["thermal"]["tissue_absorption"]):
        heat = _pa_heat(inp, wl)
        if not np.any(heat > 0):
            continue
        contrast = (photothermal.tissue_optics(wl)[0] + heat) / photothermal.tissue_optics(wl)[0]
        peak, at = _peak(inp.t_h, contrast)
        if best is None or peak > best[1]:
            best = (wl, peak, at, float(np.max(heat)))
    if best is None:
        return {}
    wl, peak, at, added = best
    return {"pa_wavelength_nm": wl, "pa_tumor_contrast_max": peak, "pa_tumor_added_mua_per_cm_max": added,
            "pa_best_time_h": at}


def imaging(inp: ImagingInputs) -> ImagingResult:
    """metrics.imaging for a formulation with a tumor, and the ratio's time course."""
    ratio = tumor_to_muscle(inp.tumor_pct_id_per_g, inp.muscle_pct_id_per_g)
    m: dict = {}
    if np.any(np.isfinite(ratio)):
        peak, at = _peak(inp.t_h, ratio)
        i = int(np.searchsorted(inp.t_h, at))
        m = {"tumor_to_muscle_max": peak, "best_imaging_time_h": at,
             "tumor_pct_id_per_g_at_best": float(inp.tumor_pct_id_per_g[i]),
             "muscle_pct_id_per_g_at_best": float(inp.muscle_pct_id_per_g[i])}
    for mode in (mri_metrics, ct_metrics, nir_metrics, pa_metrics):
        m.update(mode(inp))
    return ImagingResult(m, ratio)
