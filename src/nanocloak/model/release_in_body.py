"""A release law as a rate, and the triggers that speed it up where the particle is.

In the body, particles of different ages share a compartment, so each compartment releases at the
rate its fraction already released F implies: dF/dt = F'(F^-1(F)) ("the law's rate at the moment
it had released F"; autonomous form of the cumulative law). For a first-order law this is
k (1 - F) exactly; for any law it is tabulated here once on a fine time grid and interpolated in F.
Active triggers multiply the rate (product over triggers), as the formulation spec defines.

Special parts of a law: a burst F0 is released at dosing; a lag time holds release back for tlag
after each dose; a plateau Fmax stops release at Fmax.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nanocloak.errors import NanocloakError
from nanocloak.library import release_laws as release_models
from nanocloak.library import tables as library
from nanocloak.spec.formulation import Release, Trigger

END_TAPER = 0.01
#: compartment kinds (environment.yaml) and the trigger levels read there
LEVEL_KEY = {"ros": "ros_relative", "gsh": "gsh_relative", "enzyme": "enzyme_relative"}


@dataclass(frozen=True)
class ReleaseRate:
    """g(F) = dF/dt of a cumulative law, as a function of the fraction released F (0..1)."""

    model: str
    burst: float          # fraction released at dosing (F0 variants)
    lag_h: float          # release starts tlag after dosing
    f_table: np.ndarray   # increasing fractions
    g_table: np.ndarray   # dF/dt at those fractions (1/h)
    plateau: float        # the law's final fraction

    def rate(self, fraction) -> np.ndarray:
        f = np.clip(np.asarray(fraction, dtype=float), 0.0, 1.0)
        g = np.interp(f, self.f_table, self.g_table, left=self.g_table[0], right=0.0)
        # laws that hit their end with a nonzero slope (power laws reaching 100%) taper over the
        # last 1% of what they can release: a particle cannot release faster than it still holds,
        # and a kinked rate would stall the stiff solver
        taper = np.clip((self.plateau - f) / END_TAPER, 0.0, 1.0)
        return g * taper


def _params_key(params: dict[str, float]) -> tuple:
    return tuple(sorted(params.items()))


@lru_cache(maxsize=512)
def _rate_cached(model: str, params_key: tuple) -> ReleaseRate:
    params = dict(params_key)
    law = release_models.get(model)
    lag = float(params.get("tlag_h", 0.0))
    shifted = dict(params, tlag_h=0.0) if "tlag_h" in params else params
    # log-spaced times from 1 ms to ~11 years resolve fast bursts and slow tails alike
    t = np.concatenate([[0.0], np.geomspace(1e-6, 1e5, 6000)])
    f = law.cumulative_pct(t, shifted) / 100.0
    f = np.maximum.accumulate(f)                        # cumulative release never decreases
    burst = float(f[0])
    g = np.gradient(f, t)
    keep = np.concatenate([[True], np.diff(f) > 1e-12])  # strictly increasing F for interpolation
    f_tab, g_tab = f[keep], np.maximum(g[keep], 0.0)
    plateau = float(f[-1]) if float(f[-1]) < 1.0 - 1e-9 else 1.0
    return ReleaseRate(model, burst, lag, f_tab, g_tab, plateau)


def release_rate(release: Release | None) -> ReleaseRate:
    """The rate form of a payload's release law (no law: the drug stays in the particle)."""
    if release is None:
        return ReleaseRate("none", 0.0, 0.0, np.array([0.0, 1.0]), np.array([0.0, 0.0]), 1.0)
    return _rate_cached(release.model, _params_key(release.params))


# ------------------------------------------------------------------------------------------------
# triggers
# ------------------------------------------------------------------------------------------------
def environment(kind: str) -> dict[str, float]:
    node = library.table("environment")[kind]
    return {k: library.value(v, f"environment.{kind}.{k}") for k, v in node.items()}


def static_multiplier(triggers: list[Trigger], kind: str) -> float:
    """Product of the factors of the triggers that are active by chemistry alone in this kind of
    compartment (pH, ROS, GSH, enzyme levels); light, heat and ultrasound are time-dependent."""
    env = environment(kind)
    m = 1.0
    for trig in triggers:
        if trig.kind == "ph" and env["ph"] <= _threshold(trig):
            m *= trig.factor
        elif trig.kind in LEVEL_KEY and env[LEVEL_KEY[trig.kind]] >= _threshold(trig):
            m *= trig.factor
    return m


def _threshold(trig: Trigger) -> float:
    """A chemical or heat trigger's threshold (Trigger._check requires one for these kinds)."""
    if trig.threshold is None:
        raise NanocloakError(f"release.triggers: a {trig.kind} trigger needs a threshold")
    return trig.threshold


def physical_multiplier(triggers: list[Trigger], lit: bool, temperature_C: float, sonicated: bool) -> float:
    """Product of the factors of light (nir), heat (hyperthermia) and ultrasound triggers now."""
    m = 1.0
    for trig in triggers:
        if trig.kind == "nir" and lit:
            m *= trig.factor
        elif trig.kind == "hyperthermia" and temperature_C >= _threshold(trig):
            m *= trig.factor
        elif trig.kind == "ultrasound" and sonicated:
            m *= trig.factor
    return m


def coat_release_factor() -> float:
    return library.value(library.table("environment")["membrane_coat_release_factor"])
