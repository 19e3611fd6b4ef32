"""The drug a formulation carries: release from particles in the body and the released drug's PBPK.

Per (coating class, dose) element the particles, the drug they still hold, and the free drug are
integrated together:

- drug in particles moves with its particles (the particle model's operator applied to it);
  particles excreted in urine or bile take their drug with them; particles that degrade free it;
- each particle compartment releases at its law's rate for the fraction it has already released
  (release_kinetics.ReleaseRate), times the triggers active there (pH, ROS, GSH, enzyme by the
  compartment's environment; light, heat, ultrasound while applied to the tumor); inside
  phagocytes and tumor cells a membrane coat is digested and stops slowing release;
- released drug enters the free-drug PBPK of the organ it was released in (drug_pbpk.py).

Elements superpose (the particle and free-drug models are linear; release depends only on the
element's own particles), so a schedule or a coating split is the sum of its elements.
Amounts are in micrograms of drug.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nanocloak.library import tables as library
from nanocloak.model import drug as drug_pbpk
from nanocloak.model import particle as wb
from nanocloak.model import release_in_body as release_kinetics
from nanocloak.model.parameters import ResolvedFormulation, particle_systems
from nanocloak.spec.formulation import Formulation, Payload

N_BOUND = wb.URINE          # particle compartments: art, ven, capillary, tissue, PCs of each organ
PX = 0                      # particle states
PD = PX + wb.N_STATES       # drug held by particles
PF = PD + N_BOUND           # free drug (drug_pbpk layout)
PB = PF + drug_pbpk.N_FREE  # drug excreted inside particles
PA = PB + 1                 # AUC accumulators: tumor total, heart total, tumor free, heart free
N_Y = PA + 4
AUC_KEYS = ("tumor_total", "heart_total", "tumor_free", "heart_free")


@dataclass
class PayloadResult:
    """Drug time courses of one payload on the formulation's output grid (ug, ug/g)."""

    drug: str
    t_h: np.ndarray
    dose_ug: float                               # per dose (the first dose's with a dose.schedule)
    doses_given: np.ndarray                      # doses given by each time, in units of the first dose
    free_ug: dict[str, np.ndarray]               # free drug per organ ('blood' = arterial + venous)
    bound_ug: dict[str, np.ndarray]              # drug still in particles per organ
    metabolised_ug: np.ndarray
    renal_ug: np.ndarray
    excreted_in_particles_ug: np.ndarray
    auc_ug_h_per_g: dict[str, np.ndarray]       # running AUCs (tumor/heart, total tissue drug and free)
    tumor_total_ug_per_g: np.ndarray | None = None
    organ_mass_g: dict[str, float] = field(default_factory=dict)
    #: the free drug's own disposition in this animal (drug.disposition_metrics: half-life, FcRn)
    disposition: dict[str, float] = field(default_factory=dict)

    @property
    def released_pct(self) -> np.ndarray:
        """Percent of the drug given so far that has left the particles (burst, release, degradation)."""
        given = self.dose_ug * self.doses_given
        inside = sum(self.bound_ug.values()) + self.excreted_in_particles_ug
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(given > 0, 100.0 * (given - inside) / given, 0.0)

    def mass_balance_error(self) -> float:
        given = self.dose_ug * self.doses_given
        total = sum(self.free_ug.values()) + sum(self.bound_ug.values()) + self.metabolised_ug + self.renal_ug \
            + self.excreted_in_particles_ug
        mask = given > 0
        return float(np.max(np.abs(total[mask] - given[mask]) / given[mask])) if mask.any() else 0.0


