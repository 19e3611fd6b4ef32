"""The hand-written pieces that keep scipy.special and pandas off a simulation's start-up path hold to
the libraries they stand in for, and a plain simulate imports neither (issue 12, start-up)."""

import itertools
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import betainc

from nanocloak.surface.stealth import beta_cdf


@pytest.mark.parametrize("x", [0.01, 0.3, 0.5, 0.7, 0.99])
def test_beta_cdf_matches_scipy_betainc(x):
    grid = np.geomspace(0.01, 3000.0, 25)
    for a, b in itertools.product(grid, repeat=2):
        expected = float(betainc(a, b, x))
        assert beta_cdf(float(a), float(b), x) == pytest.approx(expected, rel=1e-9, abs=1e-250), (a, b, x)


def test_beta_cdf_edges_and_bad_input():
    assert beta_cdf(2.0, 3.0, 0.0) == 0.0 and beta_cdf(2.0, 3.0, 1.0) == 1.0
    assert beta_cdf(1.0, 1.0, 0.25) == pytest.approx(0.25)          # Beta(1, 1) is uniform
    assert beta_cdf(4.0, 4.0, 0.5) == pytest.approx(0.5)            # symmetric about 1/2
    for a, b, x in ((0.0, 1.0, 0.5), (1.0, -1.0, 0.5), (1.0, 1.0, 1.5)):
        with pytest.raises(ValueError):
            beta_cdf(a, b, x)


def test_simulating_a_formulation_imports_neither_pandas_nor_scipy_special(tmp_path):
    code = ("import sys, nanocloak; nanocloak.simulate(nanocloak.load('examples/rbc_plga.yaml')); "
            "print(sorted(m for m in ('pandas', 'scipy.special') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
