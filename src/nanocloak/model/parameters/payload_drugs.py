"""Per-payload drug parameters that a user may override (model.overrides): the FcRn block of an IgG
payload (pinocytic clearance and recycled fraction, drug.py), so FcRn can be switched off
(`payload.<drug>.fcrn_recycled_fraction: 0`, an FcRn-knockout mouse)."""

from __future__ import annotations

from nanocloak.library import tables as library
from nanocloak.model import drug as drug_pbpk
from nanocloak.model.parameters.core import ParameterSet
from nanocloak.spec.formulation import Formulation


def resolve_payload_drugs(f: Formulation, ps: ParameterSet) -> None:
    """Record each IgG payload's FcRn parameters (drugs.yaml `fcrn`), once per drug."""
    for key in dict.fromkeys(p.drug for p in f.payloads):
        node = library.entry("drugs", key, "drug").get("fcrn")
        if not node:
            continue
        cl_pino, f_r = drug_pbpk.fcrn_values(key)
        n_cl, n_fr = drug_pbpk.fcrn_parameter_names(key)
        ps.set(n_cl, cl_pino, "L/h/kg", lambda n=node: library.sourced(n["pinocytic_clearance_L_per_h_per_kg"]).source,
               "plasma cleared into endosomes by pinocytosis (IgG; drug.py)")
        ps.set(n_fr, f_r, "fraction", lambda n=node: library.sourced(n["recycled_fraction"]).source,
               "share of pinocytosed IgG FcRn returns to plasma (0 = FcRn knockout)")