# ------------------------------------------------------------------------------------------------
# doses
# ------------------------------------------------------------------------------------------------
def drug_dose_ug(f: Formulation, index: int) -> float:
    """Drug per dose (ug). Particle basis: mg/kg counts core mass, each payload's loading is
    drug / (drug + core). Drug basis: mg/kg counts the first payload's drug."""
    assert f.subject.body_weight_g is not None, "Subject._check fills the body weight from the species"
    bw = f.subject.body_weight_g / 1000.0
    dose_mg = f.dose.mg_per_kg * bw
    pays = f.payloads
    ratio = lambda p: p.loading_wt_pct / (100.0 - p.loading_wt_pct)  # noqa: E731  drug per core mass
    if f.core.is_free_drug:
        return 1000.0 * dose_mg * (pays[index].loading_wt_pct / pays[0].loading_wt_pct)
    core_mg = dose_mg if f.dose.basis == "particle" else dose_mg / ratio(pays[0])
    return 1000.0 * core_mg * ratio(pays[index])


# ------------------------------------------------------------------------------------------------
# compartment environments and treatment windows
# ------------------------------------------------------------------------------------------------
def compartment_kinds() -> list[str]:
    kinds = ["blood", "blood"] + ["blood"] * wb.N_ORGANS
    kinds += ["tumor_tissue" if o == "tumor" else "tissue" for o in wb.ORGANS]
    kinds += ["tumor_cells" if o == "tumor" else "phagocytic" for o in wb.ORGANS]
    return kinds


def compartment_organ() -> np.ndarray:
    """Index into the free-drug state each particle compartment releases into."""
    idx = [drug_pbpk.F_ART, drug_pbpk.F_VEN]
    idx += [drug_pbpk.F_ORG0 + o for o in range(wb.N_ORGANS)] * 3
    return np.array(idx)


TUMOR_COMPARTMENTS = np.array([wb.CAP0 + wb.TUMOR, wb.TIS0 + wb.TUMOR, wb.PC0 + wb.TUMOR])


def treatment_windows(f: Formulation) -> list[tuple[float, float, str]]:
    """(start h, end h, kind) of light and ultrasound applied to the tumor."""
    windows = [(las.at_h, las.at_h + las.duration_min / 60.0, "nir") for las in f.treatment.lasers]
    windows += [(u.at_h, u.at_h + u.duration_min / 60.0, "ultrasound") for u in getattr(f.treatment, "ultrasound", [])]
    return windows


def tumor_temperature_C(f: Formulation, resolved: ResolvedFormulation, t_h: float) -> float:
    """Tumor temperature at time t (therapy.thermal when available, else body temperature)."""
    body = library.value(library.table("environment")["body_temperature_C"])
    hook = getattr(resolved, "tumor_temperature", None)
    return float(hook(t_h)) if hook is not None else body


