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
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

LOG_BOUNDS_WEIGHT = (-9.0, 4.0)
LOG_BOUNDS_LINEAR = (-12.0, 1.0)
LOG_BOUNDS_SIGNAL = (-6.0, 3.0)
LOG_BOUNDS_NOISE = (-8.0, 2.0)
START_WEIGHT, START_LINEAR, START_NOISE_FRACTION = 0.3, 0.01, 0.1
ROBUST_PASSES = 5
PREDICT_CHUNK = 2000  # rows per block at prediction (~100 MB with the NTD as training set)


def _channels(la: np.ndarray, lb: np.ndarray, sa: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """(na, nb, E + C): label mismatch indicators, then squared differences of smooth features."""
    mism = (la[:, None, :] != lb[None, :, :]).astype(float)
    sq = (sa[:, None, :] - sb[None, :, :]) ** 2
    return np.concatenate([mism, sq], axis=2)


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
        f = _channels(labels, labels, self.smooth, self.smooth)
        hh = np.einsum("iq,jq->ijq", self.linear, self.linear)
        theta = self._optimise(f, hh, r)
        self.weights, self.linear_var, self.signal_var, self.noise_var = self._unpack(theta, f.shape[2], hh.shape[2])
        self._alpha = self._robust_alpha(f, hh, r)
        return self

    def _unpack(self, theta, p, q):
        return np.exp(theta[:p]), np.exp(theta[p:p + q]), float(np.exp(theta[p + q])), float(np.exp(theta[p + q + 1]))

    def _optimise(self, f: np.ndarray, hh: np.ndarray, r: np.ndarray) -> np.ndarray:
        n, t_out = r.shape
        p, q = f.shape[2], hh.shape[2]
        eye = np.eye(n)

        def neg_log_marginal(theta):
            w, u, sf2, sn2 = self._unpack(theta, p, q)
            kb = sf2 * np.exp(-f @ w)
            k = kb + hh @ u + sn2 * eye
            try:
                chol = cho_factor(k, lower=True)
            except np.linalg.LinAlgError:
                return 1e10, np.zeros_like(theta)
            alpha = cho_solve(chol, r)
            value = 0.5 * np.sum(r * alpha) + t_out * np.log(np.diag(chol[0])).sum()
            a = alpha @ alpha.T - t_out * cho_solve(chol, eye)  # R&W eq. 5.9: dL/dth = 0.5 tr(A dK/dth)
            akb = a * kb
            grad = np.empty_like(theta)
            grad[:p] = 0.5 * np.einsum("ij,ijp->p", akb, f) * w
            grad[p:p + q] = -0.5 * np.einsum("ij,ijq->q", a, hh) * u
            grad[p + q] = -0.5 * akb.sum()
            grad[p + q + 1] = -0.5 * np.trace(a) * sn2
            return value, grad

        start = np.concatenate([np.full(p, np.log(START_WEIGHT)), np.full(q, np.log(START_LINEAR)),
                                [0.0, np.log(START_NOISE_FRACTION)]])
        bounds = [LOG_BOUNDS_WEIGHT] * p + [LOG_BOUNDS_LINEAR] * q + [LOG_BOUNDS_SIGNAL, LOG_BOUNDS_NOISE]
        res = minimize(neg_log_marginal, start, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": self.max_iter})
        return res.x

    def _prior_cov(self, f: np.ndarray, hh: np.ndarray) -> np.ndarray:
        return self.signal_var * np.exp(-f @ self.weights) + hh @ self.linear_var

    def _robust_alpha(self, f: np.ndarray, hh: np.ndarray, r: np.ndarray) -> np.ndarray:
        k0 = self._prior_cov(f, hh)
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
