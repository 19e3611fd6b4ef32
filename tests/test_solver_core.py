"""The shared Rodas4 core (solvers/): one compiled stepper, generated per model from one template,
against the numpy Rodas4 oracle (solvers/rodas4.py) and analytic solutions; the models built on it
(heat, tumor growth) against independent references."""

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from nanocloak.solvers import rodas4, stepper, tableau
from nanocloak.solvers.compiled import inlined, kernel, observe_state, shifted_lu, solve_into

SOLVERS = Path(stepper.__file__).parent

# ---- a small linear test problem: a decay chain A -> B -> C -> out whose rates all grow in time,
# dx/dt = (1 + c tau) A0 x, so x(tau) = expm((tau + c tau^2 / 2) A0) x0
A0 = np.array([[-2.0, 0.0, 0.0], [2.0, -0.5, 0.0], [0.0, 0.5, -0.05]])
X0 = np.array([1.0, 0.0, 0.0])


def exact(c: float, tau: np.ndarray) -> np.ndarray:
    return np.array([expm((t + 0.5 * c * t * t) * A0) @ X0 for t in tau])


@inlined
def _element(batch, e):
    a0, par, x0 = batch
    n = x0.shape[1]
    return (a0, par[e], np.empty((n, n)), np.empty((n, n)), np.empty(n, dtype=np.int64)), x0[e].copy()


@kernel
def _factor(m, tau, h, g, x, ft):
    a0, par, jac, lu, piv = m
    for i in range(x.size):
        acc = 0.0
        for j in range(x.size):
            jac[i, j] = (1.0 + par[0] * tau) * a0[i, j]
            acc += a0[i, j] * x[j]
        ft[i] = par[0] * acc
    shifted_lu(jac, g, lu, piv)


@kernel
def _rhs(m, t, u, f):
    a0, par = m[0], m[1]
    for i in range(u.size):
        acc = 0.0
        for j in range(u.size):
            acc += a0[i, j] * u[j]
        f[i] = (1.0 + par[0] * t) * acc


@inlined
def _solve(m, g, r, k):
    solve_into(m[3], m[4], r, k)


@kernel
def _stop(m, tau, end):
    """Steps may not cross par[1] or par[2] (as the oracle's perm_start / perm_end)."""
    par = m[1]
    stop = end
    for edge in (par[1], par[2]):
        if tau < edge * (1 - 1e-12) and edge < stop:
            stop = edge
    return stop


def chain_stepper():
    return stepper.rodas4_stepper("test_chain", ELEMENT=_element, FACTOR=_factor, RHS=_rhs, SOLVE=_solve, STOP=_stop,
                                  OBSERVE=observe_state)


def run_compiled(par: np.ndarray, tau_out: np.ndarray, rtol: float, atol: float):
    """par: (B, 3) = (c, stop 1, stop 2); tau_out: (B, n) increasing."""
    b, n = tau_out.shape
    obs = np.full((b, n, 3), np.nan)
    steps, rejected = np.zeros(b, dtype=np.int64), np.zeros(b, dtype=np.int64)
    batch = (A0, np.ascontiguousarray(par), np.tile(X0, (b, 1)))
    stepper.run_batch(chain_stepper().integrate_range, batch, b, np.ascontiguousarray(tau_out), np.full(b, n), 1e-3, rtol,
                      atol, 50_000, obs, steps, rejected)
    return obs, steps, rejected


# the same problem for the numpy oracle's protocol (batched: x is (states, batch))
@dataclass
class ChainSystem:
    c: np.ndarray
    perm_start: np.ndarray
    perm_end: np.ndarray

    def take(self, idx):
        return ChainSystem(self.c[idx], self.perm_start[idx], self.perm_end[idx])


class _DenseSolver:
    def __init__(self, system, tau, hg):
        self.mats = [np.eye(3) - g * (1.0 + c * t) * A0 for c, t, g in zip(system.c, tau, hg)]

    def solve(self, r):
        return np.stack([np.linalg.solve(mat, r[:, i]) for i, mat in enumerate(self.mats)], axis=1)


class ChainModel:
    @staticmethod
    def rhs(system, tau, x):
        return (1.0 + system.c * tau) * (A0 @ x)

    @staticmethod
    def rhs_time_derivative(system, tau, x):
        return system.c * (A0 @ x)

    @staticmethod
    def solver(system, tau, hg):
        return _DenseSolver(system, tau, hg)

    @staticmethod
    def observe(system, x):
        return x


PAR = np.array([[0.0, 0.7, 3.0], [0.3, 1.5, 2.0], [1.0, 40.0, 50.0], [0.05, 0.25, 11.0]])
TAU = np.array([np.r_[0.01, np.geomspace(0.05, 30.0, 20)]] * len(PAR))