# ------------------------------------------------------------------------------------------------
# one element
# ------------------------------------------------------------------------------------------------
class _Element:
    def __init__(self, r: ResolvedFormulation, system: wb.ParticleSystem, payload: Payload, dose_ug: float,
                 t_dose: float, free: drug_pbpk.FreeDrugSystem, organ_volume_L: np.ndarray):
        f = r.formulation
        self.r, self.s, self.t_dose, self.free = r, system, t_dose, free
        self.law = release_kinetics.release_rate(payload.release)
        releases = library.entry("drugs", payload.drug).get("releases_from_particle", True) is not False
        if not releases:
            self.law = release_kinetics.release_rate(None)
        triggers = payload.release.triggers if payload.release else []
        self.triggers = triggers
        kinds = compartment_kinds()
        static = np.array([release_kinetics.static_multiplier(triggers, k) for k in kinds])
        if f.surface.kind == "membrane":   # the coat is digested inside cells: its barrier is gone
            inside = np.array([k in ("phagocytic", "tumor_cells") for k in kinds])
            static = np.where(inside, static / release_kinetics.coat_release_factor(), static)
        self.static = static
        self.lam = dose_ug / 100.0                     # ug of drug per %ID of particles
        self.into = compartment_organ()
        self.vol_g = organ_volume_L * 1000.0
        self.has_tumor = f.subject.tumor is not None
        self.windows = treatment_windows(f)
        kd = np.full(N_BOUND, float(system.k_deg[0]))
        kd[wb.PC0:wb.URINE] = float(system.k_deg_pc[0])
        self.kd = kd[:, None]

    def multiplier(self, tau: float) -> np.ndarray:
        t = tau + self.t_dose
        lit = any(a <= t < b and k == "nir" for a, b, k in self.windows)
        sonicated = any(a <= t < b and k == "ultrasound" for a, b, k in self.windows)
        temp = tumor_temperature_C(self.r.formulation, self.r, t)
        m = self.static
        if self.has_tumor and (lit or sonicated or temp > 37.0):
            phys = release_kinetics.physical_multiplier(self.triggers, lit, temp, sonicated)
            if phys != 1.0:
                m = m.copy()
                m[TUMOR_COMPARTMENTS] *= phys
        return m

    def rhs(self, tau: float, y: np.ndarray) -> np.ndarray:
        y2 = y if y.ndim == 2 else y[:, None]
        out = np.zeros_like(y2)
        t_arr = np.array([tau])
        x, d = y2[PX:PD], y2[PD:PF]
        out[PX:PD] = wb.rhs(self.s, t_arr, x)
        dpad = np.zeros((wb.N_STATES, y2.shape[1]))
        dpad[:N_BOUND] = d
        moved = wb.rhs(self.s, t_arr, dpad)
        out[PD:PF] = moved[:N_BOUND]
        out[PB] = moved[wb.URINE] + moved[wb.FECES]
        freed = self.kd * d                             # degrading particles free their drug
        if tau >= self.law.lag_h:
            particles = np.maximum(x[:N_BOUND], 0.0)
            held = self.lam * particles
            with np.errstate(invalid="ignore", divide="ignore"):
                fraction = np.where(held > 1e-300, 1.0 - d / np.where(held > 1e-300, held, 1.0), 1.0)
            rate = held * self.law.rate(fraction) * self.multiplier(tau)[:, None]
            out[PD:PF] -= rate
            freed = freed + rate
        free_in = np.zeros((drug_pbpk.N_FREE, y2.shape[1]))
        np.add.at(free_in, self.into, freed)
        out[PF:PB] = self.free.matrix @ y2[PF:PB] + free_in
        tumor, heart = drug_pbpk.F_ORG0 + wb.TUMOR, drug_pbpk.F_ORG0 + wb.HEART
        vt, vh = max(self.vol_g[wb.TUMOR], 1e-12), self.vol_g[wb.HEART]
        out[PA] = (d[wb.TIS0 + wb.TUMOR] + d[wb.PC0 + wb.TUMOR] + y2[PF + tumor]) / vt if self.has_tumor else 0.0
        out[PA + 1] = (d[wb.TIS0 + wb.HEART] + d[wb.PC0 + wb.HEART] + y2[PF + heart]) / vh
        out[PA + 2] = y2[PF + tumor] / vt if self.has_tumor else 0.0
        out[PA + 3] = y2[PF + heart] / vh
        return out if y.ndim == 2 else out[:, 0]

    def initial(self) -> np.ndarray:
        y0 = np.zeros(N_Y)
        x0 = wb.initial_state(self.s)[:, 0]
        y0[PX:PD] = x0
        burst = self.law.burst
        y0[PD:PF] = (1.0 - burst) * self.lam * x0[:N_BOUND]
        # the burst is freed into the blood it was injected into
        np.add.at(y0[PF:PB], self.into, burst * self.lam * x0[:N_BOUND])
        return y0

    def solve(self, tau_out: np.ndarray, rtol: float, atol: float) -> np.ndarray:
        """States at tau_out (n_times x N_Y), integrating piecewise between treatment edges."""
        from scipy.integrate import solve_ivp  # the reference path only: scipy.integrate costs ~0.3 s to import

        edges = sorted({e - self.t_dose for a, b, _ in self.windows for e in (a, b) if 0 < e - self.t_dose < tau_out[-1]}
                       | ({self.law.lag_h} if 0 < self.law.lag_h < tau_out[-1] else set()))
        bounds = [0.0] + edges + [float(tau_out[-1])]
        y = self.initial()
        out = np.empty((tau_out.size, N_Y))
        for a, b in zip(bounds[:-1], bounds[1:]):
            sel = (tau_out > a) & (tau_out <= b)
            t_eval = np.unique(np.concatenate([tau_out[sel], [b]]))
            sol = solve_ivp(self.rhs, (a, b), y, method="BDF", t_eval=t_eval, rtol=rtol, atol=atol, vectorized=True,
                            first_step=min(1e-4, b - a))
            if not sol.success:
                from nanocloak.errors import NanocloakError
                raise NanocloakError(f"payload model failed to integrate: {sol.message}")
            ys = sol.y.T
            if sel.any():
                out[sel] = ys[np.searchsorted(t_eval, tau_out[sel])]
            y = ys[-1]
        return out


