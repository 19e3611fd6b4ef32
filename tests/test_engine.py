"""The numerical core: structured solve, conservation, agreement with reference solvers."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import nanocloak
from nanocloak.model import particle as wb
from nanocloak.spec.formulation import from_dict
from nanocloak.solvers.rodas4 import integrate
from nanocloak.model.parameters import particle_systems, resolve

from conftest import EXAMPLES, make


def _system(path=EXAMPLES[0]):
    """One element (the first coating class of the first dose) of an example's system."""
    r = resolve(nanocloak.load(path))
    return particle_systems(r)[0].take(np.array([0]))


def _random_system(seed, batch=3):
    """A resolved example with every rate perturbed log-normally (stress the algebra, not physiology)."""
    rng = np.random.default_rng(seed)
    s = _system()
    s = wb.ParticleSystem.concatenate([s] * batch)
    for name in ("pa", "partition", "kmax_cap", "kmax_tis", "k50", "krel_cap", "krel_tis"):
        arr = getattr(s, name)
        arr *= np.exp(rng.normal(0, 1.0, arr.shape))
    s.k_deg[:] = rng.uniform(0, 0.05, s.k_deg.shape)
    s.k_deg_pc[:] = rng.uniform(0, 0.05, s.k_deg_pc.shape)
    s.cl_urine *= np.exp(rng.normal(0, 2, s.cl_urine.shape))
    return s


@pytest.mark.parametrize("seed", range(5))
def test_fluxes_cancel_columns_of_the_system_matrix_sum_to_zero(seed):
    """Every flux leaves one state and enters another (excretion and degradation are states):
    the mass rows of each column of A sum to zero, so mass is conserved by construction."""
    s = _random_system(seed, 1)
    for tau in (0.0, 0.5, 30.0):
        a = wb.system_matrix(s, tau)
        assert np.abs(a[: wb.N_MASS_STATES].sum(axis=0)).max() < 1e-9 * np.abs(a).max()


@pytest.mark.parametrize("seed", range(5))
def test_structured_solve_equals_dense_solve(seed):
    s = _random_system(seed, 2)
    rng = np.random.default_rng(seed)
    rhs = rng.normal(size=(wb.N_STATES, 2))
    tau, hg = np.array([0.7, 12.0]), np.array([0.05, 3.0])
    y = wb.StructuredSolver(s, tau, hg).solve(rhs)
    for i in range(2):
        a = wb.system_matrix(s, tau[i], i)
        dense = np.linalg.solve(np.eye(wb.N_STATES) - hg[i] * a, rhs[:, i])
        assert np.allclose(y[:, i], dense, rtol=1e-10, atol=1e-10)


def test_rhs_time_derivative_matches_finite_difference():
    s = _random_system(3, 1)
    x = np.abs(np.random.default_rng(0).normal(size=(wb.N_STATES, 1)))
    tau = np.array([5.0])
    eps = 1e-6
    fd = (wb.rhs(s, tau + eps, x) - wb.rhs(s, tau - eps, x)) / (2 * eps)
    assert np.allclose(wb.rhs_time_derivative(s, tau, x), fd, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_integrator_agrees_with_scipy_radau_at_tight_tolerance(seed):
    s = _random_system(seed, 2)
    grid = np.array([0.083, 1, 4, 8, 24, 48, 72, 168.0])
    sol = integrate(wb.ParticleModel, s, wb.initial_state(s), np.repeat(grid[:, None], 2, 1), rtol=1e-8, atol=1e-10)
    for i in range(2):
        one = s.take(np.array([i]))
        ref = solve_ivp(lambda t, y: wb.rhs(one, np.array([t]), y[:, None])[:, 0], (0, 168), wb.initial_state(one)[:, 0],
                        method="Radau", t_eval=grid, rtol=1e-11, atol=1e-13)
        expected = np.stack([wb.observe(one, ref.y[:, [k]])[:, 0] for k in range(grid.size)])
        got = sol.observations[:, :, i]
        assert np.all(np.abs(got - expected) <= 1e-6 + 1e-5 * np.abs(expected))


def test_pure_degradation_matches_the_analytic_exponential():
    """With every exchange switched off, the particles in blood decay as 100 exp(-k t)."""
    s = _system()
    k = 0.05
    s.k_deg[:] = k
    s.k_deg_pc[:] = k
    for name in ("pa", "kmax_cap", "kmax_tis", "krel_cap", "krel_tis"):
        getattr(s, name)[:] = 0.0
    s.cl_urine[:] = 0.0
    s.cl_bile[:] = 0.0
    grid = np.array([1.0, 10.0, 50.0])
    sol = integrate(wb.ParticleModel, s, wb.initial_state(s), grid[:, None], rtol=1e-9, atol=1e-12)
    obs = dict(zip(wb.OBSERVABLES, sol.observations[:, :, 0].T))
    in_body = sum(obs[k2] for k2 in ("blood",) + wb.ORGANS)
    assert np.allclose(in_body, 100 * np.exp(-k * grid), rtol=1e-7)
    assert np.allclose(obs["degraded"], 100 * (1 - np.exp(-k * grid)), rtol=1e-7)


def test_batch_results_do_not_depend_on_batch_composition():
    forms = [nanocloak.load(p) for p in EXAMPLES]
    alone = nanocloak.simulate(forms[2])
    together = nanocloak.simulate_many(forms)
    shuffled = nanocloak.simulate_many(forms[::-1])
    for r in (together[2], shuffled[len(forms) - 3]):
        assert np.array_equal(r.t_h, alone.t_h)
        for k in alone.series:
            assert np.allclose(r.series[k], alone.series[k], rtol=1e-12, atol=1e-12)


def test_parallel_workers_give_the_same_results():
    forms = [from_dict(make(core={"material": "plga", "diameter_nm": d})) for d in (60, 90, 120, 150)]
    serial = nanocloak.simulate_many(forms, workers=1)
    parallel = nanocloak.simulate_many(forms, workers=2, chunk_size=1)
    for a, b in zip(serial, parallel):
        assert np.allclose(a.series["blood_sample"], b.series["blood_sample"], rtol=1e-12)


def test_compiled_kernel_matches_the_numpy_reference_engine():
    """simulate() runs the compiled kernel; the numpy engine is the readable reference: same steps,
    same results to rounding."""
    from nanocloak.model import particle_kernel
    from nanocloak.simulation.core import _plan

    forms = [f for f in map(nanocloak.load, EXAMPLES) if not f.core.is_free_drug]
    forms[0].dose.times_h = [0.0, 30.0]
    _, system, tau_out = _plan([resolve(f) for f in forms])
    compiled = particle_kernel.integrate(system, tau_out, 1e-6, 1e-8)
    reference = integrate(wb.ParticleModel, system, wb.initial_state(system), tau_out, rtol=1e-6, atol=1e-8)
    assert np.array_equal(compiled.steps, reference.steps)
    ok = np.isfinite(reference.observations)
    assert np.allclose(compiled.observations[ok], reference.observations[ok], rtol=1e-8, atol=1e-9)