def test_compiled_core_reproduces_the_numpy_oracle_step_for_step():
    obs, steps, rejected = run_compiled(PAR, TAU, 1e-6, 1e-9)
    system = ChainSystem(PAR[:, 0].copy(), PAR[:, 1].copy(), PAR[:, 2].copy())
    ref = rodas4.integrate(ChainModel, system, np.tile(X0[:, None], (1, len(PAR))), TAU.T.copy(), rtol=1e-6, atol=1e-9)
    assert np.array_equal(steps, ref.steps)
    assert np.array_equal(rejected, ref.rejected)
    assert np.allclose(np.transpose(obs, (1, 2, 0)), ref.observations, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("rtol", [1e-5, 1e-8])
def test_compiled_core_matches_the_analytic_decay_chain(rtol):
    obs, steps, _ = run_compiled(PAR, TAU, rtol, rtol * 1e-3)
    assert np.all(steps > 0)
    for e, (c, _, _) in enumerate(PAR):
        want = exact(c, TAU[e])
        assert np.allclose(obs[e], want, rtol=20 * rtol, atol=20 * rtol * 1e-3)
    # tighter tolerances take more steps (the error control works)
    if rtol < 1e-6:
        assert np.all(steps > run_compiled(PAR, TAU, 1e-5, 1e-8)[1])


def test_outputs_at_the_start_record_the_initial_state_and_steps_stop_at_edges():
    tau = np.array([[0.0, 0.0, 0.5, 1.0]])
    obs, steps, _ = run_compiled(np.array([[0.0, 0.5, 0.9]]), tau, 1e-8, 1e-11)
    assert np.array_equal(obs[0, 0], X0) and np.array_equal(obs[0, 1], X0)
    assert np.allclose(obs[0, 2:], exact(0.0, tau[0, 2:]), rtol=1e-6, atol=1e-12)


def test_batches_split_over_threads_give_the_same_results_as_one_thread():
    par = np.tile(PAR, (8, 1))
    tau = np.tile(TAU[:1], (len(par), 1))
    threaded, s1, _ = run_compiled(par, tau, 1e-6, 1e-9)
    serial = np.full_like(threaded, np.nan)
    s2, r2 = np.zeros(len(par), dtype=np.int64), np.zeros(len(par), dtype=np.int64)
    chain_stepper().integrate_range((A0, par, np.tile(X0, (len(par), 1))), 0, len(par), tau, np.full(len(par), tau.shape[1]),
                                    1e-3, 1e-6, 1e-9, 50_000, serial, s2, r2)
    assert np.array_equal(s1, s2)
    assert np.array_equal(threaded, serial)


def test_a_non_finite_model_reports_minus_one():
    obs, steps, _ = run_compiled(np.array([[np.nan, 1.0, 2.0]]), TAU[:1], 1e-6, 1e-9)
    assert steps[0] == -1


def test_generated_steppers_bind_every_placeholder_and_track_their_sources(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="binds exactly"):
        stepper.generate_source("broken", {"RHS": _rhs})
    bindings = dict(ELEMENT=_element, FACTOR=_factor, RHS=_rhs, SOLVE=_solve, STOP=_stop, OBSERVE=observe_state)
    text, tag = stepper.generate_source("test_chain", bindings)
    assert f"from {__name__} import _rhs as RHS" in text
    assert "def integrate_range(" in text and "NotImplementedError" not in text
    assert stepper.generate_source("test_chain", bindings, depends=("nanocloak.solvers.rodas4",))[1] != tag
    monkeypatch.setenv("NANOCLOAK_CACHE_DIR", str(tmp_path))
    assert stepper.cache_dir() == tmp_path / "steppers"


def test_solver_code_imports_no_model_code():
    allowed = ("nanocloak.solvers", "nanocloak.errors")
    for path in SOLVERS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                assert not name.startswith("nanocloak") or name.startswith(allowed), f"{path.name} imports {name}"


def test_one_tableau_serves_the_oracle_and_the_compiled_stages():
    assert rodas4.A21 == tableau.STAGE_A[1, 0] and rodas4.C65 == tableau.STAGE_C[5, 4]
    # u_6 = u_5 + k_5 (stiffly accurate), stages 5 and 6 at the step's end without f_tau
    assert np.array_equal(tableau.STAGE_A[5, :4], tableau.STAGE_A[4, :4]) and tableau.STAGE_A[5, 4] == 1.0
    assert list(tableau.STAGE_TIME[4:]) == [1.0, 1.0] and list(tableau.STAGE_D[4:]) == [0.0, 0.0]


# ---- the models moved onto the core ----------------------------------------------------------------
def test_heat_balance_on_the_core_matches_the_matrix_exponential():
    from nanocloak.model.therapy import photothermal

    a = np.array([[-0.02, 0.01], [0.004, -0.03]])
    c = np.array([0.9, 1.2])
    y0 = np.array([37.0, 36.5])
    t = np.linspace(0.0, 300.0, 121)
    got = photothermal._linear_course(a, c, y0, t)
    ss = -np.linalg.solve(a, c)
    want = np.array([ss + expm(a * ti) @ (y0 - ss) for ti in t])
    assert np.allclose(got, want, rtol=1e-7, atol=1e-6)


def test_tumor_growth_on_the_core_matches_an_independent_integrator():
    from nanocloak.model.therapy import growth

    # lambda0, lambda1, psi, k1 (per day); no Gompertz capacity (0, 0): Simeoni's growth
    rates = np.array([0.35, 0.6, 20.0, 1.2, 0.0, 0.0])
    t_kill, k_kill = np.array([0.0, 1.0, 2.0, 5.0]), np.array([0.0, 0.8, 0.3, 0.0])
    x0, t_eval = np.array([0.1, 0.0, 0.0, 0.0]), np.linspace(0.5, 12.0, 24)
    states = np.empty((t_eval.size, 4))
    assert growth._integrate(rates, t_kill, k_kill, 0.5, x0, t_eval, 1e-8, 1e-12, states) > 0

    def rhs(t, x):
        lam0, lam1, psi, k1 = rates[:4]
        w = x.sum()
        kill = np.interp(t, t_kill, k_kill) * x[0]
        return [lam0 * x[0] / (1 + (lam0 * w / lam1) ** psi) ** (1 / psi) - kill, kill - k1 * x[1], k1 * (x[1] - x[2]),
                k1 * (x[2] - x[3])]

    ref = solve_ivp(rhs, (0.5, 12.0), x0, t_eval=t_eval, method="DOP853", rtol=1e-11, atol=1e-14,
                    max_step=0.05).y.T
    assert np.allclose(states, ref, rtol=1e-6, atol=1e-10)
