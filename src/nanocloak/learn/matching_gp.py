"""A Gaussian process whose kernel recognises experimental settings, plus linear effects.

Why hand-written: sklearn's GP kernels act on all columns at once and have no exact-match kernel
for labels; this kernel needs one weight per descriptor label, squared-exponential terms on a few
continuous features, and a linear part, with hyperparameters shared by several outputs.

Model (Rasmussen & Williams 2006, Gaussian Processes for Machine Learning, ch. 2 and 5):
    y_t = mu_t + f_t(x) + e,   f_t ~ GP(0, k),   e ~ N(0, s_n^2)   for each standardized output t
    k(a, b) = s_f^2 exp(-sum_j w_j [a_j != b_j] - sum_c v_c (z_ac - z_bc)^2) + sum_q u_q h_aq h_bq
The first term is a product of exact-match kernels (rows of one study share their labels, so a
row's study-mates weigh most) and squared-exponential kernels; the second is Bayesian linear
regression on the linear features, so their effects are estimated with the study structure in
the covariance (as in a mixed model). Hyperparameters maximise the log marginal likelihood summed
over the outputs (R&W eq. 5.8, gradient eq. 5.9), by L-BFGS from a fixed start: deterministic.

Robust prediction: rows whose leave-one-out residual (R&W eq. 5.12) exceeds `robust_z` predictive
SDs get their noise variance inflated to bring it to `robust_z` (a Huber-type reweighting, a few
passes), so a single aberrant data set does not drag its study-mates' predictions.
"""

from __future__ import annotations

import numpy as np

# scipy and threadpoolctl are imported where a fit needs them: prediction (`learn predict` from the
# cached model) runs on numpy alone and starts ~0.5 s sooner

LOG_BOUNDS_WEIGHT = (-9.0, 4.0)
LOG_BOUNDS_LINEAR = (-12.0, 1.0)
LOG_BOUNDS_SIGNAL = (-6.0, 3.0)
LOG_BOUNDS_NOISE = (-8.0, 2.0)
START_WEIGHT, START_LINEAR, START_NOISE_FRACTION = 0.3, 0.01, 0.1
ROBUST_PASSES = 5
# L-BFGS memory: the 34 hyperparameters' surface is flat along several directions; with scipy's
# default 10 pairs the fit stopped at max_iter (300) 0.002 nats short of the optimum, with 50 it
# converges in ~120 evaluations to that optimum (Nocedal & Wright 2006, sec. 7.2: larger m, fewer steps)
LBFGS_MEMORY = 50
PREDICT_CHUNK = 2000  # rows per block at prediction (~100 MB with the NTD as training set)


