"""Whole-body PBPK of the released (free) drug: perfusion-limited organs, tissue:plasma partition
coefficients, hepatic and renal clearance (the classic form, e.g. Gustafson DL et al. 2002 Cancer
Chemother Pharmacol 49:4 for doxorubicin in mice).

    organ:  dA_o/dt = Q_o (C_in - C_out,o) - CL_o C_out,o/BP + input from particles
    C_out,o = A_o / (V_o Kp_o) x BP     (venous equilibrium; Kp tissue:plasma, BP blood:plasma)

Circulation as in the particle model (lung in series; spleen drains into the liver). Hepatic
clearance acts on the liver's outflowing plasma, renal clearance on the kidney's; metabolised and
urine-excreted drug are states, so the matrix's columns sum to zero (mass balance by construction).
The drug model is linear, so the free drug of several doses or particle classes adds up.

IgG payloads (a `fcrn` block in drugs.yaml) add a body-wide catabolic clearance on the venous
plasma: fluid-phase pinocytosis by endothelial and hematopoietic cells takes up plasma at
CL_pino; the FcRn-bound share f_R of what is taken up is returned to plasma, the rest is degraded
in lysosomes (the salvage scheme of the platform antibody PBPK, Shah DK & Betts AM 2012,
J Pharmacokinet Pharmacodyn 39:67, lumped to one linear loss):

    CL_cat = CL_pino x (1 - f_R)         f_R = 0: no FcRn (knockout), every pinocytosed IgG degraded
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
    fcrn_pinocytic_clearance_L_per_h: float = 0.0   # plasma taken up by pinocytosis (IgG only)
    fcrn_recycled_fraction: float = 0.0             # share of it FcRn returns to plasma
    body_weight_kg: float = 1.0

    @property
    def catabolic_clearance_L_per_h(self) -> float:
        """FcRn-limited catabolism: CL_pino x (1 - f_R) (Shah & Betts 2012 salvage, lumped)."""
        return self.fcrn_pinocytic_clearance_L_per_h * (1.0 - self.fcrn_recycled_fraction)


def tumor_unbound_fraction(key: str) -> float:
    """Unbound over total drug in the tumor, fu_p / Kp_tumor. The tissue of a perfusion-limited organ
    is in equilibrium with plasma at C_tissue / Kp (the venous-equilibrium rule of this module), of
    which the fraction fu_p is unbound; only the unbound drug reaches the cells' targets, as the
    medium's drug does in the in vitro assay an IC50 comes from (free drug theory: the unbound
    concentration in tissue equals the unbound plasma concentration at equilibrium; e.g. the note
    'Free concentrations and drug concentration asymmetry in plasma and tissues', prismbiolab.com).
    A drug without a tabulated fu_p or tumor Kp takes 1 for it (its drugs.yaml entry says so)."""
    d = library.entry("drugs", key, "drug")
    w = f"drugs.{key}"
    fu = library.value(d["fraction_unbound_plasma"], f"{w}.fraction_unbound_plasma") if isinstance(
        d.get("fraction_unbound_plasma"), dict) else 1.0
    kp_node = (d.get("partition_coefficients") or {}).get("tumor")
    kp = library.value(kp_node, f"{w}.partition_coefficients.tumor") if isinstance(kp_node, dict) else 1.0
    return fu / kp


def fcrn_parameter_names(key: str) -> tuple[str, str]:
    """The model parameters (model.overrides names) of a drug's FcRn block: pinocytic clearance
    (L/h/kg) and recycled fraction."""
    return f"payload.{key}.fcrn_pinocytic_clearance_L_per_h_per_kg", f"payload.{key}.fcrn_recycled_fraction"


def drug_properties(key: str, body_weight_kg: float, params=None) -> DrugProperties:
    """A drug's free-drug PBPK properties; params (the run's ParameterSet) supplies the FcRn
    values it resolved (so model.overrides can switch FcRn off), else drugs.yaml's."""
    d = library.entry("drugs", key, "drug")
    w = f"drugs.{key}"
    kp_node = d.get("partition_coefficients") or {}
    kp = {o: library.value(kp_node[o], f"{w}.partition_coefficients.{o}") if o in kp_node else 1.0 for o in ORGANS}
    kp["muscle"] = kp.get("muscle", kp.get("rest", 1.0))
    val = lambda k, default: library.value(d[k], f"{w}.{k}") if isinstance(d.get(k), dict) else default  # noqa: E731
    cl_pino, f_r = fcrn_values(key)
    if params is not None:
        names = fcrn_parameter_names(key)
        cl_pino = params[names[0]] if names[0] in params else cl_pino
        f_r = params[names[1]] if names[1] in params else f_r
    return DrugProperties(
        key=key, partition=kp, blood_to_plasma=val("blood_to_plasma_ratio", 1.0),
        hepatic_clearance_L_per_h=val("hepatic_clearance_L_per_h_per_kg", 0.0) * body_weight_kg,
        renal_clearance_L_per_h=val("renal_clearance_L_per_h_per_kg", 0.0) * body_weight_kg,
        molecular_weight=val("molecular_weight_g_per_mol", float("nan")),
        fcrn_pinocytic_clearance_L_per_h=cl_pino * body_weight_kg, fcrn_recycled_fraction=f_r,
        body_weight_kg=body_weight_kg,
    )


def fcrn_values(key: str) -> tuple[float, float]:
    """(pinocytic clearance L/h/kg, recycled fraction) of a drug's `fcrn` block; (0, 0) without one."""
    node = library.entry("drugs", key, "drug").get("fcrn")
    if not node:
        return 0.0, 0.0
    w = f"drugs.{key}.fcrn"
    return (library.value(node["pinocytic_clearance_L_per_h_per_kg"], f"{w}.pinocytic_clearance_L_per_h_per_kg"),
            library.value(node["recycled_fraction"], f"{w}.recycled_fraction"))


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
    # FcRn-limited catabolism of IgG on the venous plasma, C_plasma = A_ven / (V_ven BP) (Shah & Betts 2012)
    flow(F_VEN, F_METABOLISED, drug.catabolic_clearance_L_per_h / (v_ven * bp))
    return FreeDrugSystem(m, organ_volume_L, drug)


def disposition_metrics(fs: FreeDrugSystem) -> dict[str, float]:
    """The free drug's own disposition in this animal: its terminal half-life, ln 2 / the slowest
    decay rate of the linear system (the eliminated-drug sinks left out), and for an IgG the FcRn
    recycled fraction and the catabolic clearance CL_pino (1 - f_R) it leaves (per kg)."""
    live = slice(0, F_METABOLISED)
    rates = -np.linalg.eigvals(fs.matrix[live, live]).real
    rates = rates[rates > 1e-14]
    out = {"free_drug_t_half_h": float(np.log(2.0) / rates.min()) if rates.size else float("inf")}
    d = fs.drug
    if d.fcrn_pinocytic_clearance_L_per_h > 0:
        out["fcrn_recycled_fraction"] = d.fcrn_recycled_fraction
        out["fcrn_catabolic_clearance_L_per_h_per_kg"] = d.catabolic_clearance_L_per_h / d.body_weight_kg
    return out
