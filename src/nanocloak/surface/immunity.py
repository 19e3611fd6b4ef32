"""Repeated dosing: antibodies raised by earlier doses speed the clearance of later ones.

- Anti-PEG IgM after a PEGylated dose: accelerated blood clearance (ABC) of a later PEG dose,
  strongest 5-7 days after the first (Dams ETM et al. 2000 J Pharmacol Exp Ther 292:1071;
  Ishida T et al. 2003 J Control Release 88:35).
- Antibodies against non-syngeneic (allogeneic, xenogeneic) membrane proteins; syngeneic and
  autologous membranes, and RBC membranes with their low immunogenicity, raise little or none.
- Hosts without the needed lymphocytes (nude, scid) mount neither (immunology.yaml, with notes on
  where the literature differs).

The response to a dose given dt hours after an earlier one is host_factor x (max_factor - 1) x
g(dt), with g a time profile: zero before onset, a smooth rise to 1 at the peak, then an
exponential fall to 5% at `duration_h` (shape: assumption; onset, peak, duration sourced).
The resulting factor multiplies the phagocytic uptake of that dose in every organ.
"""

from __future__ import annotations

import math

from nanocloak.library import tables as library
from nanocloak.spec.formulation import Formulation
from nanocloak.surface.blocks import membrane_of, source_fraction


def _imm(group: str, key: str) -> float:
    return library.value(library.table("immunology")[group][key], f"immunology.{group}.{key}")


def response_profile(dt_h: float, onset_h: float, peak_h: float, duration_h: float) -> float:
    """g(dt): 0 before onset, sin^2 rise to 1 at peak, exp decay to 0.05 at duration."""
    if dt_h <= onset_h:
        return 0.0
    if dt_h <= peak_h:
        return math.sin(0.5 * math.pi * (dt_h - onset_h) / (peak_h - onset_h)) ** 2
    return math.exp(-math.log(20.0) * (dt_h - peak_h) / max(duration_h - peak_h, 1e-9))


def host_factor(host: str, response: str) -> float:
    node = library.table("immunology")["hosts"][host][f"{response}_response_factor"]
    return library.value(node, f"immunology.hosts.{host}")


def anti_peg_gain(f: Formulation, dt_h: float) -> float:
    if f.surface.kind != "peg":
        return 0.0
    g = response_profile(dt_h, _imm("anti_peg", "onset_h"), _imm("anti_peg", "peak_h"), _imm("anti_peg", "duration_h"))
    return host_factor(_host(f), "anti_peg") * (_imm("anti_peg", "max_uptake_factor") - 1.0) * g


def anti_donor_gain(f: Formulation, dt_h: float) -> float:
    if f.surface.kind != "membrane":
        return 0.0
    g = response_profile(dt_h, _imm("anti_donor", "onset_h"), _imm("anti_donor", "peak_h"), _imm("anti_donor", "duration_h"))
    if g == 0.0:
        return 0.0
    gain = 0.0
    for src in membrane_of(f).sources:
        if src.donor == "syngeneic":
            continue
        max_factor = _imm("anti_donor", f"{src.donor}_max_uptake_factor")
        immunogenicity = library.value(library.entry("membranes", src.cell)["immunogenicity_factor"])
        gain += source_fraction(src) * immunogenicity * (max_factor - 1.0)
    return host_factor(_host(f), "anti_donor") * gain * g


def _host(f: Formulation) -> str:
    """The host (Subject._check fills it: nude for a xenograft, else immunocompetent)."""
    return f.subject.host or "immunocompetent"


def dose_clearance_factors(f: Formulation) -> list[float]:
    """Phagocytic-uptake multiplier of each dose (1 for the first)."""
    times = f.dose.times_h
    factors = []
    for k, t in enumerate(times):
        earlier = times[:k]
        peg = max((anti_peg_gain(f, t - s) for s in earlier), default=0.0)
        donor = max((anti_donor_gain(f, t - s) for s in earlier), default=0.0)
        factors.append(1.0 + peg + donor)
    return factors
