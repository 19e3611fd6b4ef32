"""Reading a solution on its output grid (shared by the model and the metrics, below both)."""

from __future__ import annotations

import numpy as np


def value_at(t: np.ndarray, y: np.ndarray, at: float) -> float | None:
    """y at time `at` if it is within the simulated span (grid holds the spec's times exactly)."""
    if at > t[-1] + 1e-9:
        return None
    i = int(np.searchsorted(t, at - 1e-9 * max(1.0, at)))
    if i < t.size and abs(t[i] - at) <= 1e-9 * max(1.0, at):
        return float(y[i])
    return float(np.interp(at, t, y))
