"""Priors of the fitted parameters (data/fit_priors.yaml) and the default choice of parameters to fit
from what the data measure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError, did_you_mean
from nanocloak.library.tables import sourced
from nanocloak.library.tables import table as library_table

Z90 = 1.6448536                  # standard normal 95th percentile: central 90% intervals
SIGMA = "sigma"                   # the name of the proportional error in tables and samples

# ------------------------------------------------------------------------------------------------
# priors
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prior:
    """Lognormal prior: median (the library value) and the fold change at 1 SD."""

    name: str
    median: float
    factor: float
    source: str
    unit: str = ""

    @property
    def mu(self) -> float:
        return math.log(self.median)

    @property
    def sd_log(self) -> float:
        return math.log(self.factor)

    def interval(self, z: float = Z90) -> tuple[float, float]:
        """The central 90% prior interval by default (z of the 95th percentile)."""
        return self.median / self.factor ** z, self.median * self.factor ** z


def prior_table() -> dict:
    return library_table("fit_priors")


def prior_factor(name: str, value_source: str) -> tuple[float, str]:
    """(fold change at 1 SD, its source) for a parameter whose library value has `value_source`."""
    table = prior_table()
    if name in table["parameters"]:
        s = sourced(table["parameters"][name], f"fit_priors.parameters.{name}")
        return s.value, s.source
    text = value_source.removeprefix("model.overrides (default replaced; ").lower()
    key = "assumption_factor" if text.startswith("assumption") else "sourced_factor"
    s = sourced(table["default"][key], f"fit_priors.default.{key}")
    return s.value, s.source


def sigma_prior() -> Prior:
    table = prior_table()["proportional_error"]
    median = sourced(table["median_sd_log"], "fit_priors.proportional_error.median_sd_log")
    factor = sourced(table["factor"], "fit_priors.proportional_error.factor")
    return Prior(SIGMA, median.value, factor.value, median.source, "sd of ln %ID")


def ntd_prior_factors(ntd_dir=None) -> dict[str, float]:
    """exp(SD of ln value) of Cheng 2020's per-data-set tumor fits, passive subcutaneous NTD sets,
    for every tumor parameter data/fit_priors.yaml stores."""
    from nanocloak.learn import ntd

    d = ntd.with_sites(ntd.load_datasets(ntd_dir))
    group = d[(d["TS"] == "Passive") & (d["site"] == "subcutaneous")]
    keys = [n.removeprefix("tumor.") for n in prior_table()["parameters"] if n.startswith("tumor.")]
    return {f"tumor.{k}": float(np.exp(np.log(group[k].astype(float)).std(ddof=1))) for k in keys}


# ------------------------------------------------------------------------------------------------
# which parameters
# ------------------------------------------------------------------------------------------------
STEALTH = "effect.surface_recognition_factor"
UPTAKE_ONSET = "calibration.mps_uptake_t50_h"
LIVER_UPTAKE, SPLEEN_UPTAKE = "liver.pc_uptake_max_per_h", "spleen.pc_uptake_max_per_h"
TUMOR_PARAMETERS = ("tumor.KTRESmax", "tumor.PATC")
OTHER_MPS = {"lung", "kidney", "heart", "rest"}


def default_parameters(observables: list[str]) -> list[str]:
    """The default set for the data given (docs/fitting.md, 'What is fitted').

    The coating's stealth multiplies phagocytic uptake in every organ (the global uptake scale
    does exactly the same for one formulation, so only one of the two can be fitted). Liver and
    spleen data each identify their organ's uptake capacity; the stealth then still sets the
    other organs, and is fitted when those organs or the blood alone carry it. Blood alone also
    shows when recognition sets in (uptake onset). Tumor data identify the tumor's cellular uptake
    and permeability (Cheng 2020 KTRESmax, PATC); tumor data alone, only those."""
    obs = set(observables)
    names: list[str] = []
    organs = [n for o, n in (("liver", LIVER_UPTAKE), ("spleen", SPLEEN_UPTAKE)) if o in obs]
    if obs - {"tumor"} and (len(organs) < 2 or obs & OTHER_MPS):
        names.append(STEALTH)
    names += organs
    if obs <= {"blood_sample", "tumor", "excreted_urine", "excreted_feces"} and "blood_sample" in obs:
        names.append(UPTAKE_ONSET)
    if "tumor" in obs:
        names += list(TUMOR_PARAMETERS)
    return names


def check_parameters(names: list[str], table: pd.DataFrame) -> list[Prior]:
    """Priors for the chosen names; clear errors for unknown names and values a log scale cannot take."""
    if not names:
        raise NanocloakError("--param: no parameter to fit")
    dup = [n for n in dict.fromkeys(names) if names.count(n) > 1]
    if dup:
        raise NanocloakError(f"--param {dup[0]!r} is given twice")
    rows = {r.name: r for r in table.itertuples()}
    priors = []
    for name in names:
        if name == SIGMA:
            raise NanocloakError(f"--param {SIGMA!r}: the proportional error is set with --error, not --param")
        row = rows.get(name)
        if row is None:
            raise NanocloakError(f"--param {name!r}: not a model parameter of this formulation{_suggest(name, list(rows))}; "
                                 "`nanocloak params FILE` lists the names")
        if not (math.isfinite(row.value) and row.value > 0):
            raise NanocloakError(f"--param {name!r}: its value in this formulation is {row.value:g}; the fit works on the "
                                 "log scale and needs a positive value (set a starting value in model.overrides)")
        factor, source = prior_factor(name, row.source)
        priors.append(Prior(name, float(row.value), factor, source, row.unit))
    return priors


def _suggest(name: str, names: list[str]) -> str:
    """The closest name by shared words (liver.kmax -> liver.pc_uptake_max_per_h), else by spelling,
    and the parameters of the same organ or group."""
    words = _words(name)
    scored = [(sum(any(w in v or (len(v) >= 3 and v in w) for v in _words(c)) for w in words), c) for c in names]
    best, candidate = max(scored, default=(0, ""))
    hint = f" (did you mean {candidate!r}?)" if best >= max(2, len(words) - 1) else did_you_mean(name, names)
    head = name.split(".")[0]
    same = [n for n in names if n.startswith(head + ".")]
    return hint + (f"; parameters of {head!r}: {', '.join(same)}" if same else "")


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[._]", name.lower()) if len(w) >= 2]


