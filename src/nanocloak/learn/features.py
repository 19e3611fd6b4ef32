"""From NTD descriptor columns to the three views the delivery model uses.

1. exact values ("settings"): each descriptor as a label (missing is its own label). Rows of one
   study share their tumor model, cancer type, tumor weight, body weight and usually the dose; the
   kernel (matching_gp.py) learns how much a match on each label says about delivery.
2. smooth features: log10 of hydrodynamic diameter, tumor weight, dose, body weight, and the signed
   zeta potential; standardized by the training rows.
3. linear features: effects a study-to-study model should carry additively (active targeting,
   tumor weight fraction of body weight - %ID scales with tumor size -, size, charge, shape,
   material type, tumor model), estimated mostly from contrasts inside studies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError
from nanocloak.learn import ntd

DESCRIPTORS = tuple(ntd.DESCRIPTORS)
CATEGORICAL = ("Type", "TS", "Shape", "TM", "CT")
EXACT = ("TM", "CT", "TW", "BW", "Dose", "TSz", "Type", "TS", "Shape", "Charge", "HD", "Zeta")
SMOOTH = ("log_HD", "log_TW", "log_Dose", "zeta_signed", "log_BW")
LINEAR = ("active_targeting", "log_HD", "log_HD_sq", "zeta_signed", "zeta_magnitude", "log_Dose", "log_TW",
          "log_TW_fraction", "log_BW", "HD_missing", "spherical", "inorganic", "organic", "orthotopic", "xenograft")
# NTD charge codes, read from the two rows whose TS column carries the charge label
# ('negtive' on a Charge 0 row, 'positive' on a Charge 1 row) and from Charge 2 rows having zeta 0
CHARGE_SIGN = {0.0: -1.0, 1.0: 1.0, 2.0: 0.0}
HD_CENTRE_LOG10 = 2.0  # 100 nm: centre of the quadratic size term (NTD median HD 108 nm)


def clean_descriptors(df: pd.DataFrame) -> pd.DataFrame:
    """The descriptor columns of `df`, cleaned by ntd.clean_datasets; absent columns become missing."""
    if not isinstance(df, pd.DataFrame):
        raise NanocloakError(f"descriptors must be a pandas DataFrame with columns {', '.join(DESCRIPTORS)}; got {type(df).__name__}")
    out = pd.DataFrame(index=df.index)
    for col in DESCRIPTORS:
        out[col] = df[col] if col in df else np.nan
    return ntd.clean_datasets(out)


def tumor_weight_g(clean: pd.DataFrame, tw_per_tsz: float) -> pd.Series:
    """TW, or TSz times the database's TW/TSz ratio where TW is missing."""
    return clean["TW"].fillna(clean["TSz"] * tw_per_tsz)


def derived(clean: pd.DataFrame, tw_per_tsz: float) -> pd.DataFrame:
    """Physically meaningful numbers (NaN where the descriptor is missing)."""
    tw = tumor_weight_g(clean, tw_per_tsz)
    f = pd.DataFrame(index=clean.index)
    f["log_HD"] = np.log10(clean["HD"].where(clean["HD"] > 0))
    f["log_TW"] = np.log10(tw.where(tw > 0))
    f["log_Dose"] = np.log10(clean["Dose"].where(clean["Dose"] > 0))
    f["log_BW"] = np.log10(clean["BW"].where(clean["BW"] > 0))
    f["log_TW_fraction"] = f["log_TW"] - f["log_BW"]
    f["zeta_signed"] = clean["Charge"].map(CHARGE_SIGN) * clean["Zeta"]
    f["zeta_magnitude"] = clean["Zeta"]
    f["log_HD_sq"] = (f["log_HD"] - HD_CENTRE_LOG10) ** 2
    f["HD_missing"] = clean["HD"].isna().astype(float)
    f["active_targeting"] = _is(clean["TS"], "Active")
    f["spherical"] = _is(clean["Shape"], "Spherical")
    f["inorganic"] = _is(clean["Type"], "Inorganic")
    f["organic"] = _is(clean["Type"], "Organic")
    tm = clean["TM"].astype("string")
    f["orthotopic"] = tm.str.contains("Orthotopic").fillna(False).astype(float)
    f["xenograft"] = tm.str.contains("Xenograft").fillna(False).astype(float)
    return f


def _is(col: pd.Series, level: str) -> pd.Series:
    return (col.astype("string") == level).fillna(False).astype(float)


def labels(clean: pd.DataFrame) -> np.ndarray:
    """Exact-value labels, (n, len(EXACT)) strings; missing is the label 'NA'."""
    cols = []
    for c in EXACT:
        col = clean[c]
        cols.append(np.array(["NA" if pd.isna(v) else (repr(float(v)) if c not in CATEGORICAL else str(v)) for v in col], dtype=object))
    return np.column_stack(cols) if cols else np.zeros((len(clean), 0), dtype=object)


def descriptor_groups(df: pd.DataFrame) -> np.ndarray:
    """One integer per row, equal for rows with identical raw descriptor values (missing == missing)."""
    import hashlib

    cols = [c for c in DESCRIPTORS if c in df]
    keys = ["|".join("NA" if pd.isna(v) else str(v) for v in row) for row in df[cols].itertuples(index=False)]
    return np.array([int(hashlib.sha1(k.encode()).hexdigest()[:12], 16) for k in keys], dtype=np.int64)
