"""The immune arm of therapy (issue 14; docs/immune.md): NK cells and tumor-specific effector T
cells after de Pillis LG, Radunskaya AE & Wiseman CL 2005 (Cancer Res 65:7950), tumor-associated
macrophages switching between M1 and M2 after den Breems NY & Eftimie R 2016 (J Theor Biol), and
the agents that act on them (drugs.yaml `immune_action`, immune.yaml `membranes`).

On the tumor's cell count T(t) (volume x immune.tumor.cells_per_mm3), time in days:

    dN/dt = sigma - f N + g T^2 / (h + T^2) N - p N T                       (NK; de Pillis 2005)
    dL/dt = -m L + j (D T)^2 / (k + (D T)^2) L - q L T + r N T                (CD8; de Pillis 2005)
    D     = d (L/T)^l / (s + (L/T)^l)                                        (CD8 kill per tumor cell)
    dphi/dt = k21 (1 - phi) - k12 phi                     (M1 share of the TAMs; den Breems & Eftimie 2016)
    kappa = c N + D + a_M (c1 phi - c2 (1 - phi))         (kill per tumor cell and day)

with a_M TAMs per tumor cell (M1 = a_M phi T, M2 = a_M (1 - phi) T). Agents modulate one rate each
by a factor 1 + E(t), E = Emax C(t) / (C(t) + EC50) from the agent in the tumor: `m2_to_m1`
(CSF-1R inhibition) k21; `effector_unbrake` (checkpoint blockade) d x (1 + E), q / (1 + E);
`effector_priming` (adjuvant) r, x (1 + gain) more with a cancer-cell membrane coat (antigen
vaccine); `nk_activation` (NK-cell membrane coat) c. Hosts without T cells (nude, scid) have
L = 0, so T-cell agents do nothing there.

Coupling (approximations, stated): the calibrated growth laws already contain the untreated
tumor's immune pressure, so only the EXTRA kill over a baseline run (same equations, no agents, on
the same tumor curve) enters growth.simulate_growth, beside the drugs' kill: max(kappa - kappa_0, 0).
The immune states are integrated one way on the tumor curve without the immune kill (the untreated
curve, or the drug-treated one with chemotherapy or light/heat/sound impulses): their own kill does
not feed back into the tumor size they see. Without an immune agent nothing is computed and the
curves are today's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from nanocloak.errors import NanocloakError
from nanocloak.library import tables as library
from nanocloak.model.therapy import growth as tumor_growth
from nanocloak.solvers.scalar_interp import ScalarInterp
from nanocloak.surface import coating

TARGETS = ("m2_to_m1", "effector_unbrake", "effector_priming", "nk_activation")
COUPLING_NOTE = ("one-way: immune states integrated on the tumor curve without the immune kill; only the kill "
                 "above the untreated baseline enters growth (calibrated growth laws include the baseline)")


def _p(section: str, key: str) -> float:
    return library.value(library.table("immune")[section][key], f"immune.{section}.{key}")


@dataclass(frozen=True)
class Agent:
    """One immune agent's effect E(t) = Emax C / (C + EC50) on its target rate."""

    name: str
    target: str
    t_h: np.ndarray
    effect: np.ndarray


@dataclass
class ImmuneArm:
    t_h: np.ndarray
    nk_cells: np.ndarray
    effector_cells: np.ndarray
    m1_cells: np.ndarray
    m2_cells: np.ndarray
    baseline_m1_share: float
    kill_per_day: np.ndarray                  # extra kill over the baseline (1/day), at t_h
    combined_kill: tuple[np.ndarray, np.ndarray] | None     # the drugs' and the immune kill (None: neither)
    agents: list[str] = field(default_factory=list)
    host: str = "immunocompetent"
    share_pct: float = 0.0                    # immune share of the (rate x time) kill


