"""The release-model library: cumulative % released F(t) in buffer (sink conditions, pH 7.4, 37 C).

The base laws and their lag-time (Tlag), burst (F0) and plateau (Fmax) variants follow DDSolver
(Zhang Y et al. 2010, AAPS J 12:263) and the review of Costa P & Sousa Lobo JM 2001 (Eur J Pharm
Sci 13:123), where each equation is given with its original reference (cited per model below).
t is in hours, F in percent of the loaded drug. Parameter names carry their units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class ReleaseParameter:
    name: str
    unit: str
    lower: float
    upper: float
    description: str


@dataclass(frozen=True)
class ReleaseModel:
    name: str
    equation: str
    source: str
    parameters: tuple[ReleaseParameter, ...]
    function: Callable[[np.ndarray, dict[str, float]], np.ndarray] = field(repr=False)
    saturating: bool = True   # tends to a plateau by itself (vs. power laws that grow without bound)

    def cumulative_pct(self, t_h, params: dict[str, float]) -> np.ndarray:
        """F(t) in %, clipped to [0, 100] (a particle cannot release more than it holds)."""
        t = np.maximum(np.asarray(t_h, dtype=float), 0.0)
        return np.clip(self.function(t, params), 0.0, 100.0)

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]


def _p(name, unit, lower, upper, description):
    return ReleaseParameter(name, unit, lower, upper, description)


K_PER_H = _p("k_per_h", "1/h", 0.0, 1e3, "first-order rate constant")
TLAG = _p("tlag_h", "h", 0.0, 1e3, "lag time before release starts")
F0 = _p("f0_pct", "%", 0.0, 100.0, "initial burst released at t = 0")
FMAX = _p("fmax_pct", "%", 0.0, 100.0, "plateau: the releasable fraction")
SHAPE_N = _p("n", "-", 0.0, 10.0, "release exponent")


def _zero_order(t, p):
    return p["k0_pct_per_h"] * t


def _first_order(t, p):
    return 100.0 * (1.0 - np.exp(-p["k_per_h"] * t))


def _higuchi(t, p):
    return p["kh_pct_per_sqrt_h"] * np.sqrt(t)


def _korsmeyer_peppas(t, p):
    return p["kkp_pct_per_h_n"] * t ** p["n"]


def _hixson_crowell(t, p):
    return 100.0 * (1.0 - np.clip(1.0 - p["khc_per_h"] * t, 0.0, 1.0) ** 3)


def _hopfenberg(t, p):
    return 100.0 * (1.0 - np.clip(1.0 - p["khb_per_h"] * t, 0.0, 1.0) ** p["n"])


def _baker_lonsdale(t, p):
    # implicit: 3/2 [1 - (1 - f)^(2/3)] - f = kBL t, f in [0, 1]; its left side rises 0 -> 1/2,
    # so solve by vectorised bisection (monotone, 60 halvings reach machine precision)
    target = np.minimum(p["kbl_per_h"] * np.asarray(t, dtype=float), 0.5)
    lo, hi = np.zeros_like(target), np.ones_like(target)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = 1.5 * (1.0 - (1.0 - mid) ** (2.0 / 3.0)) - mid < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 100.0 * 0.5 * (lo + hi)


def _makoid_banakar(t, p):
    return p["kmb_pct"] * t ** p["n"] * np.exp(-p["k_per_h"] * t)


def _peppas_sahlin(t, p):
    return p["k1_pct_per_h_m"] * t ** p["m"] + p["k2_pct_per_h_2m"] * t ** (2 * p["m"])


def _quadratic(t, p):
    return 100.0 * (p["k1_per_h2"] * t**2 + p["k2_per_h"] * t)


def _weibull(t, p):
    return 100.0 * (1.0 - np.exp(-((t / p["td_h"]) ** p["beta"])))


def _log_time(t):
    with np.errstate(divide="ignore"):
        return np.log(t)


def _logistic(t, p):
    z = p["alpha"] + p["beta"] * _log_time(t)
    return 100.0 / (1.0 + np.exp(-z))


def _gompertz(t, p):
    with np.errstate(over="ignore"):
        return 100.0 * np.exp(-p["alpha"] * np.exp(-p["beta"] * _log_time(t)))


def _probit(t, p):
    from scipy.special import ndtr  # only for this law: scipy.special costs ~0.25 s to import

    return 100.0 * ndtr(p["alpha"] + p["beta"] * _log_time(t))


_BASE = [
    ("zero_order", "F = k0 t", "Costa & Sousa Lobo 2001, Eur J Pharm Sci 13:123", False,
     (_p("k0_pct_per_h", "%/h", 0.0, 1e4, "zero-order release rate"),), _zero_order),
    ("first_order", "F = 100 (1 - exp(-k t))", "Gibaldi M & Feldman S 1967, J Pharm Sci 56:1238", True,
     (K_PER_H,), _first_order),
    ("higuchi", "F = kH t^0.5", "Higuchi T 1963, J Pharm Sci 52:1145", False,
     (_p("kh_pct_per_sqrt_h", "%/h^0.5", 0.0, 1e4, "Higuchi constant"),), _higuchi),
    ("korsmeyer_peppas", "F = kKP t^n (fitted on F <= 60% only)", "Korsmeyer RW et al. 1983, Int J Pharm 15:25", False,
     (_p("kkp_pct_per_h_n", "%/h^n", 0.0, 1e4, "release constant"), SHAPE_N), _korsmeyer_peppas),
    ("hixson_crowell", "F = 100 [1 - (1 - kHC t)^3]", "Hixson AW & Crowell JH 1931, Ind Eng Chem 23:923", True,
     (_p("khc_per_h", "1/h", 0.0, 1e3, "cube-root erosion constant"),), _hixson_crowell),
    ("hopfenberg", "F = 100 [1 - (1 - kHB t)^n]  (n = 3 sphere, 2 cylinder, 1 slab)",
     "Hopfenberg HB 1976, ACS Symp Ser 33:26", True,
     (_p("khb_per_h", "1/h", 0.0, 1e3, "surface erosion constant"), _p("n", "-", 1.0, 3.0, "geometry factor")), _hopfenberg),
    ("baker_lonsdale", "3/2 [1 - (1 - F/100)^(2/3)] - F/100 = kBL t", "Baker RW & Lonsdale HK 1974, Adv Exp Med Biol 47:15", True,
     (_p("kbl_per_h", "1/h", 0.0, 1e3, "release constant"),), _baker_lonsdale),
    ("makoid_banakar", "F = kMB t^n exp(-k t)", "Makoid MC et al. 1993, STP Pharma Sci 3:49", False,
     (_p("kmb_pct", "%/h^n", 0.0, 1e4, "release constant"), SHAPE_N, K_PER_H), _makoid_banakar),
    ("peppas_sahlin", "F = k1 t^m + k2 t^(2m)", "Peppas NA & Sahlin JJ 1989, Int J Pharm 57:169", False,
     (_p("k1_pct_per_h_m", "%/h^m", -1e4, 1e4, "Fickian constant"), _p("k2_pct_per_h_2m", "%/h^2m", -1e4, 1e4, "relaxation constant"),
      _p("m", "-", 0.0, 2.0, "diffusional exponent")), _peppas_sahlin),
    ("quadratic", "F = 100 (k1 t^2 + k2 t)", "Costa & Sousa Lobo 2001, Eur J Pharm Sci 13:123", False,
     (_p("k1_per_h2", "1/h^2", -1e3, 1e3, "quadratic term"), _p("k2_per_h", "1/h", -1e3, 1e3, "linear term")), _quadratic),
    ("weibull", "F = 100 [1 - exp(-(t/td)^beta)]", "Langenbucher F 1972, J Pharm Pharmacol 24:979", True,
     (_p("td_h", "h", 1e-6, 1e5, "time for 63.2% release"), _p("beta", "-", 0.0, 10.0, "shape")), _weibull),
    ("logistic", "F = 100 exp(a + b ln t) / (1 + exp(a + b ln t))", "Costa & Sousa Lobo 2001, Eur J Pharm Sci 13:123", True,
     (_p("alpha", "-", -100.0, 100.0, "location"), _p("beta", "-", 0.0, 100.0, "steepness")), _logistic),
    ("gompertz", "F = 100 exp(-a exp(-b ln t))", "Costa & Sousa Lobo 2001, Eur J Pharm Sci 13:123", True,
     (_p("alpha", "-", 0.0, 1e4, "scale"), _p("beta", "-", 0.0, 100.0, "shape")), _gompertz),
    ("probit", "F = 100 Phi(a + b ln t)", "Costa & Sousa Lobo 2001, Eur J Pharm Sci 13:123", True,
     (_p("alpha", "-", -100.0, 100.0, "location"), _p("beta", "-", 0.0, 100.0, "steepness")), _probit),
]

# which DDSolver-style variants are meaningful for each base law
_VARIANTS = {
    "zero_order": ("tlag", "f0"),
    "first_order": ("tlag", "f0", "fmax", "tlag_fmax"),
    "higuchi": ("tlag", "f0"),
    "korsmeyer_peppas": ("tlag", "f0"),
    "hixson_crowell": ("tlag",),
    "hopfenberg": ("tlag",),
    "baker_lonsdale": ("tlag",),
    "makoid_banakar": ("tlag",),
    "peppas_sahlin": ("tlag",),
    "quadratic": (),
    "weibull": ("tlag", "f0", "fmax", "tlag_fmax"),
    "logistic": ("fmax",),
    "gompertz": ("fmax",),
    "probit": ("fmax",),
}


def _with_lag(base):
    def f(t, p):
        shifted = np.maximum(np.asarray(t, dtype=float) - p["tlag_h"], 0.0)
        return np.where(np.asarray(t) > p["tlag_h"], base(shifted, p), 0.0)
    return f


def _with_burst(base, saturating):
    # F0 + (100 - F0) F/100 keeps a saturating law below 100; power laws add (DDSolver)
    def f(t, p):
        core = base(t, p)
        return p["f0_pct"] + ((100.0 - p["f0_pct"]) / 100.0 * core if saturating else core)
    return f


def _with_plateau(base):
    def f(t, p):
        return p["fmax_pct"] / 100.0 * base(t, p)
    return f


def _build() -> dict[str, ReleaseModel]:
    models: dict[str, ReleaseModel] = {}
    for name, eq, src, saturating, params, func in _BASE:
        models[name] = ReleaseModel(name, eq, src, params, func, saturating)
        for variant in _VARIANTS[name]:
            extra: list[ReleaseParameter] = []
            f, text = func, eq
            if "tlag" in variant:
                f, extra, text = _with_lag(f), extra + [TLAG], text + ", with t -> t - Tlag"
            if "f0" in variant:
                f, extra, text = _with_burst(f, saturating), extra + [F0], text + ", plus burst F0"
            if "fmax" in variant:
                f, extra, text = _with_plateau(f), extra + [FMAX], text + ", scaled to plateau Fmax"
            vname = f"{name}_{variant}"
            models[vname] = ReleaseModel(vname, text, src, tuple(params) + tuple(extra), f, saturating or "fmax" in variant)
    return models


RELEASE_MODELS: dict[str, ReleaseModel] = _build()


def get(name: str) -> ReleaseModel:
    key = str(name).strip().lower()
    if key not in RELEASE_MODELS:
        from nanocloak.errors import did_you_mean
        raise KeyError(f"unknown release model {name!r}{did_you_mean(key, sorted(RELEASE_MODELS))}; "
                       "see `nanocloak library release-models`")
    return RELEASE_MODELS[key]
