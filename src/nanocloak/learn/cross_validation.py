"""Grouped k-fold cross-validation of the delivery model against two baselines on the same folds.

Rows with identical descriptors always share a fold (otherwise a model could look up a twin's
answer). Scores per outcome: R2 of log10 and of linear %ID, the fraction of predictions within 2-
and 3-fold of the database value. Baselines: the training median, and a random forest on the same
descriptors (one-hot levels, log-scaled numbers, missing numbers as the training median).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold

from nanocloak.errors import NanocloakError
from nanocloak.learn import features, ntd
from nanocloak.learn.delivery_model import OUTCOMES, DeliveryModel

MODELS = ("nanocloak", "random_forest", "median")
RF_TREES = 500  # enough for the out-of-fold scores to settle (Breiman 2001: error converges with trees)
RF_MAX_FEATURES = 1 / 3  # a third of the features per split: the usual regression forest (Breiman 2001;
                         # R randomForest's default), stronger here than sklearn's all-features default
RF_LOG_COLUMNS = ("HD", "TSz", "TW", "Dose", "BW")


def grouped_folds(datasets: pd.DataFrame, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) positions; identical descriptor rows in one fold; shuffled by `seed`."""
    groups = features.descriptor_groups(datasets)
    n_groups = len(np.unique(groups))
    if not 2 <= folds <= n_groups:
        raise NanocloakError(f"--folds must be between 2 and the number of distinct descriptor rows ({n_groups}); got {folds}")
    return list(GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(datasets, groups=groups))


def scores(observed: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """R2 (log10 and linear) and fraction within 2- and 3-fold."""
    obs, pred = np.asarray(observed, float), np.clip(np.asarray(predicted, float), 1e-12, None)
    log_error = np.abs(np.log10(pred) - np.log10(obs))
    return {"r2_log10": float(r2_score(np.log10(obs), np.log10(pred))), "r2_linear": float(r2_score(obs, pred)),
            "within_2fold": float(np.mean(log_error <= np.log10(2.0))),
            "within_3fold": float(np.mean(log_error <= np.log10(3.0)))}


# --------------------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------------------
def _median_predict(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> pd.DataFrame:
    return pd.DataFrame({o: np.full(len(test), train[o].median()) for o in OUTCOMES}, index=test.index)


def _rf_matrix(clean: pd.DataFrame, columns: list[str] | None, medians: pd.Series | None):
    x = clean[[c for c in features.DESCRIPTORS if c not in features.CATEGORICAL]].astype(float).copy()
    for c in RF_LOG_COLUMNS:
        x[c] = np.log10(x[c].where(x[c] > 0))
    dummies = pd.get_dummies(clean[list(features.CATEGORICAL)].astype("string"), dummy_na=False).astype(float)
    x = pd.concat([x, dummies], axis=1)
    medians = x.median() if medians is None else medians
    x = x.reindex(columns=columns if columns is not None else x.columns, fill_value=0.0)
    return x.fillna(medians.reindex(x.columns).fillna(0.0)), medians


def _random_forest_predict(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Random forest on log10 outcomes (the same descriptors the delivery model sees)."""
    x_train, medians = _rf_matrix(features.clean_descriptors(train), None, None)
    x_test, _ = _rf_matrix(features.clean_descriptors(test), list(x_train.columns), medians)
    forest = RandomForestRegressor(n_estimators=RF_TREES, max_features=RF_MAX_FEATURES, min_samples_leaf=2,
                                   random_state=seed, n_jobs=1)
    forest.fit(x_train, np.log10(train[list(OUTCOMES)].to_numpy(float)))
    return pd.DataFrame(10 ** forest.predict(x_test), columns=list(OUTCOMES), index=test.index)


def _delivery_model_predict(train: pd.DataFrame, test: pd.DataFrame, seed: int, timecourse=None) -> pd.DataFrame:
    model = DeliveryModel().fit(train, None if timecourse is None else timecourse[timecourse["id"].isin(train["ID"])])
    return model.predict(test[list(features.DESCRIPTORS)])


# --------------------------------------------------------------------------------------------------
@dataclass
class CrossValidation:
    folds: int
    seed: int
    n_rows: int
    n_groups: int
    scores: pd.DataFrame                  # index (model, outcome); columns r2_log10, r2_linear, within_2fold, within_3fold
    predictions: pd.DataFrame = field(repr=False)  # out-of-fold predictions: ID, fold, outcome columns per model

    def table(self) -> pd.DataFrame:
        return self.scores.reset_index()

    def to_dict(self) -> dict:
        return {"folds": self.folds, "seed": self.seed, "n_rows": self.n_rows, "n_groups": self.n_groups,
                "scores": {m: {o: self.scores.loc[(m, o)].to_dict() for o in OUTCOMES} for m in MODELS}}


def cross_validate(datasets: pd.DataFrame | None = None, timecourse: pd.DataFrame | None = None, folds: int = 5,
                   seed: int = 0, progress: Callable[[str], None] | None = None) -> CrossValidation:
    """k-fold grouped cross-validation of DeliveryModel, the random forest and the median (same folds)."""
    if datasets is None:
        datasets, timecourse = ntd.load_datasets(), ntd.load_timecourse()
    datasets = datasets.reset_index(drop=True)
    runners = {"nanocloak": lambda tr, te, s: _delivery_model_predict(tr, te, s, timecourse),
               "random_forest": _random_forest_predict, "median": _median_predict}
    split = grouped_folds(datasets, folds, seed)
    oof = {m: pd.DataFrame(index=datasets.index, columns=list(OUTCOMES), dtype=float) for m in MODELS}
    fold_of = np.empty(len(datasets), dtype=int)
    for k, (train_idx, test_idx) in enumerate(split):
        train, test = datasets.iloc[train_idx], datasets.iloc[test_idx]
        fold_of[test_idx] = k + 1
        for name in MODELS:
            if progress:
                progress(f"fold {k + 1}/{folds}: {name}")
            oof[name].loc[test.index] = runners[name](train, test, seed).to_numpy()
    rows = {(m, o): scores(datasets[o].to_numpy(float), oof[m][o].to_numpy(float)) for m in MODELS for o in OUTCOMES}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["model", "outcome"])
    predictions = pd.concat({m: oof[m] for m in MODELS}, axis=1)
    predictions.columns = [f"{m}_{o}" for m, o in predictions.columns]
    predictions.insert(0, "fold", fold_of)
    if "ID" in datasets:
        predictions.insert(0, "ID", datasets["ID"].to_numpy())
    for o in OUTCOMES:
        predictions[f"observed_{o}"] = datasets[o].to_numpy(float)
    return CrossValidation(folds, seed, len(datasets), len(np.unique(features.descriptor_groups(datasets))), table, predictions)