def host_arms(host: str | None) -> tuple[bool, bool]:
    """(T cells, NK cells) of a host (immune.yaml hosts)."""
    node = library.table("immune")["hosts"].get(host or "immunocompetent")
    if node is None:
        raise NanocloakError(f"subject.host: {host!r} has no immune-arm entry; hosts: "
                             f"{', '.join(library.table('immune')['hosts'])}")
    where = f"immune.hosts.{host}"
    return (library.value(node["t_cells"], f"{where}.t_cells") > 0, library.value(node["nk_cells"], f"{where}.nk_cells") > 0)


def immune_action(drug: str) -> dict | None:
    """The drug's `immune_action` block (drugs.yaml), or None."""
    action = library.entry("drugs", drug).get("immune_action")
    return action if isinstance(action, dict) else None


def membrane_actions(f) -> list[tuple[str, dict, float]]:
    """(cell, immune.yaml membranes entry, source fraction) of the formulation's membrane coat."""
    surface = f.surface
    if surface.kind != "membrane" or surface.membrane is None:
        return []
    table = library.table("immune")["membranes"]
    return [(s.cell, table[s.cell], float(s.fraction or 1.0)) for s in surface.membrane.sources if s.cell in table]


def has_immune_agent(f) -> bool:
    """True when a payload or the membrane coat acts on the immune arm (a cancer-cell membrane only with
    an adjuvant payload)."""
    actions = [immune_action(p.drug) for p in f.payloads]
    targets = {a["target"] for a in actions if a}
    for _, node, _ in membrane_actions(f):
        if node["target"] in TARGETS or (node["target"] == "antigen" and "effector_priming" in targets):
            return True
    return bool(targets)


def _effect(node: dict, conc: np.ndarray, ec50_key: str, where: str) -> np.ndarray:
    emax = library.value(node["emax"], f"{where}.emax")
    ec50 = library.value(node[ec50_key], f"{where}.{ec50_key}")
    c = np.maximum(np.asarray(conc, dtype=float), 0.0)
    return emax * c / (c + ec50)


def agents_of(result, tumor_t_h: np.ndarray, tumor_mm3: np.ndarray) -> list[Agent]:
    """The formulation's immune agents with their effect over time, from the payloads in the tumor
    (free, or free plus particle-bound: the action's `exposure`) and the membrane coat's particles."""
    f = result.resolved.formulation
    out = []
    for drug, p in result.payloads.items():
        action = immune_action(drug)
        if action is None or "tumor" not in p.free_ug:
            continue
        ug = p.free_ug["tumor"] + (p.bound_ug.get("tumor", 0.0 * p.t_h) if action.get("exposure") == "total" else 0.0)
        mw = library.value(library.entry("drugs", drug)["molecular_weight_g_per_mol"])
        uM = ug / p.organ_mass_g["tumor"] / mw * 1000.0          # ug/g -> umol/kg ~ uM
        out.append(Agent(drug, action["target"], np.asarray(p.t_h, float),
                         _effect(action, uM, "ec50_uM", f"drugs.{drug}.immune_action")))
    priming = any(a.target == "effector_priming" for a in out)
    for cell, node, fraction in membrane_actions(f):
        if node["target"] == "antigen" and priming:           # antigen vaccine (Kroll 2017): adjuvant x (1 + gain)
            gain = fraction * library.value(node["vaccine_gain"], f"immune.membranes.{cell}.vaccine_gain")
            out = [Agent(a.name, a.target, a.t_h, a.effect * (1.0 + gain)) if a.target == "effector_priming" else a
                   for a in out]
            out.append(Agent(f"membrane:{cell}", "antigen", np.array([0.0]), np.array([gain])))
        elif node["target"] in TARGETS and "tumor" in result.series:
            core_mg = coating.core_mg_per_kg(f) * f.subject.body_weight_g / 1000.0
            mass_g = np.interp(result.t_h, tumor_t_h, tumor_mm3) / 1000.0
            mg_per_g = np.asarray(result.series["tumor"]) / 100.0 * core_mg / mass_g
            out.append(Agent(f"membrane:{cell}", node["target"], np.asarray(result.t_h, float),
                             fraction * _effect(node, mg_per_g, "ec50_mg_per_g", f"immune.membranes.{cell}")))
    return out