def _channels(la: np.ndarray, lb: np.ndarray, sa: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """(na, nb, E + C): label mismatch indicators, then squared differences of smooth features."""
    mism = (la[:, None, :] != lb[None, :, :]).astype(float)
    sq = (sa[:, None, :] - sb[None, :, :]) ** 2
    return np.concatenate([mism, sq], axis=2)


def _pairs(labels: np.ndarray, smooth: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The channels of each pair i < j only, (n(n-1)/2, E + C), contiguous: K is symmetric and a
    row's channels with itself are all zero, so these pairs carry the whole kernel and gradient."""
    iu = np.triu_indices(len(labels), k=1)
    mism = (labels[iu[0]] != labels[iu[1]]).astype(float)
    sq = (smooth[iu[0]] - smooth[iu[1]]) ** 2
    return np.ascontiguousarray(np.concatenate([mism, sq], axis=1)), iu


class _NegLogMarginal:
    """-log p(r | theta) summed over outputs and its analytic gradient (R&W eq. 5.8-5.9), from one
    Cholesky factor per evaluation (LAPACK potrf; potrs for alpha, potri for K^-1).

    Only the pairs i < j enter the squared-exponential/exact-match part (symmetry, zero diagonal
    channels); the linear part is (H diag(u)) H^T, and its gradient h_q^T A h_q needs no n x n x Q
    array: h^T K^-1 h = |L^-1 h|^2."""

    def __init__(self, pairs: np.ndarray, iu, linear: np.ndarray, r: np.ndarray):
        self.pairs, self.linear, self.r = pairs, linear, r
        self.n, self.t_out = r.shape
        self.p, self.q = pairs.shape[1], linear.shape[1]
        self.flat_lower = iu[1] * self.n + iu[0]  # (j, i), j > i, in C order: the lower triangle
        self.flat_upper = iu[0] * self.n + iu[1]  # of a Fortran array read through its transpose
        self.diag = np.arange(self.n) * (self.n + 1)
        from scipy import linalg
        from scipy.linalg import lapack

        self.lapack, self.solve_triangular = lapack, linalg.solve_triangular
        self.evaluations = 0

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluations += 1
        p, q, t_out, r, h = self.p, self.q, self.t_out, self.r, self.linear
        w, u = np.exp(theta[:p]), np.exp(theta[p:p + q])
        sf2, sn2 = float(np.exp(theta[p + q])), float(np.exp(theta[p + q + 1]))
        kvec = sf2 * np.exp(-(self.pairs @ w))           # k(i, j), i < j: R&W eq. 4.9 x exact-match
        k = (h * u) @ h.T                                 # Bayesian linear regression (R&W eq. 2.16)
        flat = k.reshape(-1)
        flat[self.flat_lower] += kvec                     # potrf reads the lower triangle only
        flat[self.diag] += sf2 + sn2
        chol, info = self.lapack.dpotrf(k, lower=1, clean=1)
        if info != 0:
            return 1e10, np.zeros_like(theta)
        alpha, _ = self.lapack.dpotrs(chol, r, lower=1)
        value = 0.5 * float(np.sum(r * alpha)) + t_out * float(np.log(np.diag(chol)).sum())
        k_inv, info = self.lapack.dpotri(chol, lower=1)        # lower triangle of K^-1
        if info != 0:
            return 1e10, np.zeros_like(theta)
        k_inv_t = k_inv.T.reshape(-1)                     # C-order view: element [i, j] = K^-1[j, i]
        aat = alpha @ alpha.T
        # A = alpha alpha^T - T K^-1 (R&W eq. 5.9: dL/dth = 0.5 tr(A dK/dth)), on the pairs i < j
        a_pairs = aat.reshape(-1)[self.flat_upper] - t_out * k_inv_t[self.flat_upper]
        a_diag = np.diag(aat) - t_out * np.diag(k_inv)
        ak = a_pairs * kvec
        grad = np.empty_like(theta)
        grad[:p] = (ak @ self.pairs) * w                  # 0.5 x 2 (both triangles)
        v = self.solve_triangular(chol, h, lower=True, check_finite=False)  # L^-1 H
        h_a_h = ((alpha.T @ h) ** 2).sum(axis=0) - t_out * (v * v).sum(axis=0)
        grad[p:p + q] = -0.5 * h_a_h * u
        grad[p + q] = -0.5 * (2.0 * ak.sum() + sf2 * a_diag.sum())
        grad[p + q + 1] = -0.5 * a_diag.sum() * sn2
        return value, grad


class MatchingGP:
    """Fit on labels (n, E), smooth features (n, C), linear features (n, Q) and outputs (n, T)."""

    def __init__(self, robust_z: float | None = 1.5, max_iter: int = 300):
        self.robust_z = robust_z
        self.max_iter = max_iter

    # --------------------------------------------------------------------------------------------
    def fit(self, labels: np.ndarray, smooth: np.ndarray, linear: np.ndarray, y: np.ndarray) -> "MatchingGP":
        y = np.asarray(y, dtype=float)
        y = y[:, None] if y.ndim == 1 else y
        self.labels, self.smooth, self.linear = labels, np.asarray(smooth, float), np.asarray(linear, float)
        self.y_mean = y.mean(axis=0)
        self.y_scale = y.std(axis=0)
        self.y_scale[self.y_scale == 0] = 1.0
        r = (y - self.y_mean) / self.y_scale
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # scikit-learn dependency

        pairs, iu = _pairs(labels, self.smooth)
        with threadpool_limits(limits=1, user_api="blas"):  # n ~ 300: threads only spin (2-core hosts)
            theta = self._optimise(pairs, iu, r)
            self.weights, self.linear_var, self.signal_var, self.noise_var = self._unpack(theta, pairs.shape[1],
                                                                                          self.linear.shape[1])
            self._alpha = self._robust_alpha(self._prior_cov(pairs, iu), r)
        return self

    def _unpack(self, theta, p, q):
        return np.exp(theta[:p]), np.exp(theta[p:p + q]), float(np.exp(theta[p + q])), float(np.exp(theta[p + q + 1]))

    def _optimise(self, pairs: np.ndarray, iu, r: np.ndarray) -> np.ndarray:
        from scipy.optimize import minimize

        p, q = pairs.shape[1], self.linear.shape[1]
        objective = _NegLogMarginal(pairs, iu, self.linear, r)
        start = np.concatenate([np.full(p, np.log(START_WEIGHT)), np.full(q, np.log(START_LINEAR)),
                                [0.0, np.log(START_NOISE_FRACTION)]])
        bounds = [LOG_BOUNDS_WEIGHT] * p + [LOG_BOUNDS_LINEAR] * q + [LOG_BOUNDS_SIGNAL, LOG_BOUNDS_NOISE]
        res = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": self.max_iter, "maxcor": LBFGS_MEMORY})
        self.optimiser_evaluations = objective.evaluations
        return res.x

    def _prior_cov(self, pairs: np.ndarray, iu) -> np.ndarray:
        """K without noise on the training rows, from the pair channels (as in _NegLogMarginal)."""
        k = (self.linear * self.linear_var) @ self.linear.T
        kvec = self.signal_var * np.exp(-(pairs @ self.weights))
        k[iu] += kvec
        k[iu[1], iu[0]] += kvec
        k[np.diag_indices_from(k)] += self.signal_var
        return k

    def _robust_alpha(self, k0: np.ndarray, r: np.ndarray) -> np.ndarray:
        alphas = np.empty_like(r)
        for t in range(r.shape[1]):
            noise = np.full(len(r), self.noise_var)
            passes = ROBUST_PASSES if self.robust_z else 1
            for _ in range(passes):
                k_inv = np.linalg.inv(k0 + np.diag(noise))
                alpha = k_inv @ r[:, t]
                if not self.robust_z:
                    break
                loo_z = np.abs(alpha) / np.sqrt(np.diag(k_inv))  # |LOO residual| / LOO SD (R&W eq. 5.12)
                noise = np.where(loo_z > self.robust_z, self.noise_var * (loo_z / self.robust_z) ** 2, self.noise_var)
            alphas[:, t] = np.linalg.solve(k0 + np.diag(noise), r[:, t])
        return alphas

    # --------------------------------------------------------------------------------------------
    def predict(self, labels: np.ndarray, smooth: np.ndarray, linear: np.ndarray) -> np.ndarray:
        """Posterior mean of every output, (m, T), on the outputs' original scale."""
        labels, smooth, linear = np.asarray(labels), np.asarray(smooth, float), np.asarray(linear, float)
        out = np.empty((len(labels), len(self.y_mean)))
        for start in range(0, len(labels), PREDICT_CHUNK):  # bounded memory: chunk x n_train x channels
            rows = slice(start, start + PREDICT_CHUNK)
            f = _channels(labels[rows], self.labels, smooth[rows], self.smooth)
            k_star = self.signal_var * np.exp(-f @ self.weights) + (linear[rows] * self.linear_var) @ self.linear.T
            out[rows] = self.y_mean + (k_star @ self._alpha) * self.y_scale
        return out
