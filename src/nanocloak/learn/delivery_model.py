"""Tumor delivery (DE24, DE168, Demax in %ID) and tumor PBPK parameters from NTD descriptors.

One Gaussian process on log10 %ID of the three outcomes, hyperparameters shared (matching_gp.py;
sharing costs nothing in cross-validated accuracy and a third of the time), with the kernel there:
delivery in the Nano-Tumor Database varies far more between studies than inside them (same tumor
model, mouse and dose: the same lab), so the model learns how much each shared descriptor says and
carries physical effects (targeting, size, charge, tumor fraction of body weight) as linear terms.
Tumor parameters (Cheng 2020 definitions) are predicted the same way, on log10, for the simulator
(`model.tumor_parameters: learned`). Why and how well: docs/learning.md.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError
from nanocloak.learn import features, ntd
from nanocloak.learn.matching_gp import MatchingGP

OUTCOMES = tuple(ntd.OUTCOMES)
# VTC is not learned: it is the tumor's weight over the body's, which the formulation states
LEARNED_TUMOR_PARAMETERS = ("QTC", "BVT", "PT", "PATC", "KTRESmax", "KTRES50", "KTRESn", "KTRESrelease")
TIMECOURSE_COLUMNS = ("id", "time_h", "tumor_pct_id")


class DeliveryModel:
    """Learn tumor delivery from NTD rows; predict it for new descriptor rows.

    >>> m = DeliveryModel().fit(datasets_df, timecourse_df)
    >>> m.predict(descriptors_df)          # columns DE24, DE168, Demax (%ID), index kept
    """

    def __init__(self, robust_z: float | None = 1.5):
        self.robust_z = robust_z
        self._outcome_model: MatchingGP | None = None
        self._tumor_model: MatchingGP | None = None

    # ---------------------------------------------------------------------------------------------
    def fit(self, datasets: pd.DataFrame, timecourse: pd.DataFrame | None = None) -> "DeliveryModel":
        """Train on NTD data-set rows (all columns of datasets.csv) and, optionally, their time courses
        (timecourse.csv), which fill an outcome a row lacks by log-linear interpolation."""
        _require_columns(datasets, [*features.DESCRIPTORS, *OUTCOMES], "datasets")
        clean = features.clean_descriptors(datasets)
        outcomes = _outcomes(datasets, timecourse)
        self._tw_per_tsz = _tw_per_tsz(clean)
        self._train = self._views(clean, fit=True)
        self._train_tumor = datasets.reindex(columns=LEARNED_TUMOR_PARAMETERS)
        rows = outcomes.gt(0).all(axis=1).to_numpy()
        if rows.sum() < 3:
            raise NanocloakError(f"datasets: at least 3 rows with positive {', '.join(OUTCOMES)} are needed to learn "
                                 f"from; got {rows.sum()}")
        self._outcome_model = self._fit_gp(rows, np.log10(outcomes.to_numpy(float)[rows]))
        self._tumor_model = None  # fitted on first use (only the simulator needs it)
        return self

    def predict(self, descriptors: pd.DataFrame) -> pd.DataFrame:
        """DE24, DE168 and Demax (%ID) for each row of `descriptors` (only the 12 descriptor columns
        are read; missing values and unseen levels are allowed). The index is kept."""
        outcome_model = self._check_fitted()
        views = self._views(features.clean_descriptors(descriptors))
        out = pd.DataFrame(10.0 ** outcome_model.predict(*views), index=descriptors.index, columns=list(OUTCOMES))
        # Demax is the curve's maximum, so never below its values at 24 h and 168 h (Cheng 2020)
        out["Demax"] = out[list(OUTCOMES)].max(axis=1)
        return out

    def predict_tumor_parameters(self, descriptors: pd.DataFrame) -> pd.DataFrame:
        """Cheng 2020 tumor parameters (QTC, BVT, PT, PATC, KTRESmax, KTRES50, KTRESn, KTRESrelease),
        predicted on log10 with shared hyperparameters; VTC follows the tumor's weight."""
        tumor_model = self.fit_tumor_model()._tumor_model
        assert tumor_model is not None, "fit_tumor_model fits it or raises"
        clean = features.clean_descriptors(descriptors)
        predicted = 10.0 ** tumor_model.predict(*self._views(clean))
        out = pd.DataFrame(predicted, index=descriptors.index, columns=list(LEARNED_TUMOR_PARAMETERS))
        out["VTC"] = features.tumor_weight_g(clean, self._tw_per_tsz) / clean["BW"]
        return out

    def fit_tumor_model(self) -> "DeliveryModel":
        """Fit the tumor-parameter GP now (otherwise on the first predict_tumor_parameters), so a saved
        model carries it (`learn predict` from the user cache then fits nothing)."""
        self._check_fitted()
        if self._tumor_model is None:
            values = self._train_tumor.to_numpy(dtype=float)
            rows = np.all(values > 0, axis=1)
            if rows.sum() < 3:
                raise NanocloakError("datasets: tumor parameter columns "
                                     f"({', '.join(LEARNED_TUMOR_PARAMETERS)}) are needed to predict tumor parameters")
            self._tumor_model = self._fit_gp(rows, np.log10(values[rows]))
        return self

    # ---------------------------------------------------------------------------------------------
    def _views(self, clean: pd.DataFrame, fit: bool = False):
        derived = features.derived(clean, self._tw_per_tsz)
        if fit:
            self._smooth_scale = _Standardizer(derived[list(features.SMOOTH)].to_numpy(float))
            self._linear_scale = _Standardizer(derived[list(features.LINEAR)].to_numpy(float))
        # standardized by the training rows; a missing value sits at the training mean (0)
        smooth = np.nan_to_num(self._smooth_scale.transform(derived[list(features.SMOOTH)].to_numpy(float)), nan=0.0)
        linear = np.nan_to_num(self._linear_scale.transform(derived[list(features.LINEAR)].to_numpy(float)), nan=0.0)
        return features.labels(clean), smooth, linear

    def _fit_gp(self, rows: np.ndarray, y: np.ndarray) -> MatchingGP:
        labels, smooth, linear = (v[rows] for v in self._train)
        return MatchingGP(robust_z=self.robust_z).fit(labels, smooth, linear, y)

    def _check_fitted(self) -> MatchingGP:
        """The fitted outcome model (a clear error before .fit)."""
        if self._outcome_model is None:
            raise NanocloakError("DeliveryModel is not fitted: call .fit(datasets, timecourse) first")
        return self._outcome_model


