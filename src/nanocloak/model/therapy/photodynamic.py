"""Photodynamic therapy: singlet oxygen from light absorbed by a photosensitiser in the tumor.

Reacting singlet oxygen dose (mM) = photons the photosensitiser absorbs during the exposure
x singlet-oxygen quantum yield x oxygen availability / tumor volume (photochemical dose model,
Dysart JS & Patterson MS 2005, Phys Med Biol 50:2597). Oxygen availability follows the tumor pO2,
pO2 / (pO2 + K) (Foster TH et al. 1991, Radiat Res 126:296), the pO2 from the one tumor oxygen
state (oxygen.py: RBC-membrane carriers raise it, glucose oxidase lowers it). Kill: surviving
fraction 2^(-dose / threshold dose).
"""

from __future__ import annotations

from dataclasses import dataclass

from nanocloak.library import tables as library
from nanocloak.model.therapy import oxygen
from nanocloak.model.therapy.photothermal import LightBudget, dye_absorption
from nanocloak.spec.formulation import Formulation, Laser


def _p(key: str) -> float:
    return library.value(library.table("therapy")["photodynamic"][key], f"therapy.photodynamic.{key}")


def oxygen_availability(f: Formulation, po2_mmHg: float | None = None) -> float:
    """pO2 / (pO2 + K) at the given tumor pO2 (default: the baseline of oxygen.py, no consumption)."""
    return oxygen.availability(oxygen.baseline_po2_mmHg(f) if po2_mmHg is None else po2_mmHg)


@dataclass
class PdtDose:
    laser: Laser
    singlet_oxygen_mM: float
    kill_fraction: float


def singlet_oxygen_dose(f: Formulation, laser: Laser, budget: LightBudget, tumor_volume_mm3: float,
                        po2_mmHg: float | None = None) -> PdtDose:
    # CODATA 2018 exact values from scipy.constants, imported here: it costs ~0.15 s at start-up
    from scipy.constants import Avogadro, Planck, speed_of_light

    photon_J = Planck * speed_of_light / (laser.wavelength_nm * 1e-9)
    seconds = laser.duration_min * 60.0
    o2 = oxygen_availability(f, po2_mmHg)
    mol = 0.0
    for drug, watts in budget.absorbed_by_dye_W.items():
        _, _, yield_ = dye_absorption(drug, laser.wavelength_nm)
        mol += watts * seconds / photon_J / Avogadro * yield_ * o2
    dose_mM = mol / (tumor_volume_mm3 * 1e-6) * 1000.0
    kill = 1.0 - 2.0 ** (-dose_mM / _p("singlet_oxygen_threshold_mM"))
    return PdtDose(laser, dose_mM, kill)
