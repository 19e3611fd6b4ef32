"""MatchingGP's hyperparameter fit: the pair-wise objective and its analytic gradient against the
dense formulas (Rasmussen & Williams 2006 eq. 5.8-5.9) and finite differences, convergence to the
optimum a long reference run finds, the scikit-learn-free standardizer, and a prediction from a
saved model that imports neither scikit-learn nor scipy."""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from test_learn import needs_ntd, synthetic_ntd

from nanocloak.learn import matching_gp as gp
from nanocloak.learn.delivery_model import DeliveryModel


def random_problem(n=40, seed=1):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, (n, 4)).astype(str).astype(object)
    return labels, rng.normal(size=(n, 2)), rng.normal(size=(n, 3)), rng.normal(size=(n, 2))


def dense_neg_log_marginal(theta, labels, smooth, linear, r):
    """R&W eq. 5.8 summed over outputs, on the full n x n x channels array (the pre-pairs code)."""
    f = gp._channels(labels, labels, smooth, smooth)
    p, q, n = f.shape[2], linear.shape[1], len(r)
    w, u = np.exp(theta[:p]), np.exp(theta[p:p + q])
    k = (np.exp(theta[p + q]) * np.exp(-f @ w) + np.einsum("iq,jq,q->ij", linear, linear, u)
         + np.exp(theta[p + q + 1]) * np.eye(n))
    chol = np.linalg.cholesky(k)
    return 0.5 * np.sum(r * np.linalg.solve(k, r)) + r.shape[1] * np.log(np.diag(chol)).sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_objective_equals_dense_formula_and_its_gradient_finite_differences(seed):
    labels, smooth, linear, r = random_problem(seed=seed)
    pairs, iu = gp._pairs(labels, smooth)
    assert pairs.shape == (40 * 39 // 2, 6)
    objective = gp._NegLogMarginal(pairs, iu, linear, r)
    theta = np.random.default_rng(seed + 10).normal(scale=0.7, size=6 + 3 + 2)
    value, grad = objective(theta)
    assert value == pytest.approx(dense_neg_log_marginal(theta, labels, smooth, linear, r), rel=1e-12)
    h = 1e-6
    fd = np.array([(dense_neg_log_marginal(theta + e, labels, smooth, linear, r)
                    - dense_neg_log_marginal(theta - e, labels, smooth, linear, r)) / (2 * h) for e in np.eye(len(theta)) * h])
    np.testing.assert_allclose(grad, fd, atol=1e-6 * max(1.0, np.abs(fd).max()))


def test_not_positive_definite_is_a_large_value_not_an_error():
    labels, smooth, linear, r = random_problem()
    labels[:] = "same"  # every row identical: K rank one plus noise; noise at exp(-800) is singular
    smooth[:] = 0.0
    linear[:] = 0.0
    pairs, iu = gp._pairs(labels, smooth)
    value, grad = gp._NegLogMarginal(pairs, iu, linear, r)(np.r_[np.zeros(6 + 3), 0.0, -800.0])
    assert value == 1e10 and not grad.any()


def assert_fit_reaches_reference_optimum(data):
    """The fit (L-BFGS memory LBFGS_MEMORY, max_iter 300) stops by convergence at the optimum a
    reference run with scipy's default memory and ten times the iterations finds."""
    from scipy.optimize import minimize

    model = DeliveryModel().fit(data, None)
    fitted = model._outcome_model
    labels, smooth, linear = fitted.labels, fitted.smooth, fitted.linear
    r = ((np.log10(data[["DE24", "DE168", "Demax"]].to_numpy(float)) - fitted.y_mean) / fitted.y_scale)
    pairs, iu = gp._pairs(labels, smooth)
    objective = gp._NegLogMarginal(pairs, iu, linear, r)
    theta = np.log(np.r_[fitted.weights, fitted.linear_var, fitted.signal_var, fitted.noise_var])
    p, q = pairs.shape[1], linear.shape[1]
    start = np.r_[np.full(p, np.log(gp.START_WEIGHT)), np.full(q, np.log(gp.START_LINEAR)), 0.0,
                  np.log(gp.START_NOISE_FRACTION)]
    bounds = [gp.LOG_BOUNDS_WEIGHT] * p + [gp.LOG_BOUNDS_LINEAR] * q + [gp.LOG_BOUNDS_SIGNAL, gp.LOG_BOUNDS_NOISE]
    reference = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 3000})
    assert reference.success
    assert fitted.optimiser_evaluations < 300
    assert objective(theta)[0] <= reference.fun + 1e-4


def test_fit_reaches_the_optimum_of_a_run_to_convergence():
    assert_fit_reaches_reference_optimum(synthetic_ntd(n_studies=30, per_study=4, seed=3))


@needs_ntd
def test_fit_reaches_the_optimum_on_an_ntd_fold():
    """Fold 1 of `learn cv --seed 0`: scipy's default memory stopped at max_iter 300, 0.0024 nats short."""
    from nanocloak.learn import ntd
    from nanocloak.learn.cross_validation import grouped_folds

    datasets = ntd.load_datasets().reset_index(drop=True)
    train, _ = grouped_folds(datasets, 5, 0)[0]
    assert_fit_reaches_reference_optimum(datasets.iloc[train])


def test_standardizer_matches_scikit_learn():
    from sklearn.preprocessing import StandardScaler

    from nanocloak.learn.delivery_model import _Standardizer

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (50, 4))
    x[rng.random((50, 4)) < 0.2] = np.nan
    x[:, 2] = 5.0          # constant: SD 0 read as 1
    x[:, 3] = np.nan       # all missing
    ours, theirs = _Standardizer(x).transform(x), StandardScaler().fit(x).transform(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_prediction_from_a_saved_model_imports_neither_scikit_learn_nor_scipy(tmp_path):
    data = synthetic_ntd(n_studies=12, per_study=3, seed=4)
    model = DeliveryModel().fit(data, None)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    data.head(3).to_csv(tmp_path / "rows.csv", index=False)
    expected = model.predict(data.head(3))
    code = ("import pickle, sys, pandas as pd; from nanocloak.learn import descriptors_of; "
            f"m = pickle.load(open({str(path)!r}, 'rb')); "
            f"print(m.predict(pd.read_csv({str(tmp_path / 'rows.csv')!r})).to_json(orient='split')); "
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('sklearn', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[1] == "[]"
    got = pd.read_json(__import__("io").StringIO(out[0]), orient="split")
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=1e-10)
