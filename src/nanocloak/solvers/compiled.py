"""Compiled pieces of the Rodas4 core that do not depend on the model: the error norm, the step-size
controller, the dense output, and small dense LU factorisations. The steppers generated from
rodas4_template.py call them; models with a dense Jacobian (tumor growth, heat) use the LU.

The three decorators every compiled function of the solver and its models uses (one flag set, so
each function compiles once, and the cheapest compile that serves):

    @kernel   called only from compiled code: no Python wrapper (a third cheaper to compile)
    @inlined  small glue (a model's adapters, the template's stages): inlined into its caller at
              numba's IR level, so it is not compiled and linked on its own
    @entry    called from Python: releases the GIL, so threads can share a batch
"""

from __future__ import annotations

import math

from numba import njit

from nanocloak.solvers.tableau import DENSE, FAC_MAX, FAC_MIN, SAFETY, STAGE_A, STAGE_C, STAGE_D, STAGES

# reassociation and contraction let LLVM vectorise the stage loops; not 'nnan'/'ninf', which would
# remove the non-finite check that reports a broken parameter set. One flag set for every compiled
# function of the solver and its models, so each function compiles once.
FAST = {"reassoc", "contract", "arcp", "nsz"}


#: numpy's error model: a division by zero gives inf or NaN (which the integrator reports as
#: non-finite values) instead of raising, and spares every division its exception branch
OPTIONS = {"cache": True, "fastmath": FAST, "error_model": "numpy"}


def kernel(fn):
    """A compiled function called only from compiled code."""
    return njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, **OPTIONS)(fn)


def inlined(fn):
    """A compiled function inlined into its compiled callers."""
    return njit(inline="always", **OPTIONS)(fn)


def entry(fn):
    """A compiled function called from Python, without the GIL."""
    return njit(nogil=True, **OPTIONS)(fn)


@kernel
def stage_state(s, x, k, u):
    """u = x + sum_{j<s} a_sj k_j: the state at which stage s evaluates f (j outermost: the inner
    loops run over contiguous memory and vectorise)."""
    n = x.size
    for i in range(n):
        u[i] = x[i]
    for j in range(s):
        a, kj = STAGE_A[s, j], k[j]
        for i in range(n):
            u[i] += a * kj[i]


@kernel
def stage_load(s, g, h, f, ft, k, r):
    """r = g (f + h d_s f_tau + (1/h) sum_{j<s} c_sj k_j): the right side of stage s's solve."""
    n = f.size
    for i in range(n):
        r[i] = 0.0
    for j in range(s):
        c, kj = STAGE_C[s, j], k[j]
        for i in range(n):
            r[i] += c * kj[i]
    hd, ih = h * STAGE_D[s], 1.0 / h
    for i in range(n):
        r[i] = g * (f[i] + hd * ft[i] + ih * r[i])


@kernel
def step_end(u, k, xn):
    """x_new = u_6 + k_6 (Rodas4 is stiffly accurate)."""
    for i in range(u.size):
        xn[i] = u[i] + k[STAGES - 1, i]


@kernel
def copy_into(a, out):
    """out[:] = a, without numpy's broadcasting checks (their error messages cost seconds to compile)."""
    for i in range(a.size):
        out[i] = a[i]


@kernel
def error_norm(x, xn, err, rtol, atol):
    """Weighted RMS of the error estimate err, scaled by atol + rtol max(|x|, |xn|)."""
    acc = 0.0
    for i in range(x.size):
        sc = atol + rtol * max(abs(x[i]), abs(xn[i]))
        acc += (err[i] / sc) ** 2
    return math.sqrt(acc / x.size)


@inlined
def next_step(ht, h, err):
    """Step-size update (Hairer & Wanner's standard controller, exponent 1/4 for order 4); a step
    shortened to land on a stop does not shrink the next one."""
    fac = min(FAC_MAX, max(FAC_MIN, SAFETY * max(err, 1e-10) ** -0.25))
    if err <= 1.0 and ht < h:
        return max(ht * fac, h)
    return ht * fac


@kernel
def interpolate(s, x, xn, k, out):
    """Rodas4 dense output at tau + s h (0 < s < 1) from the step's stages k[0..4] into out."""
    for i in range(x.size):
        q2 = 0.0
        q3 = 0.0
        for j in range(5):
            q2 += DENSE[0, j] * k[j, i]
            q3 += DENSE[1, j] * k[j, i]
        out[i] = (1.0 - s) * x[i] + s * (xn[i] + (1.0 - s) * (q2 + s * q3))


@kernel
def bisect(xs, x):
    """The index i with xs[i] <= x < xs[i + 1], for sorted xs with xs[0] <= x < xs[-1] (tables that
    models interpolate in)."""
    lo, hi = 0, xs.size - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xs[mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo


@kernel
def lu_factor(a, piv):
    """In-place LU with partial pivoting of a small dense matrix (no LAPACK call from numba)."""
    n = a.shape[0]
    for k in range(n):
        best, arg = abs(a[k, k]), k
        for i in range(k + 1, n):
            if abs(a[i, k]) > best:
                best, arg = abs(a[i, k]), i
        piv[k] = arg
        if arg != k:
            for j in range(n):
                a[k, j], a[arg, j] = a[arg, j], a[k, j]
        for i in range(k + 1, n):
            a[i, k] /= a[k, k]
            for j in range(k + 1, n):
                a[i, j] -= a[i, k] * a[k, j]


@kernel
def lu_solve(a, piv, b):
    """b <- A^-1 b from lu_factor's factors."""
    n = a.shape[0]
    for k in range(n):
        if piv[k] != k:
            b[k], b[piv[k]] = b[piv[k]], b[k]
    for i in range(n):
        for j in range(i):
            b[i] -= a[i, j] * b[j]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            b[i] -= a[i, j] * b[j]
        b[i] /= a[i, i]


@kernel
def shifted_lu(jac, g, lu, piv):
    """Factor I - g J (Rosenbrock's iteration matrix) of a dense Jacobian jac into lu, piv."""
    n = jac.shape[0]
    for i in range(n):
        for j in range(n):
            lu[i, j] = (1.0 if i == j else 0.0) - g * jac[i, j]
    lu_factor(lu, piv)


@inlined
def solve_into(lu, piv, r, k):
    """k = (I - g J)^-1 r from shifted_lu's factors (r is left as it was)."""
    for i in range(r.size):
        k[i] = r[i]
    lu_solve(lu, piv, k)


@inlined
def observe_state(m, x, out):
    """OBSERVE for a model that records its whole state."""
    for i in range(x.size):
        out[i] = x[i]