@dataclass(frozen=True)
class _Rates:
    """The model's constants (immune.yaml), per cell and day."""

    sigma: float
    f: float
    g: float
    h: float
    p: float
    c: float
    d: float
    lam: float
    s: float
    j: float
    k: float
    m: float
    q: float
    r: float
    k12: float
    k21: float
    a_m: float
    c1: float
    c2: float

    @staticmethod
    def read() -> "_Rates":
        keys = ("nk_source_cells_per_day", "nk_death_per_day", "nk_recruitment_max_per_day", "nk_recruitment_half_cells2",
                "nk_inactivation_per_cell_per_day", "nk_kill_per_cell_per_day", "ctl_kill_max_per_day", "ctl_kill_exponent",
                "ctl_kill_half_ratio", "ctl_recruitment_max_per_day", "ctl_recruitment_half_cells2", "ctl_death_per_day",
                "ctl_inactivation_per_cell_per_day", "ctl_activation_per_cell_per_day")
        macro = ("m1_to_m2_per_day", "m2_to_m1_per_day", "tam_per_tumor_cell", "m1_kill_per_day", "m2_support_per_day")
        return _Rates(*[_p("depillis2005", k) for k in keys], *[_p("macrophages", k) for k in macro])


def _modifiers(agents: list[Agent], t_days: float) -> dict[str, float]:
    """1 + sum of the agents' effects per target at t (days)."""
    return _Modifiers(agents)(t_days)


class _Modifiers:
    """_modifiers with each agent's curve read by ScalarInterp (numpy.interp's arithmetic, bit for bit,
    without its per-call array set-up: the right-hand side below calls it at every LSODA evaluation)."""

    __slots__ = ("curves",)

    def __init__(self, agents: list[Agent]) -> None:
        self.curves = [(a.target, ScalarInterp(a.t_h, a.effect)) for a in agents if a.target in TARGETS]

    def __call__(self, t_days: float) -> dict[str, float]:
        mods = {target: 1.0 for target in TARGETS}
        for target, curve in self.curves:                # the agents' order: the same sums as before
            mods[target] += curve(t_days * 24.0)
        return mods


def ctl_kill(R: _Rates, L: float, T: float, unbrake: float = 1.0) -> float:
    """D = d (L/T)^l / (s + (L/T)^l): effector kill per tumor cell and day (de Pillis 2005)."""
    if L <= 0.0 or T <= 0.0:
        return 0.0
    x = (L / T) ** R.lam
    return R.d * unbrake * x / (R.s + x)


#: the targets the states' equations read (nk_activation acts only in the kill kappa)
STATE_TARGETS = ("m2_to_m1", "effector_unbrake", "effector_priming")


def _rhs(R: _Rates, tumor, agents, t_cells: bool, nk: bool):
    modifiers = _Modifiers([a for a in agents if a.target in STATE_TARGETS])
    still = modifiers(0.0) if not modifiers.curves else None     # no agent on the states: every factor 1

    def rhs(t, y):
        # Python floats (y.tolist()): the same IEEE arithmetic as on numpy scalars, ~3x cheaper;
        # `0.0 if 0.0 > v else v` is max(v, 0.0) exactly (nan and -0.0 kept), as before
        y0, y1, y2 = y.tolist()
        N, L = (0.0 if 0.0 > y0 else y0), (0.0 if 0.0 > y1 else y1)
        phi = min(0.0 if 0.0 > y2 else y2, 1.0)
        T = tumor(t)
        mods = modifiers(t) if still is None else still
        dN = (R.sigma - R.f * N + R.g * T * T / (R.h + T * T) * N - R.p * N * T) if nk else 0.0
        dL = 0.0
        if t_cells:
            DT = ctl_kill(R, L, T, mods["effector_unbrake"]) * T
            dL = (-R.m * L + R.j * DT * DT / (R.k + DT * DT) * L - R.q / mods["effector_unbrake"] * L * T
                  + R.r * mods["effector_priming"] * N * T)
        dphi = R.k21 * mods["m2_to_m1"] * (1.0 - phi) - R.k12 * phi
        return [dN, dL, dphi]
    return rhs


