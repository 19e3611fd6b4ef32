"""The Nano-Tumor Database (Cheng 2020 ACS Nano; Chou 2023 J Control Release; CC0): loading and cleaning.

Cleaning rules (each one fixes an inconsistency found in the released files):
- CT (cancer type) is free text with inconsistent case: lower-cased and stripped.
- TS (targeting strategy) has two stray values ('negtive', 'positive', evidently charge labels
  shifted into the column): set to missing.
- TM 'Other' (one row) is kept as its own level.
- KTRESrelease < 0 does not occur in this subset; the source code replaced negatives by 0.005.
- Zeta above 100 mV in magnitude (one row, 274.2 mV) is beyond what colloids carry: set to missing.
- Dose below 1e-3 mg/kg (two rows, 1.35e-9 and 6.42e-9 mg/kg, nine orders of magnitude below every
  other data set: a unit slip) is set to missing.
- TSz (tumor size, cm^3) disagreeing with TW (tumor weight, g) by more than 5-fold in either
  direction (one row: 0.02 vs 0.24; elsewhere TW = 1.2 TSz in 80% of rows) is set to missing; TW,
  given in every row, is kept.
- Numeric descriptor columns are read as numbers (blanks, NA-like words and infinities are missing);
  other text there is an error naming the column and row.
- Type, Shape and TM levels are spelled as in the database whatever their case; CT is lower case.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

DESCRIPTORS = ["Type", "TS", "HD", "Zeta", "Charge", "Shape", "TM", "CT", "TSz", "TW", "Dose", "BW"]
NUMERIC_DESCRIPTORS = ["HD", "Zeta", "Charge", "TSz", "TW", "Dose", "BW"]
MAX_ZETA_MV = 100.0          # |zeta| beyond this is not a colloid's (cleaning rule above)
MIN_DOSE_MG_PER_KG = 1e-3    # below: a unit slip (cleaning rule above)
MAX_TW_TSZ_DISAGREEMENT = 5.0
OUTCOMES = ["DE24", "DE168", "Demax"]
TUMOR_PARAMETERS = ["KTRESrelease", "KTRESmax", "KTRES50", "KTRESn", "QTC", "VTC", "BVT", "PT", "PATC"]


def default_directory() -> Path:
    """$NANOCLOAK_NTD, else the copy shipped in the package (data/ntd; CC0, unchanged CSVs)."""
    env = os.environ.get("NANOCLOAK_NTD")
    if env:
        return Path(env)
    from importlib import resources

    return Path(str(resources.files("nanocloak").joinpath("data", "ntd")))


MISSING_TOKENS = ("", "na", "n/a", "nan", "none", "null", "-")


def _numeric(out: pd.DataFrame, col: str) -> None:
    """Numbers; blanks, NA-like words and infinities are missing; other text is an error."""
    raw = out[col]
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        text = raw.astype("string").str.strip().str.lower()
        raw = raw.where(~text.isin(MISSING_TOKENS))
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        from nanocloak.errors import NanocloakError
        row = out.index[bad.to_numpy()][0]
        raise NanocloakError(f"column {col}, row {row}: {raw[bad].iloc[0]!r} is not a number "
                             "(a number, or empty for missing, is allowed)")
    out[col] = values.astype(float).replace([np.inf, -np.inf], np.nan)


def clean_datasets(df: pd.DataFrame) -> pd.DataFrame:
    """Apply the cleaning rules of this module's docstring (to training rows and to descriptors alike)."""
    out = df.copy()
    for col in NUMERIC_DESCRIPTORS:
        if col in out:
            _numeric(out, col)
    if "Zeta" in out:
        out["Zeta"] = out["Zeta"].where(~(out["Zeta"].abs() > MAX_ZETA_MV))
    if "Dose" in out:
        out["Dose"] = out["Dose"].where(~(out["Dose"] < MIN_DOSE_MG_PER_KG))
    if "TSz" in out and "TW" in out:
        ratio = out["TW"] / out["TSz"]
        off = (ratio > MAX_TW_TSZ_DISAGREEMENT) | (ratio < 1 / MAX_TW_TSZ_DISAGREEMENT)
        out["TSz"] = out["TSz"].where(~off)
    if "CT" in out:
        out["CT"] = out["CT"].astype("string").str.strip().str.lower()
    if "TS" in out:
        ts = out["TS"].astype("string").str.strip().str.capitalize()
        out["TS"] = ts.where(ts.isin(["Active", "Passive"]))
    # levels as the database spells them, whatever the case given ("xenograft heterotopic")
    for col, spelling in (("Type", "capitalize"), ("Shape", "capitalize"), ("TM", "title")):
        if col in out:
            out[col] = getattr(out[col].astype("string").str.strip().str, spelling)()
    return out


def load_datasets(directory: str | Path | None = None) -> pd.DataFrame:
    path = Path(directory or default_directory()) / "datasets.csv"
    if not path.exists():
        from nanocloak.errors import NanocloakError
        raise NanocloakError(f"Nano-Tumor Database not found at {path} (set NANOCLOAK_NTD or pass --ntd DIR)")
    return clean_datasets(pd.read_csv(path))


def load_timecourse(directory: str | Path | None = None) -> pd.DataFrame:
    path = Path(directory or default_directory()) / "timecourse.csv"
    return pd.read_csv(path)


def with_sites(datasets: pd.DataFrame) -> pd.DataFrame:
    """The rows with a `site` column in the formulation's vocabulary (site_group)."""
    return datasets.assign(site=[site_group(tm, ct) for tm, ct in zip(datasets["TM"], datasets["CT"])])


def site_group(tm: str, ct: str | None) -> str:
    """Map the NTD tumor model to the formulation's site vocabulary."""
    tm = str(tm)
    if str(ct) == "brain" and "Orthotopic" in tm:
        return "brain"
    if "Orthotopic" in tm:
        return "orthotopic"
    return "subcutaneous"
