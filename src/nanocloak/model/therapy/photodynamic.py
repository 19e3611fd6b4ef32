"""Photodynamic therapy: singlet oxygen from light absorbed by a photosensitiser in the tumor.

Reacting singlet oxygen dose (mM) = photons the photosensitiser absorbs during the exposure
x singlet-oxygen quantum yield x oxygen availability / tumor volume (photochemical dose model,
Dysart JS & Patterson MS 2005, Phys Med Biol 50:2597). Oxygen availability follows the tumor pO2,
pO2 / (pO2 + K) (Foster TH et al. 1991, Radiat Res 126:296); RBC-membrane carriers raise the
effective pO2 (therapy.yaml). Kill: surviving fraction 2^(-dose / threshold dose).
"""

from __future__ import annotations

from dataclasses import dataclass

from nanocloak.library import tables as library
from nanocloak.model.therapy.photothermal import LightBudget, dye_absorption
from nanocloak.spec.formulation import Formulation, Laser
from nanocloak.surface.blocks import membrane_of, source_fraction


def _p(key: str) -> float:
    return library.value(library.table("therapy")["photodynamic"][key], f"therapy.photodynamic.{key}")


def oxygen_availability(f: Formulation) -> float:
    po2 = _p("tumor_po2_mmHg")
    if f.surface.kind == "membrane":
        rbc = sum(source_fraction(s) for s in membrane_of(f).sources if s.cell == "rbc")
        po2 *= 1.0 + (_p("rbc_membrane_oxygen_boost_factor") - 1.0) * rbc
    return po2 / (po2 + _p("oxygen_half_saturation_mmHg"))


@dataclass
class PdtDose:
    laser: Laser
    singlet_oxygen_mM: float
    kill_fraction: float


def singlet_oxygen_dose(f: Formulation, laser: Laser, budget: LightBudget, tumor_volume_mm3: float) -> PdtDose:
    # CODATA 2018 exact values from scipy.constants, imported here: it costs ~0.15 s at start-up
    from scipy.constants import Avogadro, Planck, speed_of_light

    photon_J = Planck * speed_of_light / (laser.wavelength_nm * 1e-9)
    seconds = laser.duration_min * 60.0
    o2 = oxygen_availability(f)
    mol = 0.0
    for drug, watts in budget.absorbed_by_dye_W.items():
        _, _, yield_ = dye_absorption(drug, laser.wavelength_nm)
        mol += watts * seconds / photon_J / Avogadro * yield_ * o2
    dose_mM = mol / (tumor_volume_mm3 * 1e-6) * 1000.0
    kill = 1.0 - 2.0 ** (-dose_mM / _p("singlet_oxygen_threshold_mM"))
    return PdtDose(laser, dose_mM, kill)