# ------------------------------------------------------------------------------------------------
# a formulation's payloads
# ------------------------------------------------------------------------------------------------
def _free_system(r: ResolvedFormulation, system: wb.ParticleSystem, drug_key: str):
    ps = r.params
    vols = np.array([ps[f"{o}.volume_L"] if o != "tumor" else (ps["tumor.VTC"] * ps["body_weight_kg"] if "tumor.VTC" in ps else 1e-9)
                     for o in wb.ORGANS])
    props = drug_pbpk.drug_properties(drug_key, ps["body_weight_kg"], ps)
    fs = drug_pbpk.free_drug_system(props, float(system.v_art[0]), float(system.v_ven[0]), float(system.q_cardiac[0]),
                                    system.q_in[:, 0].copy(), vols)
    return fs, vols


def simulate_payloads(r: ResolvedFormulation, grid: np.ndarray, rtol: float = 1e-6, atol: float = 1e-9,
                      engine: str = "compiled") -> dict[str, PayloadResult]:
    """Drug time courses of every payload on grid. engine 'compiled' (payload_kernel, the default)
    or 'scipy' (BDF on _Element.rhs, the readable reference the tests compare with)."""
    f = r.formulation
    results: dict[str, PayloadResult] = {}
    if not f.payloads:
        return results
    system, weights, t_dose = particle_systems(r)
    given = r.doses_given(grid)
    for i, pay in enumerate(f.payloads):
        dose = drug_dose_ug(f, i)
        free, vols = _free_system(r, system, pay.drug)
        if engine == "compiled":
            total = _solve_compiled(r, system, weights, t_dose, pay, dose, free, vols, grid, rtol, atol)
        else:
            total = np.zeros((grid.size, N_Y))
            for e in range(system.batch_size):
                off = int(np.searchsorted(grid, t_dose[e], side="right"))
                tau = grid[off:] - t_dose[e]
                if tau.size == 0:
                    continue
                element = _Element(r, system.take(np.array([e])), pay, dose, float(t_dose[e]), free, vols)
                total[off:] += weights[e] * element.solve(tau, rtol, atol * max(dose, 1.0))
        results[pay.drug] = _collect(pay.drug, grid, dose, given, total, vols, f.subject.tumor is not None, free)
    return results


