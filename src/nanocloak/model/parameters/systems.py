"""Resolved parameters -> the batched linear system: the circulation and one ParticleSystem
element per (coating class, dose)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nanocloak.model.parameters.core import ParameterSet, ResolvedFormulation
from nanocloak.model.particle import CAP0, LIVER, N_ORGANS, ORGANS, SPLEEN, TUMOR, ParticleSystem


@dataclass(frozen=True)
class Circulation:
    """Volumes (L) and flows (L/h) of the circulation shared by the particle and drug models."""

    q_in: np.ndarray        # arterial inflow per organ (lung: cardiac output; absent tumor: 0)
    v_cap: np.ndarray       # organ vascular volumes
    v_tis: np.ndarray       # organ extravascular volumes
    v_art: float
    v_ven: float
    q_cardiac: float
    v_blood: float

    @property
    def organ_volume(self) -> np.ndarray:
        return self.v_cap + self.v_tis


def circulation(ps: ParameterSet, has_tumor: bool) -> Circulation:
    q_in, v_cap, v_tis = np.zeros(N_ORGANS), np.ones(N_ORGANS), np.ones(N_ORGANS)
    for j, name in enumerate(ORGANS):
        if name == "tumor":
            continue
        vol = ps[f"{name}.volume_L"]
        q_in[j] = ps[f"{name}.blood_flow_L_per_h"]
        v_cap[j] = vol * ps[f"{name}.vascular_fraction"]
        v_tis[j] = vol - v_cap[j]
    if has_tumor:  # an absent tumor keeps no flow, no exchange and unit volumes (never filled)
        vt = ps["tumor.VTC"] * ps["body_weight_kg"]
        q_in[TUMOR] = ps["tumor.QTC"] * ps["cardiac_output_L_per_h"]
        v_cap[TUMOR] = vt * ps["tumor.BVT"]
        v_tis[TUMOR] = vt - v_cap[TUMOR]
    central = ps["blood_volume_L"] - float((v_cap * (q_in > 0)).sum())
    return Circulation(q_in, v_cap, v_tis, central * ps["arterial_fraction"], central * (1 - ps["arterial_fraction"]),
                       ps["cardiac_output_L_per_h"], ps["blood_volume_L"])


#: the organs whose macrophages capture opsonised particles from the blood within minutes: the
#: liver and spleen sequester most of a nanomaterial dose, the liver's slow sinusoidal flow giving
#: 7.5x more contact with its cells than peripheral cells have (Tsoi KM et al. 2016, Nat Mater
#: 15:1212, abstract). The early-capture share's fast ramp and uptake factor act there only.
EARLY_CAPTURE_ORGANS = (LIVER, SPLEEN)


def _class_k50(r: ResolvedFormulation, k50: np.ndarray, class_of: np.ndarray, n: int) -> np.ndarray:
    """(organs, elements) uptake-ramp half-times: the organs' values, or a class's own in the liver
    and spleen (the opsonised share's fast ramp)."""
    out = np.repeat(k50[:, None], n, axis=1)
    for e, c in enumerate(class_of):
        t50 = r.class_t50_h[c] if c < len(r.class_t50_h) else None
        if t50 is not None:
            out[list(EARLY_CAPTURE_ORGANS), e] = t50
    return out


def antibody_opsonisation(r: ResolvedFormulation, class_of: np.ndarray, dose_of: np.ndarray):
    """Per element: its dose weight and the uptake multiplier of its dose's antibodies.

    Antibodies raised by earlier doses (anti-PEG IgM, anti-donor; surface/immunity.py, factor F of
    the dose) opsonise a later dose at once: of the share the proteins alone leave unopsonised,
    1/F stays so and the rest joins the opsonised share captured within minutes (early capture,
    surface/stealth.py), so ABC clears a second dose in hours, not over the slow uptake ramp
    (Dams 2000: 0.6 %ID in rat blood 4 h after the second weekly dose). A class without an
    opsonised share takes F on its uptake rate instead."""
    base = np.asarray([c.weight for c in r.classes], dtype=float)
    weights = base[class_of].copy()
    uptake = np.asarray(r.dose_factors, dtype=float)[dose_of].copy()
    for o, c in enumerate(r.classes):
        rest = o + 1
        if not c.opsonised or rest >= len(r.classes) or r.classes[rest].opsonised:
            continue
        total = base[o] + base[rest]
        free = base[rest] / total                         # unopsonised share before antibodies
        for e in np.flatnonzero((class_of == o) | (class_of == rest)):
            factor = max(float(r.dose_factors[dose_of[e]]), 1.0)
            left = free / factor
            weights[e] = total * (left if class_of[e] == rest else 1.0 - left)
            uptake[e] = 1.0
    return weights, uptake


def particle_systems(r: ResolvedFormulation) -> tuple[ParticleSystem, np.ndarray, np.ndarray]:
    """One ParticleSystem element per (coating class, dose); returns (system, weights, dose times).
    A weight is the element's class share times its dose in units of the first (dose.schedule).

    Elements share every parameter but the PC uptake, which scales with the coating class (and, for
    the tumor, with its targeting) and with the dose's repeat-dose clearance factor."""
    ps = r.params
    has_tumor = r.formulation.subject.tumor is not None
    circ = circulation(ps, has_tumor)
    q_in, v_cap, v_tis = circ.q_in, circ.v_cap, circ.v_tis
    pa, part, kmax = np.zeros(N_ORGANS), np.ones(N_ORGANS), np.zeros(N_ORGANS)
    k50, hill, krel = np.ones(N_ORGANS), np.ones(N_ORGANS), np.zeros(N_ORGANS)
    for j, name in enumerate(ORGANS):
        if name == "tumor":
            continue
        pa[j], part[j] = ps[f"{name}.pa_L_per_h"], ps[f"{name}.partition"]
        kmax[j] = ps[f"{name}.pc_uptake_max_per_h"]
        k50[j], hill[j] = ps[f"{name}.pc_uptake_t50_h"], ps[f"{name}.pc_uptake_hill"]
        krel[j] = ps[f"{name}.pc_release_per_h"]
    if has_tumor:
        pa[TUMOR], part[TUMOR] = ps["tumor.PATC"] * q_in[TUMOR], ps["tumor.PT"]
        kmax[TUMOR], k50[TUMOR], hill[TUMOR] = ps["tumor.KTRESmax"], ps["tumor.KTRES50"], ps["tumor.KTRESn"]
        krel[TUMOR] = ps["tumor.KTRESrelease"]
    n_doses = len(r.dose_times_h)
    n = len(r.classes) * n_doses
    class_of = np.repeat(np.arange(len(r.classes)), n_doses)
    dose_of = np.tile(np.arange(n_doses), len(r.classes))
    scale = np.empty((N_ORGANS, n))
    weights, dose_uptake = antibody_opsonisation(r, class_of, dose_of)
    weights = weights * np.asarray(r.dose_amounts, dtype=float)[dose_of]   # unequal doses: %ID of the first
    peripheral = r.class_peripheral_ratio or r.class_uptake_ratio
    scale[:] = (np.asarray(peripheral)[class_of] * dose_uptake)[None, :]
    saturation = np.asarray(r.dose_mps_saturation or [1.0] * n_doses, dtype=float)[dose_of]
    for j in EARLY_CAPTURE_ORGANS:
        scale[j] = np.asarray(r.class_uptake_ratio)[class_of] * dose_uptake * saturation
    scale[TUMOR] = np.asarray(r.class_tumor_ratio)[class_of]
    kmax_all = kmax[:, None] * scale
    from_cap = np.zeros((N_ORGANS, 1), dtype=bool)
    from_cap[LIVER] = True
    col = lambda a: np.repeat(a[:, None], n, axis=1)  # noqa: E731
    full = lambda v: np.full(n, v)  # noqa: E731
    system = ParticleSystem(
        v_art=full(circ.v_art), v_ven=full(circ.v_ven),
        v_blood_total=full(ps["blood_volume_L"]), q_cardiac=full(ps["cardiac_output_L_per_h"]),
        q_in=col(q_in), v_cap=col(v_cap), v_tis=col(v_tis), pa=col(pa), partition=col(part),
        kmax_cap=np.where(from_cap, kmax_all, 0.0), kmax_tis=np.where(from_cap, 0.0, kmax_all),
        k50=_class_k50(r, k50, class_of, n), hill=col(hill),
        krel_cap=np.where(from_cap, col(krel), 0.0), krel_tis=np.where(from_cap, 0.0, col(krel)),
        cl_urine=full(ps["kidney.urine_clearance_L_per_h"]), cl_bile=full(ps["liver.bile_clearance_L_per_h"]),
        k_deg=full(ps["particle.degradation_rate_per_h"]),
        k_deg_pc=full(ps["particle.degradation_rate_pc_per_h"]),
    )
    _place_dose(r, system, n)
    t_dose = np.asarray(r.dose_times_h, dtype=float)[dose_of]
    if r.heat_windows:
        # one window per element: the span of all heat windows at the strongest factor
        start = min(w[0] for w in r.heat_windows)
        end = max(w[1] for w in r.heat_windows)
        factor = max(w[2] for w in r.heat_windows)
        system.perm_start = np.maximum(start - t_dose, 0.0)
        system.perm_end = np.maximum(end - t_dose, 0.0)
        system.perm_factor = np.full(n, factor)
    _place_magnet(r, system, t_dose)
    return system, weights, t_dose


def _place_magnet(r: ResolvedFormulation, system: ParticleSystem, t_dose: np.ndarray) -> None:
    """treatment.magnets (model/magnetic.py): the magnet's one-way capture from the tumor's capillary
    blood into its tissue, in each dose copy's own time (0 for a non-magnetic core)."""
    from nanocloak.model import magnetic

    captures = magnetic.magnet_captures(r.formulation, r.params["particle.hydrodynamic_diameter_nm"], r.params)
    if not captures or captures[0].capture_rate_per_h <= 0.0:
        return
    c = captures[0]                                    # one window (spec/magnets.py MAX_MAGNETS)
    system.capture_start = np.maximum(c.start_h - t_dose, 0.0)
    system.capture_end = np.maximum(c.end_h - t_dose, 0.0)
    system.capture_rate = np.full(t_dose.shape, c.capture_rate_per_h)



def _place_dose(r: ResolvedFormulation, system: ParticleSystem, n: int) -> None:
    """Where each dose copy starts (dose.route, docs/routes.md): iv in the blood (the default);
    otherwise in a depot: intratumoral at the injection site in the tumor, emptying into the tumor's
    vessels (capillary blood); intraperitoneal / subcutaneous absorbed via lymph into the venous pool."""
    route = r.formulation.dose.route
    if route == "iv":
        return
    system.start_blood = np.zeros(n)
    system.depot0 = np.ones(n)
    system.k_abs = np.full(n, r.params["route.depot_exit_rate_per_h"])
    if route == "intratumoral":
        system.depot_into = np.full(n, float(CAP0 + TUMOR))
