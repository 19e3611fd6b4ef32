"""ScalarInterp reproduces numpy.interp bit for bit (it replaces it in Python ODE right-hand sides)."""

import numpy as np
import pytest

from nanocloak.solvers.scalar_interp import ScalarInterp


def _same(xp, fp, xs):
    f = ScalarInterp(xp, fp)
    got = np.array([f(x) for x in xs])
    want = np.interp(xs, xp, fp)
    assert np.array_equal(got.view(np.int64), want.view(np.int64)) or np.array_equal(got, want, equal_nan=True)
    return got


def test_random_tables_bit_for_bit():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        xp = np.sort(rng.uniform(-5, 200, n))
        fp = rng.lognormal(0, 3, n) * rng.choice([-1, 1], n)
        xs = np.concatenate([rng.uniform(-10, 210, 300), xp, np.nextafter(xp, np.inf), np.nextafter(xp, -np.inf)])
        got = _same(xp, fp, xs)
        assert np.all(got.view(np.int64) == np.interp(xs, xp, fp).view(np.int64))


def test_ends_duplicates_and_nan():
    xp = np.array([0.0, 1.0, 1.0, 2.0, 5.0])
    fp = np.array([3.0, 4.0, 7.0, -1.0, 2.0])
    xs = np.array([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 4.99, 5.0, 6.0])
    got = _same(xp, fp, xs)
    assert got[0] == 3.0 and got[-1] == 2.0 and got[4] == pytest.approx(3.0)   # after the step at 1: 7 -> -1
    assert np.isnan(ScalarInterp(xp, fp)(float("nan")))


def test_infinite_values_follow_numpy():
    xp = np.array([0.0, 1.0, 2.0, 3.0])
    fp = np.array([1.0, np.inf, np.inf, 2.0])
    _same(xp, fp, np.array([0.5, 1.0, 1.5, 2.5, 3.0]))


def test_bad_table_is_refused():
    with pytest.raises(ValueError):
        ScalarInterp([0.0, 1.0], [1.0])