def _solve_compiled(r, system, weights, t_dose, pay, dose, free, vols, grid, rtol, atol) -> np.ndarray:
    """All elements of one payload through payload_kernel; returns the weighted total (grid x N_Y)."""
    from nanocloak.model import particle_kernel
    from nanocloak.model import payload_kernel as pk
    from nanocloak.solvers.rodas4 import IntegrationError

    n_el = system.batch_size
    params = particle_kernel.pack(system)
    law = _law_of(pay)
    element = _Element(r, system.take(np.array([0])), pay, dose, 0.0, free, vols)   # statics and environment
    offsets = [int(np.searchsorted(grid, t_dose[e], side="right")) for e in range(n_el)]
    n_out = np.array([grid.size - off for off in offsets], dtype=np.int64)
    taus = np.full((n_el, max(int(n_out.max()), 1)), np.nan)
    for e, off in enumerate(offsets):
        taus[e, : n_out[e]] = grid[off:] - t_dose[e]
    windows = [_tumor_windows(r, element, float(t_dose[e]), float(taus[e, max(n_out[e] - 1, 0)])) for e in range(n_el)]
    n_win = np.array([len(w) for w in windows], dtype=np.int64)
    win = np.zeros((n_el, max(int(n_win.max()), 1), 3))
    for e, w in enumerate(windows):
        if w:
            win[e, : len(w)] = w
    scalars = np.zeros((n_el, pk.N_SCALARS))
    scalars[:, pk.S_LAG], scalars[:, pk.S_PLATEAU], scalars[:, pk.S_BURST] = law.lag_h, law.plateau, law.burst
    scalars[:, pk.S_VT_G] = max(element.vol_g[wb.TUMOR], 1e-12)
    scalars[:, pk.S_VH_G] = element.vol_g[wb.HEART]
    scalars[:, pk.S_HAS_TUMOR] = float(element.has_tumor)
    scalars[:, pk.S_RELEASES] = 1.0
    n_tab = law.f_table.size
    f_tabs = np.broadcast_to(law.f_table, (n_el, n_tab)).copy()
    g_tabs = np.broadcast_to(law.g_table, (n_el, n_tab)).copy()
    statics = np.broadcast_to(element.static, (n_el, N_BOUND)).copy()
    mfrees = np.broadcast_to(free.matrix, (n_el,) + free.matrix.shape).copy()
    obs = np.full((n_el, taus.shape[1], N_Y), np.nan)
    steps, rejected = np.zeros(n_el, dtype=np.int64), np.zeros(n_el, dtype=np.int64)
    # drug in %ID-equivalents of the element's particles: atol in those units (the reference's
    # atol x dose in micrograms is atol x 100 here)
    bins = np.broadcast_to(pk.table_bins(law.f_table), (n_el, pk.N_BINS + 1)).copy()
    pk._integrate_batch(params, scalars, f_tabs, g_tabs, np.full(n_el, n_tab, dtype=np.int64), bins, statics, mfrees, win,
                        n_win, taus, n_out, rtol, atol * 100.0, 200_000, obs, steps, rejected)
    if np.any(steps < 0):
        raise IntegrationError("the payload model failed to integrate (non-finite values or step limit); check overrides")
    lam = dose / 100.0
    total = np.zeros((grid.size, N_Y))
    for e, off in enumerate(offsets):
        if n_out[e] == 0:
            continue
        part = obs[e, : n_out[e]].copy()
        part[:, PD:] *= lam
        total[off:] += weights[e] * part
    return total


def _law_of(pay: Payload) -> release_kinetics.ReleaseRate:
    releases = library.entry("drugs", pay.drug).get("releases_from_particle", True) is not False
    return release_kinetics.release_rate(pay.release if releases else None)


#: temperature samples per hour when locating the hyperthermia trigger's threshold crossings
TEMPERATURE_SAMPLES_PER_H = 600


def _tumor_windows(r: ResolvedFormulation, element: "_Element", t_dose: float, tau_end: float) -> list[tuple[float, float, float]]:
    """Piecewise-constant trigger factors on the tumor's compartments, in element time: light and
    ultrasound while applied, heat while the tumor is at or above a hyperthermia threshold (located
    on a 6 s grid of the temperature curve)."""
    if not element.has_tumor:
        return []
    out = []
    for a, b, kind in element.windows:
        factor = release_kinetics.physical_multiplier(element.triggers, kind == "nir", 0.0, kind == "ultrasound")
        if factor != 1.0:
            out.append((a - t_dose, b - t_dose, factor))
    hooks = [t for t in element.triggers if t.kind == "hyperthermia"]
    if hooks and getattr(r, "tumor_temperature", None) is not None:
        for las in r.formulation.treatment.lasers:
            span = las.duration_min / 60.0 + 1.0
            t = las.at_h + np.linspace(0.0, span, int(span * TEMPERATURE_SAMPLES_PER_H) + 1)
            temp = np.array([tumor_temperature_C(r.formulation, r, float(x)) for x in t])
            for trig in hooks:
                hot = temp >= trig.threshold
                edges = np.flatnonzero(np.diff(np.concatenate([[0], hot.astype(int), [0]])))
                for start, stop in zip(edges[::2], edges[1::2]):
                    out.append((t[start] - t_dose, t[min(stop, t.size - 1)] - t_dose, trig.factor))
    return [w for w in out if w[1] > 0.0 and w[0] < tau_end]