def _integrate(rhs, y0, t_end_days: float, t_eval) -> np.ndarray:
    # scipy.integrate is imported here: it pulls scipy.special, which a plain simulate does not need
    from scipy.integrate import solve_ivp

    sol = solve_ivp(rhs, (0.0, t_end_days), y0, method="LSODA", t_eval=t_eval, rtol=1e-7, atol=[1e-3, 1e-3, 1e-10])
    if not sol.success:
        raise NanocloakError(f"immune arm failed to integrate ({sol.message}); check the agents' doses")
    return np.maximum(sol.y.T, 0.0)


def simulate_states(t_h: np.ndarray, tumor_mm3: np.ndarray, agents: list[Agent], host: str | None,
                    states: np.ndarray | None = None):
    """(N, L, phi) at t_h on the tumor curve, after a run-in on the starting size without agents;
    and the kill per tumor cell kappa(t) (1/day). `states`: the states already integrated on this
    curve and host by agents with the same STATE_TARGETS effects (immune_arm's baseline), reused."""
    R = _Rates.read()
    t_cells, nk = host_arms(host)
    cells = np.asarray(tumor_mm3, float) * _p("tumor", "cells_per_mm3")
    days = np.asarray(t_h, float) / 24.0
    if states is None:
        y0 = np.array(_run_in(R, float(cells[0]), t_cells, nk, _p("depillis2005", "initial_ctl_cells"),
                              _p("tumor", "run_in_days")))
        states = _integrate(_rhs(R, ScalarInterp(days, cells), agents, t_cells, nk), y0, float(days[-1]), days)
    kappa = np.empty(days.size)
    modifiers = _Modifiers(agents)
    for i, (t, (N, L, phi)) in enumerate(zip(days, states)):
        mods = modifiers(t)
        kappa[i] = (R.c * mods["nk_activation"] * N + ctl_kill(R, L, cells[i], mods["effector_unbrake"])
                    + R.a_m * (R.c1 * phi - R.c2 * (1.0 - phi)))
    return states, kappa, cells


@lru_cache(maxsize=1024)
def _run_in(R: _Rates, cells0: float, t_cells: bool, nk: bool, ctl0: float, run_in: float) -> tuple[float, ...]:
    """The states after the run-in on the starting size without agents: the same for a formulation's
    arm and its baseline, and for every formulation on the same tumor (cached on its inputs)."""
    y0 = [R.sigma / R.f if nk else 0.0, ctl0 if t_cells else 0.0, R.k21 / (R.k12 + R.k21)]
    return tuple(float(v) for v in _integrate(_rhs(R, lambda t: cells0, [], t_cells, nk), y0, run_in, [run_in])[-1])


def baseline_states(t_h: np.ndarray, tumor_mm3: np.ndarray, host: str | None):
    """simulate_states without agents (the baseline), read-only, cached on the tumor curve, the host and
    the tables' constants it reads: every formulation on the same untreated tumor shares it."""
    R = _Rates.read()
    constants = (R, host_arms(host), _p("tumor", "cells_per_mm3"), _p("depillis2005", "initial_ctl_cells"),
                 _p("tumor", "run_in_days"))
    return _baseline_cached(constants, np.ascontiguousarray(t_h, dtype=float).tobytes(),
                            np.ascontiguousarray(tumor_mm3, dtype=float).tobytes(), host)


