"""Formulations of classic experiments used by the model tests (mouse, 20 g, 5 mg/kg)."""

from __future__ import annotations

import numpy as np

from nanocloak.simulation.core import simulate_many
from nanocloak.spec.formulation import Formulation, from_dict

MOUSE = {"species": "mouse", "body_weight_g": 20}
PLGA70 = {"material": "plga", "diameter_nm": 70}
RBC = {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc"}], "method": "coextrusion"}}
PEG2K = {"kind": "peg", "peg": {"mw_kDa": 2}}
BARE = {"kind": "none"}


def formulation(core: dict, surface: dict, subject: dict | None = None, dose: dict | None = None,
                end_h: float = 168.0, name: str = "check") -> Formulation:
    return from_dict({"nanocloak": 1, "name": name, "core": core, "surface": surface, "dose": dose or {"mg_per_kg": 5},
                      "subject": subject or dict(MOUSE), "simulate": {"end_h": end_h}})


def tumor_subject(line: str = "4T1", site: str = "subcutaneous", volume: float = 100.0) -> dict:
    return dict(MOUSE, tumor={"line": line, "site": site, "volume_mm3": volume})


def second_dose_retention_ratio(core: dict, surface: dict, interval_h: float = 168.0, host: str = "immunocompetent") -> float:
    """24 h lab-blood retention of a second dose (two-dose run minus one-dose run) / that of the first."""
    subject = dict(MOUSE, host=host)
    end = interval_h + 24.0
    one, two = simulate_many([
        formulation(core, surface, subject, {"mg_per_kg": 5, "times_h": [0]}, end),
        formulation(core, surface, subject, {"mg_per_kg": 5, "times_h": [0, interval_h]}, end),
    ])
    first = float(np.interp(24.0, one.t_h, one.series["blood_sample"]))
    second = float(np.interp(end, two.t_h, two.series["blood_sample"]) - np.interp(end, one.t_h, one.series["blood_sample"]))
    return second / first