def _collect(drug, grid, dose, given, total, vols, has_tumor, free_system) -> PayloadResult:
    free = total[:, PF:PB]
    bound = total[:, PD:PF]
    fr = {"blood": free[:, drug_pbpk.F_ART] + free[:, drug_pbpk.F_VEN]}
    bd = {"blood": bound[:, wb.ART] + bound[:, wb.VEN]}
    for j, o in enumerate(wb.ORGANS):
        if o == "tumor" and not has_tumor:
            continue
        fr[o] = free[:, drug_pbpk.F_ORG0 + j]
        bd[o] = bound[:, wb.CAP0 + j] + bound[:, wb.TIS0 + j] + bound[:, wb.PC0 + j]
    auc = {k: total[:, PA + n] for n, k in enumerate(AUC_KEYS)}
    masses = {o: vols[j] * 1000.0 for j, o in enumerate(wb.ORGANS)}
    tumor_conc = None
    if has_tumor:
        t = wb.TUMOR
        tumor_conc = (bound[:, wb.TIS0 + t] + bound[:, wb.PC0 + t] + free[:, drug_pbpk.F_ORG0 + t]) / masses["tumor"]
    return PayloadResult(drug, grid, dose, given, fr, bd, free[:, drug_pbpk.F_METABOLISED], free[:, drug_pbpk.F_URINE],
                         total[:, PB], auc, tumor_conc, masses, drug_pbpk.disposition_metrics(free_system))


def payload_metrics(p: PayloadResult, has_tumor: bool) -> dict[str, float]:
    """Drug metrics. Tumor: all drug in the tumor's extravascular tissue (held in particles and
    released), what a tumor homogenate measures (Laginha 2005 'total'); its released part is
    tumor_free_drug_auc. Heart: the released drug (cardiotoxic exposure); all drug: heart_total."""
    from nanocloak.solvers.series import value_at

    m: dict[str, float] = {}
    released = value_at(p.t_h, p.released_pct, 24.0)
    if released is not None:
        m["released_pct_24h"] = released
    if has_tumor:
        assert p.tumor_total_ug_per_g is not None, "the payload model fills the tumor series when there is a tumor"
        m["tumor_drug_auc_ug_h_per_g"] = float(p.auc_ug_h_per_g["tumor_total"][-1])
        m["tumor_drug_cmax_ug_per_g"] = float(np.max(p.tumor_total_ug_per_g))
        m["tumor_free_drug_auc_ug_h_per_g"] = float(p.auc_ug_h_per_g["tumor_free"][-1])
    # the heart's is the released (free) drug that reaches cardiomyocytes, the cardiotoxic exposure;
    # drug still inside particles in the heart's vessels or tissue is also reported (heart_total_...)
    m["heart_drug_auc_ug_h_per_g"] = float(p.auc_ug_h_per_g["heart_free"][-1])
    m["heart_total_drug_auc_ug_h_per_g"] = float(p.auc_ug_h_per_g["heart_total"][-1])
    m["drug_mass_balance_error"] = p.mass_balance_error()
    m.update(p.disposition)
    return m


