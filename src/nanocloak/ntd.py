"""The Nano-Tumor Database (Cheng 2020 ACS Nano; Chou 2023 J Control Release; CC0): loading and cleaning.

Cleaning rules (each one fixes an inconsistency found in the released files):
- CT (cancer type) is free text with inconsistent case: lower-cased and stripped.
- TS (targeting strategy) has two stray values ('negtive', 'positive', evidently charge labels
  shifted into the column): set to missing.
- TM 'Other' (one row) is kept as its own level.
- KTRESrelease < 0 does not occur in this subset; the source code replaced negatives by 0.005.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

DESCRIPTORS = ["Type", "TS", "HD", "Zeta", "Charge", "Shape", "TM", "CT", "TSz", "TW", "Dose", "BW"]
OUTCOMES = ["DE24", "DE168", "Demax"]
TUMOR_PARAMETERS = ["KTRESrelease", "KTRESmax", "KTRES50", "KTRESn", "QTC", "VTC", "BVT", "PT", "PATC"]


def default_directory() -> Path:
    """$NANOCLOAK_NTD, else ../shared/data/ntd relative to the working directory or this checkout."""
    env = os.environ.get("NANOCLOAK_NTD")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base.parent / "shared" / "data" / "ntd"
        if candidate.exists():
            return candidate
    return Path("../shared/data/ntd")


def clean_datasets(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if "CT" in out:
        out["CT"] = out["CT"].astype("string").str.strip().str.lower()
    if "TS" in out:
        ts = out["TS"].astype("string").str.strip().str.capitalize()
        out["TS"] = ts.where(ts.isin(["Active", "Passive"]))
    for col in ("Type", "Shape", "TM"):
        if col in out:
            out[col] = out[col].astype("string").str.strip()
    return out


def load_datasets(directory: str | Path | None = None) -> pd.DataFrame:
    path = Path(directory or default_directory()) / "datasets.csv"
    if not path.exists():
        from .errors import NanocloakError
        raise NanocloakError(f"Nano-Tumor Database not found at {path} (set NANOCLOAK_NTD or pass --ntd DIR)")
    return clean_datasets(pd.read_csv(path))


def load_timecourse(directory: str | Path | None = None) -> pd.DataFrame:
    path = Path(directory or default_directory()) / "timecourse.csv"
    return pd.read_csv(path)


def site_group(tm: str, ct: str | None) -> str:
    """Map the NTD tumor model to the formulation's site vocabulary."""
    tm = str(tm)
    if str(ct) == "brain" and "Orthotopic" in tm:
        return "brain"
    if "Orthotopic" in tm:
        return "orthotopic"
    return "subcutaneous"
