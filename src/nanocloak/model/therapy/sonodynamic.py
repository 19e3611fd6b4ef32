"""Sonodynamic therapy: reactive oxygen from ultrasound absorbed in a tumor holding a sonosensitiser.

Acoustic power into the tumor: intensity x the tumor's cross-section, attenuated through the skin
(and any tissue over a deeper site) as exp(-2 alpha d), absorbed along the tumor's mean chord L as
1 - exp(-2 alpha L); alpha = alpha0 f^b (amplitude attenuation, dB/cm/MHz / 8.686 -> Np/cm; the
frequency law of the IT'IS tissue database, attenuation values of Diagnostics 2023 13:855 Table 4).
Reacting ROS (mM) = absorbed energy density (J/mL) x sensitiser concentration (mM) x yield
(drugs.yaml sonodynamic_ros_yield_mL_per_J_per_mM) x oxygen availability pO2 / (pO2 + K)
(the tumor oxygen state, oxygen.py): the photochemical dose form of Dysart JS & Patterson MS 2005
(Phys Med Biol 50:2597) with sound in place of light. Kill: 1 - 2^(-dose / threshold), as for PDT.
No sensitiser, no dose: the tissue's own sonochemistry is not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nanocloak.library import tables as library
from nanocloak.model.therapy import oxygen
from nanocloak.model.therapy.photothermal import site_extra_depth_mm
from nanocloak.spec.formulation import Formulation, Ultrasound

YIELD_KEY = "sonodynamic_ros_yield_mL_per_J_per_mM"
DB_PER_NEPER = 20.0 / math.log(10.0)       # 8.686 dB per neper


def _s(key: str) -> float:
    return library.value(library.table("therapy")["sonodynamic"][key], f"therapy.sonodynamic.{key}")


def is_sonosensitiser(drug: str) -> bool:
    return isinstance(library.entry("drugs", drug).get(YIELD_KEY), dict)


def _alpha_np_per_cm(key: str, frequency_MHz: float) -> float:
    return _s(key) * frequency_MHz ** _s("frequency_exponent") / DB_PER_NEPER


def absorbed_energy_J(f: Formulation, us: Ultrasound, tumor_volume_mm3: float) -> float:
    """Acoustic energy the tumor absorbs during one sonication (J)."""
    radius_cm = (3.0 * tumor_volume_mm3 / (4.0 * math.pi)) ** (1 / 3) / 10.0
    area_cm2 = math.pi * radius_cm**2
    skin_cm = library.value(library.table("therapy")["thermal"]["skin_thickness_mm"]) / 10.0
    tumor = f.subject.tumor
    assert tumor is not None, "sonication is simulated only for a formulation with a tumor (therapy.run)"
    deeper_cm = site_extra_depth_mm(tumor.site) / 10.0
    a_skin = _alpha_np_per_cm("skin_attenuation_dB_per_cm_MHz", us.frequency_MHz)
    a_tumor = _alpha_np_per_cm("tumor_attenuation_dB_per_cm_MHz", us.frequency_MHz)
    transmitted = math.exp(-2.0 * (a_skin * skin_cm + a_tumor * deeper_cm))
    absorbed = 1.0 - math.exp(-2.0 * a_tumor * 4.0 * radius_cm / 3.0)
    return us.intensity_W_per_cm2 * area_cm2 * transmitted * absorbed * us.duration_min * 60.0


def sensitisers_mM(result, t_h: float, tumor_volume_mm3: float) -> dict[str, float]:
    """Sonosensitiser payloads in the tumor at t_h (carried and released), mM."""
    out = {}
    for drug, p in result.payloads.items():
        if not is_sonosensitiser(drug) or "tumor" not in p.bound_ug:
            continue
        ug = float(np.interp(t_h, p.t_h, p.bound_ug["tumor"] + p.free_ug.get("tumor", 0.0 * p.t_h)))
        mw = library.value(library.entry("drugs", drug)["molecular_weight_g_per_mol"])
        out[drug] = ug * 1e-6 / mw / (tumor_volume_mm3 * 1e-6) * 1000.0
    return out


@dataclass
class SdtDose:
    ultrasound: Ultrasound
    absorbed_J: float
    ros_mM: float
    kill_fraction: float


def ros_dose(f: Formulation, us: Ultrasound, tumor_volume_mm3: float, sensitisers: dict[str, float],
             po2_mmHg: float) -> SdtDose:
    energy = absorbed_energy_J(f, us, tumor_volume_mm3)
    density = energy / (tumor_volume_mm3 * 1e-3)                     # J per mL of tumor
    o2 = oxygen.availability(po2_mmHg)
    dose = sum(library.value(library.entry("drugs", d)[YIELD_KEY]) * density * c * o2 for d, c in sensitisers.items())
    kill = 1.0 - 2.0 ** (-dose / _s("ros_threshold_mM"))
    return SdtDose(us, energy, dose, kill)


def sonodynamic_doses(result, control, state: oxygen.OxygenState) -> list[SdtDose]:
    """One dose per sonication, at the untreated arm's size then and the oxygen state then."""
    f = result.resolved.formulation
    out = []
    for us in sorted(f.treatment.ultrasound, key=lambda u: u.at_h):
        size = float(np.interp(us.at_h, control.t_h, control.volume_mm3))
        out.append(ros_dose(f, us, size, sensitisers_mM(result, us.at_h, size), state.po2_at(us.at_h)))
    return out


def sdt_metrics(doses: list[SdtDose]) -> dict:
    if not doses or not any(d.ros_mM > 0 for d in doses):
        return {}
    survive = float(np.prod([1.0 - d.kill_fraction for d in doses]))
    return {"sdt_ros_mM": float(sum(d.ros_mM for d in doses)),
            "sdt_kill_fraction": 1.0 - survive,
            "sdt_absorbed_acoustic_J": float(sum(d.absorbed_J for d in doses))}
