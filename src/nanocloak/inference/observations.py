"""Lab data as the fit sees it: rows in %ID per matrix, the model observable each matches, and the
error of each row on the log scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError, did_you_mean
from nanocloak.spec.formulation import Formulation

#: lab matrix (labdata canonical names) -> model observable (SimulationResult.series key).
#: Blood, plasma and serum are the lab blood sample (venous concentration x blood volume; particles
#: stay in the plasma, so labdata's plasma %ID is the whole-blood amount); carcass is the model's
#: 'rest' (muscle and everything not dissected).
OBSERVABLE_OF_MATRIX = {
    "blood": "blood_sample", "plasma": "blood_sample", "serum": "blood_sample",
    "liver": "liver", "spleen": "spleen", "lung": "lung", "kidney": "kidney", "heart": "heart", "brain": "brain",
    "tumor": "tumor", "carcass": "rest", "urine": "excreted_urine", "feces": "excreted_feces",
}

# ------------------------------------------------------------------------------------------------
# the data
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Observations:
    """The rows that are fitted: time, matrix, its model observable, %ID, and ln-scale SD (or NaN)."""

    time_h: np.ndarray
    matrix: np.ndarray
    observable: np.ndarray
    pct_id: np.ndarray
    sd_log: np.ndarray
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.pct_id)

    @property
    def observables(self) -> list[str]:
        return list(dict.fromkeys(self.observable))

    @property
    def has_sd(self) -> np.ndarray:
        return np.isfinite(self.sd_log)


def observations_from(frame: pd.DataFrame, formulation: Formulation, matrices: list[str] | None = None) -> Observations:
    """Check and select the fittable rows of a tidy frame (time_h, matrix, pct_id[, sd_pct_id]).

    Raises NanocloakError for missing columns, matrices the model lacks and when nothing is left;
    rows that carry no information on the log scale (no %ID, zero, time 0) are dropped with a note."""
    missing = [c for c in ("time_h", "matrix", "pct_id") if c not in frame.columns]
    if missing:
        raise NanocloakError(f"lab data: missing column(s) {', '.join(missing)}; the fit needs time_h, matrix and "
                             f"pct_id (and optionally sd_pct_id); columns present: {', '.join(map(str, frame.columns))}")
    df = frame.reset_index(drop=True)
    present = list(dict.fromkeys(df["matrix"].astype(str)))
    if matrices:
        unknown = [m for m in matrices if m not in present]
        if unknown:
            raise NanocloakError(f"--matrix {unknown[0]!r}: not in the data{did_you_mean(unknown[0], present)}; "
                                 f"the data have {', '.join(present)}")
        df = df[df["matrix"].isin(matrices)].reset_index(drop=True)
        present = list(dict.fromkeys(df["matrix"].astype(str)))
    lacking = [m for m in present if m not in OBSERVABLE_OF_MATRIX]
    if lacking:
        raise NanocloakError(f"lab data: matrix {', '.join(repr(m) for m in lacking)} is not a compartment of the model "
                             f"(muscle, bone, skin ... are lumped into 'rest'); fittable matrices: "
                             f"{', '.join(OBSERVABLE_OF_MATRIX)}; choose the ones to fit with --matrix")
    if "tumor" in present and not formulation.has_tumor:
        raise NanocloakError("lab data: tumor rows, but the formulation has no subject.tumor; add the tumor to the "
                             "formulation or leave the tumor out with --matrix")
    return _usable_rows(df)


def _usable_rows(df: pd.DataFrame) -> Observations:
    t = pd.to_numeric(df["time_h"], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(df["pct_id"], errors="coerce").to_numpy(dtype=float)
    sd = (pd.to_numeric(df["sd_pct_id"], errors="coerce").to_numpy(dtype=float) if "sd_pct_id" in df.columns
          else np.full(len(df), np.nan))
    reasons = {
        "without a %ID value (the unit could not be converted: give organ masses or the dose)": ~np.isfinite(y),
        "at or below zero (below the limit of quantification; a log-scale fit cannot use them)": np.isfinite(y) & (y <= 0),
        "at time 0 or earlier (the dose itself carries no information)": ~(t > 0),
    }
    drop = np.zeros(len(df), dtype=bool)
    notes = []
    for why, mask in reasons.items():
        new = mask & ~drop
        if new.any():
            notes.append(f"{int(new.sum())} row(s) {why} left out")
        drop |= mask
    keep = ~drop
    if not keep.any():
        raise NanocloakError("lab data: no data left to fit (" + "; ".join(notes or ["no rows"]) + ")")
    y, sd = y[keep], sd[keep]
    # lognormal with the row's mean and SD: sd of ln y = sqrt(ln(1 + CV^2)) (moment matching)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd_log = np.where(np.isfinite(sd) & (sd > 0), np.sqrt(np.log1p((sd / y) ** 2)), np.nan)
    matrix = df["matrix"].astype(str).to_numpy()[keep]
    observable = np.array([OBSERVABLE_OF_MATRIX[m] for m in matrix])
    return Observations(t[keep], matrix, observable, y, sd_log, tuple(notes))


