"""The whole-body nanoparticle PBPK model: states, right-hand side and its structured linear solve.

Structure (Lin et al. Nanotoxicology 2016; Cheng et al. ACS Nano 2020): arterial and venous blood
pools; lung, heart, liver, spleen, kidney, brain, muscle, rest of body and tumor, each split into
capillary blood (c), tissue (t) and phagocytic cells (p). The lung receives the whole cardiac
output from the venous pool and drains into the arterial pool; the spleen drains into the liver's
capillary blood (portal flow); every other organ drains into the venous pool.

    capillary: dA_c/dt = Q (C_in - C_c) - PA C_c + PA C_t / P - K_c(tau) A_c + k_rel,c A_p - CL_u C_c
    tissue:    dA_t/dt = PA C_c - PA C_t / P - K_t(tau) A_t + k_rel,t A_p - CL_b C_t
    PCs:       dA_p/dt = K_c(tau) A_c + K_t(tau) A_t - (k_rel,c + k_rel,t) A_p

(Lin 2016 eqs.; liver PCs, the Kupffer cells, act on the capillary amount, all other PCs on the
tissue amount; urine leaves the kidney capillary, bile the liver tissue.) Every particle state
also degrades (core degradation: in blood and tissue at k_deg, inside phagocytes at k_deg_pc).
Excreted urine, faeces and degraded mass are states,
so the columns of the system matrix sum to zero and mass is conserved by construction.

Uptake depends on the time since dosing tau (Lin 2016 Hill form K(tau) = Kmax tau^n/(K50^n +
tau^n)); each dose is integrated as its own linear system (superposition, see simulation.py), so
a later dose starts its own uptake clock, which is the physically meaningful "per dose" form.

Everything here works on a batch: parameters are arrays of shape (B,) (scalars per simulation) or
(N_ORGANS, B) (per organ), states are (N_STATES, B). The linear solve of (I - h*gamma*A) Y = R
exploits the circulation's structure (each organ a 3x3 block fed by one pool) in O(N) work per
simulation: no general sparse LU, no Python loop over simulations. No library offers a batched
solve for this topology, hence the hand-written elimination below.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

ORGANS = ("lung", "heart", "liver", "spleen", "kidney", "brain", "muscle", "rest", "tumor")
N_ORGANS = len(ORGANS)
LUNG, HEART, LIVER, SPLEEN, KIDNEY, BRAIN, MUSCLE, REST, TUMOR = range(N_ORGANS)
#: organs fed by the arterial pool and drained into the venous pool (spleen drains to liver)
DRAIN_TO_VENOUS = np.array([HEART, LIVER, KIDNEY, BRAIN, MUSCLE, REST, TUMOR])

# state layout
ART, VEN = 0, 1
CAP0 = 2
TIS0 = CAP0 + N_ORGANS
PC0 = TIS0 + N_ORGANS
URINE = PC0 + N_ORGANS
FECES = URINE + 1
DEGRADED = FECES + 1
AUC_LAB_BLOOD = DEGRADED + 1
N_STATES = AUC_LAB_BLOOD + 1
#: states that hold particle mass (everything but the lab-blood AUC accumulator)
N_MASS_STATES = DEGRADED + 1


@dataclass
class ParticleSystem:
    """Batched, fully resolved parameters of the linear particle model (SI-free: L, h, %ID).

    Per-simulation arrays have shape (B,), per-organ arrays (N_ORGANS, B). Organ inflow `q_in` is
    blood flow from the arterial pool (the lung's is the cardiac output from the venous pool);
    the liver additionally receives the spleen's outflow.
    """

    v_art: np.ndarray          # L
    v_ven: np.ndarray          # L
    v_blood_total: np.ndarray  # L, for the lab-blood definition (spec "Definitions")
    q_cardiac: np.ndarray      # L/h
    q_in: np.ndarray           # (organ, B) L/h arterial inflow (lung: cardiac output)
    v_cap: np.ndarray          # (organ, B) L
    v_tis: np.ndarray          # (organ, B) L
    pa: np.ndarray             # (organ, B) L/h permeability-surface area product
    partition: np.ndarray      # (organ, B) tissue:blood partition coefficient
    kmax_cap: np.ndarray       # (organ, B) 1/h PC uptake from capillary (liver only)
    kmax_tis: np.ndarray       # (organ, B) 1/h PC uptake from tissue (other organs)
    k50: np.ndarray            # (organ, B) h, time since dose of half-maximal uptake
    hill: np.ndarray           # (organ, B) Hill coefficient
    krel_cap: np.ndarray       # (organ, B) 1/h PC release to capillary (liver)
    krel_tis: np.ndarray       # (organ, B) 1/h PC release to tissue (other organs)
    cl_urine: np.ndarray       # L/h, from kidney capillary
    cl_bile: np.ndarray        # L/h, from liver tissue
    k_deg: np.ndarray          # 1/h, core degradation in blood and tissue (hydrolysis, dissolution)
    k_deg_pc: np.ndarray       # 1/h, core degradation inside phagocytic cells (phagolysosomes)
    # heat opens tumor vessels: tumor PA x perm_factor while perm_start <= tau < perm_end
    perm_start: np.ndarray | None = None
    perm_end: np.ndarray | None = None
    perm_factor: np.ndarray | None = None
    # treatment.magnets (model/magnetic.py): one-way capture tumor capillary -> tumor retained pool at
    # capture_rate (1/h) while capture_start <= tau < capture_end (filled in __post_init__)
    capture_start: np.ndarray = None  # type: ignore[assignment]
    capture_end: np.ndarray = None  # type: ignore[assignment]
    capture_rate: np.ndarray = None  # type: ignore[assignment]
    # where the dose starts (dose.route, docs/routes.md): the fraction mixed in the blood (iv) and
    # the fraction in a depot (intratumoral: the injection site in the tumor, feeding the tumor's
    # vessels; intraperitoneal, subcutaneous: feeding the venous pool via lymph) that empties at
    # k_abs (1/h) into the state depot_into (these four filled in __post_init__)
    start_blood: np.ndarray = None  # type: ignore[assignment]
    depot0: np.ndarray = None  # type: ignore[assignment]
    k_abs: np.ndarray = None  # type: ignore[assignment]
    depot_into: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self):
        n = self.v_art.shape[-1]
        if self.perm_start is None:
            self.perm_start, self.perm_end, self.perm_factor = np.zeros(n), np.zeros(n), np.ones(n)
        if self.capture_start is None:
            self.capture_start, self.capture_end, self.capture_rate = np.zeros(n), np.zeros(n), np.zeros(n)
        if self.start_blood is None:
            self.start_blood, self.depot0, self.k_abs = np.ones(n), np.zeros(n), np.zeros(n)
            self.depot_into = np.full(n, float(VEN))

    @property
    def batch_size(self) -> int:
        return int(self.v_art.shape[-1])

    def take(self, index: np.ndarray) -> "ParticleSystem":
        """The sub-batch at `index` (used to drop finished simulations from the work arrays)."""
        return ParticleSystem(**{f.name: getattr(self, f.name)[..., index] for f in fields(self)})

    @staticmethod
    def concatenate(systems: list["ParticleSystem"]) -> "ParticleSystem":
        return ParticleSystem(
            **{f.name: np.concatenate([getattr(s, f.name) for s in systems], axis=-1) for f in fields(ParticleSystem)}
        )

    # --- derived rate constants (1/h), cached on first use -------------------------------------
    def rates(self) -> "_Rates":
        cached = getattr(self, "_rates_cache", None)
        if cached is None:
            cached = _Rates(self)
            object.__setattr__(self, "_rates_cache", cached)
        return cached


class _Rates:
    """Time-independent first-order rate constants derived from a ParticleSystem."""

    def __init__(self, s: ParticleSystem):
        q_out = s.q_in.copy()
        q_out[LIVER] = s.q_in[LIVER] + s.q_in[SPLEEN]  # portal: spleen outflow passes the liver
        self.q_out = q_out / s.v_cap                   # capillary washout 1/h
        self.pa_cap = s.pa / s.v_cap                   # capillary -> tissue
        self.pa_tis = s.pa / (s.partition * s.v_tis)   # tissue -> capillary
        self.inflow_art = s.q_in / s.v_art[None, :]    # arterial pool -> organ capillary (amount basis)
        self.inflow_art[LUNG] = 0.0
        self.lung_from_ven = s.q_cardiac / s.v_ven
        self.spleen_to_liver = self.q_out[SPLEEN]      # (B,) spleen capillary -> liver capillary
        self.art_out = s.q_cardiac / s.v_art
        self.ven_out = s.q_cardiac / s.v_ven
        self.excrete_cap = np.zeros_like(s.v_cap)
        self.excrete_cap[KIDNEY] = s.cl_urine / s.v_cap[KIDNEY]
        self.excrete_tis = np.zeros_like(s.v_tis)
        self.excrete_tis[LIVER] = s.cl_bile / s.v_tis[LIVER]
        self.k_deg = s.k_deg
        self.k_deg_pc = s.k_deg_pc
        self.krel_cap = s.krel_cap
        self.krel_tis = s.krel_tis
        self.lab_blood = s.v_blood_total / s.v_ven      # lab blood = C_ven * V_blood (spec)


def tumor_permeability_multiplier(s: ParticleSystem, tau: np.ndarray) -> np.ndarray:
    """(B,) factor on the tumor's PA: heat-opened vessels inside the window, 1 outside."""
    if s.perm_start is None or s.perm_end is None or s.perm_factor is None:
        return np.ones_like(tau, dtype=float)                    # no heat window in this batch
    inside = (tau >= s.perm_start) & (tau < s.perm_end)
    return np.where(inside, s.perm_factor, 1.0)


def _exchange_rates(s: ParticleSystem, r: "_Rates", tau: np.ndarray):
    """Capillary->tissue and tissue->capillary rates, with the tumor's heat window applied."""
    pa_cap, pa_tis = r.pa_cap, r.pa_tis
    if np.any(s.perm_factor != 1.0):
        m = tumor_permeability_multiplier(s, tau)
        pa_cap, pa_tis = pa_cap.copy(), pa_tis.copy()
        pa_cap[TUMOR] *= m
        pa_tis[TUMOR] *= m
    return pa_cap, pa_tis


def hill_fraction(tau: np.ndarray, k50: np.ndarray, n: np.ndarray) -> np.ndarray:
    """tau^n / (K50^n + tau^n) = 1 / (1 + exp(n (ln K50 - ln tau))), the time-dependent uptake of
    Lin 2016 (0 at tau = 0, where ln tau = -inf)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return 1.0 / (1.0 + np.exp(n * (np.log(k50) - np.log(np.maximum(tau, 0.0)))))


def hill_derivative(tau: np.ndarray, k50: np.ndarray, n: np.ndarray) -> np.ndarray:
    """d/dtau of hill_fraction: n H (1 - H) / tau (finite for tau > 0)."""
    h = hill_fraction(tau, k50, n)
    return n * h * (1.0 - h) / tau


def uptake(s: ParticleSystem, tau: np.ndarray, window_tau: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """PC uptake rate constants (capillary-side, tissue-side), shape (organ, B), at time since dose tau
    (the magnet's window judged at window_tau, default tau: see ParticleModel)."""
    frac = hill_fraction(tau[None, :], s.k50, s.hill)
    ku_c = s.kmax_cap * frac
    if np.any(s.capture_rate > 0.0):
        # treatment.magnets: one-way magnetic capture from the tumor's capillary blood into its retained
        # pool inside the magnet's window (model/magnetic.py; particle_kernel P_CAPT_*)
        wt = tau if window_tau is None else window_tau
        inside = (wt >= s.capture_start) & (wt < s.capture_end)
        ku_c = ku_c.copy()
        ku_c[TUMOR] = ku_c[TUMOR] + np.where(inside, s.capture_rate, 0.0)
    return ku_c, s.kmax_tis * frac


def uptake_derivative(s: ParticleSystem, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = hill_derivative(tau[None, :], s.k50, s.hill)
    return s.kmax_cap * d, s.kmax_tis * d


def rhs(s: ParticleSystem, tau: np.ndarray, x: np.ndarray, window_tau: np.ndarray | None = None) -> np.ndarray:
    """dx/dt = A(tau) x for the batch (x: N_STATES x B); the heat and magnet windows judged at
    window_tau (default tau)."""
    r = s.rates()
    wt = tau if window_tau is None else window_tau
    ku_c, ku_t = uptake(s, tau, wt)
    pa_cap, pa_tis = _exchange_rates(s, r, wt)
    return _apply(s, r, ku_c, ku_t, x, pa_cap, pa_tis)


def rhs_time_derivative(s: ParticleSystem, tau: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(dA/dtau) x: only the uptake rates vary with time."""
    dku_c, dku_t = uptake_derivative(s, tau)
    cap, tis = x[CAP0:TIS0], x[TIS0:PC0]
    flux = dku_c * cap + dku_t * tis
    out = np.zeros_like(x)
    out[CAP0:TIS0] = -dku_c * cap
    out[TIS0:PC0] = -dku_t * tis
    out[PC0:URINE] = flux
    return out


def _apply(s: ParticleSystem, r: _Rates, ku_c, ku_t, x: np.ndarray, pa_cap, pa_tis) -> np.ndarray:
    art, ven = x[ART], x[VEN]
    cap, tis, pcs = x[CAP0:TIS0], x[TIS0:PC0], x[PC0:URINE]
    kd, kd_pc = r.k_deg, r.k_deg_pc
    out = np.empty_like(x)
    washout = r.q_out * cap
    exchange = pa_cap * cap - pa_tis * tis
    uptake_c, uptake_t = ku_c * cap, ku_t * tis
    release_c, release_t = r.krel_cap * pcs, r.krel_tis * pcs
    excreted_c, excreted_t = r.excrete_cap * cap, r.excrete_tis * tis

    inflow = r.inflow_art * art[None, :]
    inflow[LUNG] = r.lung_from_ven * ven
    inflow[LIVER] += washout[SPLEEN]
    out[CAP0:TIS0] = inflow - washout - exchange - uptake_c + release_c - excreted_c - kd * cap
    out[TIS0:PC0] = exchange - uptake_t + release_t - excreted_t - kd * tis
    out[PC0:URINE] = uptake_c + uptake_t - release_c - release_t - kd_pc * pcs
    out[ART] = washout[LUNG] - r.art_out * art - kd * art
    out[VEN] = washout[DRAIN_TO_VENOUS].sum(axis=0) - r.ven_out * ven - kd * ven
    out[URINE] = excreted_c[KIDNEY]
    out[FECES] = excreted_t[LIVER]
    out[DEGRADED] = kd * (art + ven + cap.sum(axis=0) + tis.sum(axis=0)) + kd_pc * pcs.sum(axis=0)
    out[AUC_LAB_BLOOD] = r.lab_blood * ven
    return out


class StructuredSolver:
    """Solves (I - hg A(tau)) Y = R for the batch, reusing the per-step elimination across stages.

    Each organ's 3x3 block M = I - hg L is inverted (LAPACK); organs are then chained through
    the circulation: systemic organs are affine in the arterial unknown, the venous pool in turn,
    the lung in the venous one, which closes a scalar equation for the arterial pool.
    """

    def __init__(self, s: ParticleSystem, tau: np.ndarray, hg: np.ndarray):
        r = s.rates()
        self.r, self.hg = r, hg
        ku_c, ku_t = uptake(s, tau)
        pa_cap, pa_tis = _exchange_rates(s, r, tau)
        kd = r.k_deg[None, :]
        g = hg[None, :]
        # local block L (amount basis), rows/cols: capillary, tissue, PCs
        m00 = 1 + g * (r.q_out + pa_cap + ku_c + r.excrete_cap + kd)
        m01 = -g * pa_tis
        m02 = -g * r.krel_cap
        m10 = -g * pa_cap
        m11 = 1 + g * (pa_tis + ku_t + r.excrete_tis + kd)
        m12 = -g * r.krel_tis
        m20 = -g * ku_c
        m21 = -g * ku_t
        m22 = 1 + g * (r.krel_cap + r.krel_tis + r.k_deg_pc[None, :])
        # LAPACK's inverse of each organ's block (the compiled kernel writes the cofactors out; this
        # reference takes the library route, so the two agree only if both are right)
        blocks = np.broadcast_arrays(m00, m01, m02, m10, m11, m12, m20, m21, m22)
        inverse = np.linalg.inv(np.stack(blocks, axis=-1).reshape(*blocks[0].shape, 3, 3))
        self.minv = [[inverse[..., i, j] for j in range(3)] for i in range(3)]
        u_cap = self.minv[0][0]  # capillary response to a unit input into the capillary equation
        # systemic organs: capillary = alpha + beta * y_art (the liver also through the spleen)
        beta = hg[None, :] * r.inflow_art * u_cap
        beta[LIVER] = hg * (r.inflow_art[LIVER] + r.spleen_to_liver * beta[SPLEEN]) * u_cap[LIVER]
        beta[LUNG] = 0.0
        self.d_ven = 1 + hg * (r.ven_out + r.k_deg)
        self.delta_ven = hg * (r.q_out[DRAIN_TO_VENOUS] * beta[DRAIN_TO_VENOUS]).sum(axis=0) / self.d_ven
        self.beta_lung = hg * r.lung_from_ven * u_cap[LUNG] * self.delta_ven
        self.d_art = 1 + hg * (r.art_out + r.k_deg) - hg * r.q_out[LUNG] * self.beta_lung

    def solve(self, rhs_vec: np.ndarray) -> np.ndarray:
        r, hg, mi = self.r, self.hg, self.minv
        cap_r, tis_r, pc_r = rhs_vec[CAP0:TIS0], rhs_vec[TIS0:PC0], rhs_vec[PC0:URINE]
        w_c = mi[0][0] * cap_r + mi[0][1] * tis_r + mi[0][2] * pc_r
        w_t = mi[1][0] * cap_r + mi[1][1] * tis_r + mi[1][2] * pc_r
        w_p = mi[2][0] * cap_r + mi[2][1] * tis_r + mi[2][2] * pc_r
        u_c, u_t, u_p = mi[0][0], mi[1][0], mi[2][0]
        # capillary intercepts alpha (the part not driven by the arterial pool)
        alpha = w_c.copy()
        alpha[LIVER] = w_c[LIVER] + hg * r.spleen_to_liver * alpha[SPLEEN] * u_c[LIVER]
        gamma_ven = (rhs_vec[VEN] + hg * (r.q_out[DRAIN_TO_VENOUS] * alpha[DRAIN_TO_VENOUS]).sum(axis=0)) / self.d_ven
        alpha_lung = w_c[LUNG] + hg * r.lung_from_ven * u_c[LUNG] * gamma_ven
        y_art = (rhs_vec[ART] + hg * r.q_out[LUNG] * alpha_lung) / self.d_art
        y_ven = gamma_ven + self.delta_ven * y_art
        # the scalar input s each organ's capillary equation receives, then back-substitution
        s_in = hg[None, :] * r.inflow_art * y_art[None, :]
        s_in[LUNG] = hg * r.lung_from_ven * y_ven
        cap_spleen = w_c[SPLEEN] + s_in[SPLEEN] * u_c[SPLEEN]
        s_in[LIVER] += hg * r.spleen_to_liver * cap_spleen
        y = np.empty_like(rhs_vec)
        y[ART], y[VEN] = y_art, y_ven
        cap = w_c + s_in * u_c
        tis = w_t + s_in * u_t
        pcs = w_p + s_in * u_p
        y[CAP0:TIS0], y[TIS0:PC0], y[PC0:URINE] = cap, tis, pcs
        y[URINE] = rhs_vec[URINE] + hg * r.excrete_cap[KIDNEY] * cap[KIDNEY]
        y[FECES] = rhs_vec[FECES] + hg * r.excrete_tis[LIVER] * tis[LIVER]
        outside = y_art + y_ven + cap.sum(axis=0) + tis.sum(axis=0)
        y[DEGRADED] = rhs_vec[DEGRADED] + hg * (r.k_deg * outside + r.k_deg_pc * pcs.sum(axis=0))
        y[AUC_LAB_BLOOD] = rhs_vec[AUC_LAB_BLOOD] + hg * r.lab_blood * y_ven
        return y


def system_matrix(s: ParticleSystem, tau: float, index: int = 0) -> np.ndarray:
    """Dense A(tau) of one simulation in the batch (for tests, SBML cross-checks and analysis)."""
    one = s.take(np.array([index]))
    eye = np.eye(N_STATES)
    return np.stack([rhs(one, np.array([tau]), eye[:, [j]])[:, 0] for j in range(N_STATES)], axis=1)


#: what is recorded at each output time (all linear in the states, so doses superpose)
OBSERVABLES = ("blood",) + ORGANS + ("excreted_urine", "excreted_feces", "degraded", "blood_sample", "blood_sample_auc")


def observe(s: ParticleSystem, x: np.ndarray) -> np.ndarray:
    """The spec's partition (blood pools, whole organs, excreted, degraded) plus lab blood and its AUC."""
    organs = x[CAP0:TIS0] + x[TIS0:PC0] + x[PC0:URINE]
    lab_blood = s.rates().lab_blood * x[VEN]
    return np.vstack([x[ART] + x[VEN], organs, x[URINE], x[FECES], x[DEGRADED], lab_blood, x[AUC_LAB_BLOOD]])


def blood_shares(s: ParticleSystem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fractions of the circulating blood in the arterial pool, the venous pool and each perfused
    organ's capillaries (each (B,) or (organ, B); they sum to 1)."""
    perfused = s.q_in > 0
    cap = np.where(perfused, s.v_cap, 0.0)
    total = s.v_art + s.v_ven + cap.sum(axis=0)
    return s.v_art / total, s.v_ven / total, cap / total


def initial_state(s: ParticleSystem, dose_pct: float = 100.0) -> np.ndarray:
    """One dose (100 %ID): an i.v. dose already mixed through the circulating blood; a depot dose
    (depot0: intratumoral, intraperitoneal, subcutaneous) is outside the states (depot_amount) and
    enters them through depot_input.

    The injected bolus mixes within about a circulation time (~10 s in a mouse), long before the
    first sample (5 min); starting mixed, as one-compartment PK does, keeps the solver from
    resolving a first pass no measurement sees (it cost 40% of the steps). Uptake is zero at the
    moment of dosing (the Hill ramp starts at 0), so nothing is lost by skipping those seconds."""
    art, ven, cap = blood_shares(s)
    x0 = np.zeros((N_STATES, s.batch_size))
    blood = dose_pct * s.start_blood
    x0[ART], x0[VEN], x0[CAP0:TIS0] = blood * art, blood * ven, blood * cap
    return x0


def depot_amount(s: ParticleSystem, tau: np.ndarray, dose_pct: float = 100.0) -> np.ndarray:
    """(B,) %ID still in the depot at tau: first-order absorption (k_abs) and core degradation
    (k_deg), D0 exp(-(k_abs + k_deg) tau), the one-compartment absorption model (Gibaldi & Perrier
    1982, Pharmacokinetics, ch. 1); the depot feeds the states but never receives from them."""
    return dose_pct * s.depot0 * np.exp(-(s.k_abs + s.k_deg) * tau)


def depot_input(s: ParticleSystem, tau: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The depot's input into the states at tau: particles leaving it into depot_into (the venous
    pool, where lymph joins the blood at the thoracic duct; or the tumor's capillary blood), degraded
    ones into `degraded`; zero without a depot."""
    out = np.zeros_like(x)
    d = depot_amount(s, tau)
    out[s.depot_into.astype(int), np.arange(x.shape[1])] = s.k_abs * d
    out[DEGRADED] += s.k_deg * d
    return out


class ParticleModel:
    """Adapter giving the integrator the particle model's functions: A(tau) x plus a depot's input
    (dose.route intraperitoneal / subcutaneous), whose time derivative is -(k_abs + k_deg) x it."""

    observe = staticmethod(observe)
    #: (system, tau) of the step under way: set by solver(), which the integrator calls first in every
    #: step. A step never straddles a heat or magnet window's edge, so its windows are judged at its
    #: start, as the compiled kernel judges them at its middle: the last stages, at the step's end,
    #: would otherwise see the next step's window
    _step: tuple | None = None

    @staticmethod
    def rhs(s: ParticleSystem, tau: np.ndarray, x: np.ndarray) -> np.ndarray:
        step = ParticleModel._step
        out = rhs(s, tau, x, step[1] if step is not None and step[0] is s else None)
        if np.any(s.depot0 != 0.0):
            out += depot_input(s, tau, x)
        return out

    @staticmethod
    def rhs_time_derivative(s: ParticleSystem, tau: np.ndarray, x: np.ndarray) -> np.ndarray:
        out = rhs_time_derivative(s, tau, x)
        if np.any(s.depot0 != 0.0):
            out -= (s.k_abs + s.k_deg) * depot_input(s, tau, x)
        return out

    @staticmethod
    def solver(s: ParticleSystem, tau: np.ndarray, hg: np.ndarray) -> StructuredSolver:
        ParticleModel._step = (s, np.array(tau, dtype=float))
        return StructuredSolver(s, tau, hg)