@lru_cache(maxsize=256)
def _baseline_cached(constants: tuple, t_bytes: bytes, tumor_bytes: bytes, host: str | None):
    del constants                                  # a key only: the values simulate_states reads itself
    out = simulate_states(np.frombuffer(t_bytes), np.frombuffer(tumor_bytes), [], host)
    for a in out:
        a.flags.writeable = False
    return out


def clear_cache() -> None:
    """Forget the cached run-ins and baselines (tests: a cached result against a fresh one)."""
    _run_in.cache_clear()
    _baseline_cached.cache_clear()


def _combine(t_h: np.ndarray, extra: np.ndarray, kill):
    """The immune kill beside the drugs' (times h, 1/day), linear between knots as growth reads it."""
    if not extra.any():                   # no kill over the baseline: the growth model sees exactly the drugs'
        return kill
    if kill is None:
        return t_h, extra
    times = np.unique(np.r_[t_h, kill[0]])
    return times, np.interp(times, t_h, extra) + np.interp(times, kill[0], kill[1])


def _share_pct(t_h: np.ndarray, extra: np.ndarray, kill) -> float:
    """Immune share of the kill, as the rate x time integrals over the run (impulses not counted)."""
    immune = float(np.trapezoid(extra, t_h))
    drug = 0.0
    if kill is not None:
        k = np.interp(t_h, kill[0], kill[1])
        drug = float(np.trapezoid(k, t_h))
    total = immune + drug
    return min(100.0, 100.0 * immune / total) if total > 0 else 0.0


def immune_arm(result, params: tumor_growth.GrowthParameters, v0: float, t: np.ndarray, control_mm3: np.ndarray,
               kill, impulses) -> ImmuneArm | None:
    """The immune arm of one formulation, or None without an immune agent (nothing changes then)."""
    f = result.resolved.formulation
    if f.subject.tumor is None or not has_immune_agent(f):
        return None
    tumor_mm3 = control_mm3
    if kill is not None or impulses:
        tumor_mm3 = tumor_growth.simulate_growth(params, v0, t, kill, impulses).volume_mm3
    agents = agents_of(result, t, tumor_mm3)
    host = f.subject.host
    base_states, kappa0, _ = baseline_states(t, tumor_mm3, host)
    # an agent acting only on the kill (nk_activation) leaves the states' equations as the baseline's
    same = not any(a.target in STATE_TARGETS for a in agents)
    states, kappa, cells = simulate_states(t, tumor_mm3, agents, host, base_states if same else None)
    extra = np.maximum(kappa - kappa0, 0.0)
    a_m = _p("macrophages", "tam_per_tumor_cell")
    return ImmuneArm(t, states[:, 0], states[:, 1], a_m * states[:, 2] * cells, a_m * (1.0 - states[:, 2]) * cells,
                     float(base_states[0, 2]), extra, _combine(t, extra, kill), [a.name for a in agents],
                     host or "immunocompetent", _share_pct(t, extra, kill))


def immune_metrics(arm: ImmuneArm | None) -> dict:
    """metrics.therapy `immune` block (docs/immune.md), {} without an immune agent."""
    if arm is None:
        return {}
    m2 = np.maximum(arm.m2_cells, 1e-300)
    ratio = arm.m1_cells / m2
    base = arm.baseline_m1_share
    return {"immune": {
        "host": arm.host, "agents": arm.agents,
        "peak_effector_cells": float(arm.effector_cells.max()), "peak_nk_cells": float(arm.nk_cells.max()),
        "peak_m1_m2_ratio": float(ratio.max()), "baseline_m1_m2_ratio": base / (1.0 - base) if base < 1 else math.inf,
        "immune_kill_max_per_day": float(arm.kill_per_day.max()),
        "immune_kill_share_pct": arm.share_pct, "coupling": COUPLING_NOTE}}