# ------------------------------------------------------------------------------------------------
# a drug given as a plain solution
# ------------------------------------------------------------------------------------------------
def simulate_free_drug(r: ResolvedFormulation, grid: np.ndarray) -> tuple[np.ndarray, dict[str, PayloadResult], np.ndarray]:
    """Free drug (core.material: free): the drug PBPK alone, each dose an i.v. bolus into venous blood.

    Returns the partition in the particle model's observable layout (drug %ID of the first dose:
    metabolised drug is reported as 'degraded', renal excretion as urine), the payload result and
    each dose's own lab blood sample in % of its own dose (doses x grid; dose.schedule amounts).
    The model is linear and time-invariant, so each dose's response is exp(M tau) (scipy expm).
    """
    from scipy.linalg import expm

    from nanocloak.model.parameters import circulation

    f = r.formulation
    has_tumor = f.subject.tumor is not None
    circ = circulation(r.params, has_tumor)
    pay = f.payloads[0]
    dose = drug_dose_ug(f, 0)
    props = drug_pbpk.drug_properties(pay.drug, r.params["body_weight_kg"], r.params)
    vols = circ.organ_volume.copy()
    if not has_tumor:
        vols[wb.TUMOR] = 1e-9
    free = drug_pbpk.free_drug_system(props, circ.v_art, circ.v_ven, circ.q_cardiac, circ.q_in, vols)
    n = drug_pbpk.N_FREE
    tumor, heart = drug_pbpk.F_ORG0 + wb.TUMOR, drug_pbpk.F_ORG0 + wb.HEART
    vg = vols * 1000.0
    # augmented with running integrals: tumor, heart (ug h / g) and the lab blood sample (%ID h)
    m = np.zeros((n + 3, n + 3))
    m[:n, :n] = free.matrix
    m[n, tumor] = 1.0 / vg[wb.TUMOR] if has_tumor else 0.0
    m[n + 1, heart] = 1.0 / vg[wb.HEART]
    lab = circ.v_blood / circ.v_ven * 100.0 / dose          # %ID of one dose in a lab blood sample
    m[n + 2, drug_pbpk.F_VEN] = lab
    x0 = np.zeros(n + 3)
    x0[drug_pbpk.F_VEN] = dose
    states = np.zeros((grid.size, n + 3))
    per_dose = np.zeros((len(r.dose_times_h), grid.size))
    for d, (td, amount) in enumerate(zip(r.dose_times_h, r.dose_amounts)):
        for k in np.flatnonzero(grid > td):
            alone = expm(m * (grid[k] - td)) @ x0            # one first-dose-sized bolus
            states[k] += amount * alone
            per_dose[d, k] = lab * alone[drug_pbpk.F_VEN]
    pct = states[:, :n] * 100.0 / dose
    obs = np.zeros((grid.size, len(wb.OBSERVABLES)))
    col = {name: i for i, name in enumerate(wb.OBSERVABLES)}
    obs[:, col["blood"]] = pct[:, drug_pbpk.F_ART] + pct[:, drug_pbpk.F_VEN]
    for j, o in enumerate(wb.ORGANS):
        obs[:, col[o]] = pct[:, drug_pbpk.F_ORG0 + j]
    obs[:, col["excreted_urine"]] = pct[:, drug_pbpk.F_URINE]
    obs[:, col["degraded"]] = pct[:, drug_pbpk.F_METABOLISED]
    obs[:, col["blood_sample"]] = lab * states[:, drug_pbpk.F_VEN]
    obs[:, col["blood_sample_auc"]] = states[:, n + 2]
    given = r.doses_given(grid)
    total = np.zeros((grid.size, N_Y))
    total[:, PF:PB] = states[:, :n]
    total[:, PA] = states[:, n]
    total[:, PA + 1] = states[:, n + 1]
    total[:, PA + 2] = states[:, n]
    total[:, PA + 3] = states[:, n + 1]
    return obs, {pay.drug: _collect(pay.drug, grid, dose, given, total, vols, has_tumor, free)}, per_dose
