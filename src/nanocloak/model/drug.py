"""Whole-body PBPK of the released (free) drug: perfusion-limited organs, tissue:plasma partition
coefficients, hepatic and renal clearance (the classic form, e.g. Gustafson DL et al. 2002 Cancer
Chemother Pharmacol 49:4 for doxorubicin in mice).

    organ:  dA_o/dt = Q_o (C_in - C_out,o) - CL_o C_out,o/BP + input from particles
    C_out,o = A_o / (V_o Kp_o) x BP     (venous equilibrium; Kp tissue:plasma, BP blood:plasma)

Circulation as in the particle model (lung in series; spleen drains into the liver). Hepatic
clearance acts on the liver's outflowing plasma, renal clearance on the kidney's; metabolised and
urine-excreted drug are states, so the matrix's columns sum to zero (mass balance by construction).
The drug model is linear, so the free drug of several doses or particle classes adds up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nanocloak.library import tables as library
from nanocloak.model.particle import KIDNEY, LIVER, LUNG, N_ORGANS, ORGANS, SPLEEN

F_ART, F_VEN = 0, 1
F_ORG0 = 2
F_METABOLISED = F_ORG0 + N_ORGANS
F_URINE = F_METABOLISED + 1
N_FREE = F_URINE + 1


@dataclass(frozen=True)
class DrugProperties:
    key: str
    partition: dict[str, float]          # tissue:plasma per organ
    blood_to_plasma: float
    hepatic_clearance_L_per_h: float
    renal_clearance_L_per_h: float
    molecular_weight: float


def drug_properties(key: str, body_weight_kg: float) -> DrugProperties:
    d = library.entry("drugs", key, "drug")
    w = f"drugs.{key}"
    kp_node = d.get("partition_coefficients") or {}
    kp = {o: library.value(kp_node[o], f"{w}.partition_coefficients.{o}") if o in kp_node else 1.0 for o in ORGANS}
    kp["muscle"] = kp.get("muscle", kp.get("rest", 1.0))
    val = lambda k, default: library.value(d[k], f"{w}.{k}") if isinstance(d.get(k), dict) else default  # noqa: E731
    return DrugProperties(
        key=key, partition=kp, blood_to_plasma=val("blood_to_plasma_ratio", 1.0),
        hepatic_clearance_L_per_h=val("hepatic_clearance_L_per_h_per_kg", 0.0) * body_weight_kg,
        renal_clearance_L_per_h=val("renal_clearance_L_per_h_per_kg", 0.0) * body_weight_kg,
        molecular_weight=val("molecular_weight_g_per_mol", float("nan")),
    )


@dataclass(frozen=True)
class FreeDrugSystem:
    matrix: np.ndarray        # (N_FREE, N_FREE): d free / dt = matrix @ free
    organ_volume_L: np.ndarray
    drug: DrugProperties


def free_drug_system(drug: DrugProperties, v_art: float, v_ven: float, q_cardiac: float,
                     q_in: np.ndarray, organ_volume_L: np.ndarray) -> FreeDrugSystem:
    """The linear free-drug model for one animal (q_in: arterial inflow per organ, lung = cardiac output)."""
    n = N_FREE
    m = np.zeros((n, n))
    bp = drug.blood_to_plasma
    kp = np.array([drug.partition[o] for o in ORGANS])
    vol = np.maximum(organ_volume_L, 1e-12)
    out_rate = bp / (vol * kp)                          # (C_out,blood) per amount
    q_out = q_in.copy()
    q_out[LIVER] = q_in[LIVER] + q_in[SPLEEN]

    def flow(src: int, dst: int, rate: float) -> None:
        m[src, src] -= rate
        m[dst, src] += rate

    flow(F_VEN, F_ORG0 + LUNG, q_cardiac / v_ven)
    flow(F_ORG0 + LUNG, F_ART, q_cardiac * out_rate[LUNG])
    for o in range(N_ORGANS):
        if o == LUNG or q_in[o] <= 0:
            continue
        flow(F_ART, F_ORG0 + o, q_in[o] / v_art)
        drain = F_ORG0 + LIVER if o == SPLEEN else F_VEN
        flow(F_ORG0 + o, drain, q_out[o] * out_rate[o])
    # clearances act on the organ's outflowing plasma: C_out,blood / BP
    flow(F_ORG0 + LIVER, F_METABOLISED, drug.hepatic_clearance_L_per_h * out_rate[LIVER] / bp)
    flow(F_ORG0 + KIDNEY, F_URINE, drug.renal_clearance_L_per_h * out_rate[KIDNEY] / bp)
    return FreeDrugSystem(m, organ_volume_L, drug)
