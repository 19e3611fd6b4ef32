"""Lung metastases seeded by circulating tumor cells (CTCs), and CTC capture by membrane-coated
particles in blood (subject.tumor.metastases.lung; docs/brain_metastasis.md; data/metastasis.yaml).

  shedding      S(t) = s x m_tumor(t)                        (Butler TP & Gullino PM 1975, Cancer Res 35:512)
  CTCs in blood dN/dt = S - (k_clear + k_cap(t)) N,  k_clear = ln 2 / t_half   (Meng S et al. 2004,
                                                                              Clin Cancer Res 10:8152)
  capture       k_cap(t) = k_c x A x c_p(t)   A: the coat's ctc_capture_affinity (membranes.yaml) x
                coverage x protein integrity; c_p: particle core mass per mL of blood
  seeding       dM/dt = eta x f_lung x k_clear x N           (eta: Mayo Medical Laboratories 2011,
                                                              < 0.01 % of CTCs form metastases)

N starts at its steady state before the first dose (S(0) / k_clear). On each output interval S and
k_cap are held at the interval's mean and N is integrated exactly (exponential), so that
shed = captured + cleared + (N_end - N_0) holds to rounding. The count is the expected number of lung
metastases seeded over the simulated time; `control` repeats it without capture on the untreated
tumor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nanocloak.library import tables as library


def constant(group: str, key: str) -> float:
    return library.value(library.table("metastasis")[group][key], f"metastasis.{group}.{key}")


def assumed(group: str, key: str) -> bool:
    return str(library.table("metastasis")[group][key]["source"]).startswith("assumption")


@dataclass
class CtcBalance:
    shed: float          # CTCs shed over the run
    captured: float      # captured by particles
    cleared: float       # arrested (cleared) from blood, the seeding flux's base
    n0: float            # CTCs in blood at the start
    n_end: float         # and at the end
    metastases: float    # expected lung metastases seeded


def ctc_balance(t_h: np.ndarray, tumor_g: np.ndarray, particle_mg_per_mL: np.ndarray, affinity: float) -> CtcBalance:
    """Integrate the CTC pool over the grid (exact for piecewise-constant rates)."""
    s = constant("ctc", "shedding_cells_per_g_per_day") / 24.0
    k_clear = math.log(2.0) / constant("ctc", "half_life_h")
    k_c = constant("capture", "rate_constant_per_h_per_mg_per_mL") * affinity
    n = s * float(tumor_g[0]) / k_clear
    n0, shed, captured, cleared = n, 0.0, 0.0, 0.0
    for i in range(len(t_h) - 1):
        dt = float(t_h[i + 1] - t_h[i])
        if dt <= 0:
            continue
        src = s * 0.5 * float(tumor_g[i] + tumor_g[i + 1])
        k_cap = k_c * 0.5 * float(particle_mg_per_mL[i] + particle_mg_per_mL[i + 1])
        k = k_clear + k_cap
        n_ss = src / k
        n_new = n_ss + (n - n_ss) * math.exp(-k * dt)
        integral = (src * dt - (n_new - n)) / k            # integral of N dt over the interval
        shed += src * dt
        captured += k_cap * integral
        cleared += k_clear * integral
        n = n_new
    eta = constant("ctc", "metastasis_per_arrested_cell") * constant("ctc", "lung_arrest_fraction")
    return CtcBalance(shed, captured, cleared, n0, n, eta * cleared)


def assumptions(affinity: float) -> list[str]:
    """What the count rests on that is not a read value (metastasis.yaml sources, membranes.yaml)."""
    out = [f"metastasis.ctc.{k}" for k in ("shedding_cells_per_g_per_day", "half_life_h",
                                           "metastasis_per_arrested_cell", "lung_arrest_fraction") if assumed("ctc", k)]
    out.append("metastasis.ctc.half_life_h: a human (patient) half-life applied to every species")
    out.append("metastasis.ctc.metastasis_per_arrested_cell: an upper bound ('less than 0.01 %') used as the value")
    if affinity > 0:
        out.append("metastasis.capture.rate_constant_per_h_per_mg_per_mL (assumption)")
        out.append("membranes.*.ctc_capture_affinity (assumption: no capture rate read)")
        out.append("a captured CTC seeds no metastasis (assumption)")
    return out


def metastasis_metrics(t_h, tumor_g, control_g, particle_mg_per_mL, affinity: float) -> dict:
    """lung_metastases_count (treated tumor, with capture), lung_metastases_count_control (untreated
    tumor, no capture), CTCs captured, and the list of assumptions."""
    treated = ctc_balance(t_h, tumor_g, particle_mg_per_mL, affinity)
    control = ctc_balance(t_h, control_g, np.zeros_like(t_h), 0.0)
    return {"lung_metastases_count": treated.metastases,
            "lung_metastases_count_control": control.metastases,
            "ctc_captured_fraction": treated.captured / (treated.captured + treated.cleared) if treated.shed > 0 else 0.0,
            "lung_metastases_assumptions": assumptions(affinity)}
