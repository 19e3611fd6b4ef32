"""Linear interpolation of one scalar at a time, bit for bit numpy.interp's.

An ODE right-hand side called from Python (scipy's LSODA) reads a tabulated curve at one time per
call; numpy.interp then costs ~20 us of array set-up for a few flops. This class does the same
arithmetic in plain floats, in the order numpy's C code does it (numpy/_core/src/multiarray/
compiled_base.c, arr_interp: the bracketing index j with xp[j] <= x < xp[j+1], slope
(fp[j+1] - fp[j]) / (xp[j+1] - xp[j]), then slope (x - xp[j]) + fp[j]; end values outside the
table), so results are identical (tests/test_scalar_interp.py holds it to numpy on every branch).
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np


class ScalarInterp:
    """f(x) = float(numpy.interp(x, xp, fp)) for a scalar x (xp increasing, as numpy requires)."""

    __slots__ = ("xp", "fp", "last")

    def __init__(self, xp, fp) -> None:
        self.xp = [float(v) for v in np.asarray(xp, dtype=float).ravel()]
        self.fp = [float(v) for v in np.asarray(fp, dtype=float).ravel()]
        if len(self.xp) != len(self.fp) or not self.xp:
            raise ValueError("xp and fp must be non-empty and of the same length")
        self.last = len(self.xp) - 1

    def __call__(self, x: float) -> float:
        xp, fp, last = self.xp, self.fp, self.last
        x = float(x)
        if x != x:                              # nan in, nan out (numpy: dres = x_val)
            return x
        if x > xp[last]:
            return fp[last]
        if x < xp[0]:
            return fp[0]
        j = bisect_right(xp, x) - 1             # xp[j] <= x < xp[j+1]: numpy's binary_search_with_guess
        if j == last or xp[j] == x:
            return fp[j]
        slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
        y = slope * (x - xp[j]) + fp[j]
        if math.isnan(y):                       # numpy's fallbacks for infinite slopes
            y = slope * (x - xp[j + 1]) + fp[j + 1]
            if math.isnan(y) and fp[j] == fp[j + 1]:
                y = fp[j]
        return y