class _Standardizer:
    """Column means and SDs (ddof 0) over the non-missing training values, a zero SD read as 1: what
    scikit-learn's StandardScaler does, without importing scikit-learn where only `predict` runs."""

    def __init__(self, x: np.ndarray):
        with warnings.catch_warnings():  # an all-missing column: mean NaN, every value missing anyway
            warnings.simplefilter("ignore", RuntimeWarning)
            self.mean = np.nanmean(x, axis=0)
            scale = np.nanstd(x, axis=0)
        self.scale = np.where((scale == 0) | np.isnan(scale), 1.0, scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale


def _require_columns(df, columns, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise NanocloakError(f"{what} must be a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in columns if c not in df]
    if missing:
        raise NanocloakError(f"{what}: missing column(s) {', '.join(missing)} (expected the columns of the "
                             f"Nano-Tumor Database's {what}.csv)")


def _tw_per_tsz(clean: pd.DataFrame) -> float:
    """Median tumor weight (g) per tumor size (cm^3) over rows giving both; 1 g/mL without any."""
    ratio = (clean["TW"] / clean["TSz"]).replace([np.inf, -np.inf], np.nan).dropna()
    return float(ratio.median()) if len(ratio) else 1.0


def _outcomes(datasets: pd.DataFrame, timecourse: pd.DataFrame | None) -> pd.DataFrame:
    """The outcome columns as numbers; where one is missing and the row's time course spans the
    time, DE24/DE168 by log-linear interpolation and Demax as the largest measurement."""
    out = datasets[list(OUTCOMES)].apply(pd.to_numeric, errors="coerce").reset_index(drop=True)
    if timecourse is None or not out.isna().any().any() or "ID" not in datasets:
        return out.set_axis(datasets.index)
    _require_columns(timecourse, TIMECOURSE_COLUMNS, "timecourse")
    curves = {k: g.sort_values("time_h") for k, g in timecourse.groupby("id")}
    ids = datasets["ID"].to_numpy()
    for pos in np.flatnonzero(out.isna().any(axis=1).to_numpy()):  # positions: the index may repeat
        curve = curves.get(ids[pos])
        if curve is None or curve.empty:
            continue
        t, v = curve["time_h"].to_numpy(float), curve["tumor_pct_id"].to_numpy(float).clip(min=1e-9)
        for name, time in (("DE24", 24.0), ("DE168", 168.0)):
            if pd.isna(out.at[pos, name]) and t[0] <= time <= t[-1]:
                out.at[pos, name] = 10 ** np.interp(time, t, np.log10(v))
        if pd.isna(out.at[pos, "Demax"]):
            out.at[pos, "Demax"] = v.max()
    return out.set_axis(datasets.index)
