"""Calibrating the effect parameters on the evidence base (`nanocloak calibrate evidence`).

The fit (docs/calibration.md):
- points: every usable paper point of a ratio-scale observable (log residuals) and every
  temperature (C), TGI and released-% point (additive residuals); the NTD is a validation source,
  not fitted (its coats are not recorded, docs/evidence.md);
- weights: residual sd = sqrt(model_sd^2 + measurement_sd^2), the measurement's from its reported
  SD (or SEM x sqrt(n)) on the log scale, the model's a stated floor;
- a study-level random effect b_s ~ N(0, tau^2) on the log residuals of each study, profiled out
  exactly (for fixed parameters the best b_s is a weighted mean of the study's residuals, shrunk by
  tau); a held-out study is predicted with b_s = 0;
- priors: each parameter centred on its value before the evidence base (PRIOR_CALIBRATION, else its
  table; calibrated_parameters.yaml gives the spread);
- least squares (scipy, trust-region reflective within the bounds), parameter covariance from the
  Jacobian at the optimum (Laplace), saved with the calibration for `simulate --uncertainty`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from nanocloak.evidence.observables import model_values
from nanocloak.evidence.studies import Point, Study, load_base
from nanocloak.library import calibrations as calibration
from nanocloak.library import tables as library

MODEL_LOG_SD = 0.5      # assumption: between-study scatter of nanoparticle PK at fixed design (~1.6-fold)
STUDY_EFFECT_SD = 0.5   # tau, the sd of a study's common log offset (assumption, same scale)
TEMPERATURE_SD_C = 3.0  # assumption: tumor temperature reproducibility between animals and probes
POINTS_SD = 15.0        # assumption: TGI and released % reproducibility, percentage points


@dataclass
class Parameter:
    key: str
    scale: str
    prior: float           # in natural units
    prior_sd: float        # log-scale sd (log) or natural-unit sd (linear)
    lower: float
    upper: float
    prior_source: str

    def to_x(self, v: float) -> float:
        return math.log(v) if self.scale == "log" else v

    def from_x(self, x: float) -> float:
        return math.exp(x) if self.scale == "log" else x

    @property
    def x_bounds(self) -> tuple[float, float]:
        return self.to_x(self.lower), self.to_x(self.upper)


@lru_cache(maxsize=1)
def parameters() -> tuple[Parameter, ...]:
    from nanocloak.library.safe_yaml import loads

    text = resources.files("nanocloak").joinpath("data", "evidence", "calibrated_parameters.yaml").read_text()
    spec = loads(text, "evidence/calibrated_parameters.yaml")
    out = []
    for key, s in spec.items():
        current = _current(key)
        if s["scale"] == "log":
            sd = math.log(library.value(s["prior_fold_sd"]))
        else:
            sd = library.value(s["prior_sd"])
        out.append(Parameter(key, s["scale"], current.value, sd, float(s["bounds"][0]), float(s["bounds"][1]),
                             current.source))
    return tuple(out)


#: the calibration the priors are centred on: the last one fitted WITHOUT the evidence base (to Hu
#: 2011's two half-lives). Centring on the package's current default instead would make each refit
#: take its own previous optimum as prior, counting the same points twice (and again each refit).
PRIOR_CALIBRATION = "hu2011-half-lives-2026-11-21"


def _current(key: str) -> library.Sourced:
    """A calibrated constant's prior centre: its value in PRIOR_CALIBRATION, else its table's."""
    values = calibration.table(PRIOR_CALIBRATION)["values"]
    if key in values:
        return library.sourced(values[key], key)
    table, *path = key.split(".")
    node = library.table(table)
    for p in path:
        node = node[p]
    return library.sourced(node, key)


# ---------------------------------------------------------------------------------------------
# residuals
# ---------------------------------------------------------------------------------------------
def fit_points(studies: tuple[Study, ...] | None = None) -> list[tuple[Study, Point]]:
    studies = studies if studies is not None else load_base()
    return [(s, p) for s in studies for p in s.usable_points if s.source == "paper"]


def _measurement_sd(p: Point) -> float:
    m = p.m
    sd = m.sd if m.sd is not None else (m.sem * math.sqrt(m.n) if m.sem is not None and m.n else None)
    if sd is None or m.value is None or m.value <= 0:
        return 0.0
    if p.ratio_scale:
        return math.sqrt(math.log(1.0 + (sd / m.value) ** 2))
    return float(sd)


def residuals(pairs: list[tuple[Study, Point]], values: dict, penalty_scale: float = 1.0,
              owners: list | None = None) -> tuple[np.ndarray, dict]:
    """Weighted residuals with each study's random effect profiled out; returns (r, offsets).
    `owners`, when given, receives the study id of every residual row (for leave-one-out)."""
    by_study: dict[str, list[tuple[float, float]]] = {}
    additive, additive_owner = [], []
    for s, p in pairs:
        v = values.get((s.id, p.index))
        if v is None or not math.isfinite(v):
            continue
        measured = p.m.value
        assert measured is not None, "pairs hold usable points only, and a usable point has a value (studies._usable)"
        if p.ratio_scale:
            if v <= 0:
                v = 1e-12
            sd = math.sqrt(MODEL_LOG_SD ** 2 + _measurement_sd(p) ** 2)
            by_study.setdefault(s.id, []).append((math.log(v) - math.log(measured), sd))
        else:
            floor = TEMPERATURE_SD_C if p.observable == "tumor_temperature_C" else POINTS_SD
            additive.append((v - measured) / math.sqrt(floor ** 2 + _measurement_sd(p) ** 2))
            additive_owner.append(s.id)
    out, offsets = [], {}
    for sid, rows in by_study.items():
        d = np.array([r[0] for r in rows])
        w = np.array([1.0 / r[1] ** 2 for r in rows])
        b = float(np.sum(w * d) / (np.sum(w) + 1.0 / STUDY_EFFECT_SD ** 2))
        offsets[sid] = b
        out.extend(((d - b) * np.sqrt(w)).tolist())
        out.append(penalty_scale * b / STUDY_EFFECT_SD)
        if owners is not None:
            owners.extend([sid] * (len(rows) + 1))
    out.extend(additive)
    if owners is not None:
        owners.extend(additive_owner)
    return np.array(out), offsets


# ---------------------------------------------------------------------------------------------
# the fit
# ---------------------------------------------------------------------------------------------
@dataclass
class Fit:
    parameters: tuple[Parameter, ...]
    x: np.ndarray
    covariance: np.ndarray
    cost: float
    n_points: int
    studies: list[str]
    at_bounds: list[str] = field(default_factory=list)
    evaluations: int = 0

    def values(self) -> dict[str, float]:
        return {p.key: p.from_x(x) for p, x in zip(self.parameters, self.x)}

    def sd(self) -> dict[str, float]:
        return {p.key: float(math.sqrt(max(self.covariance[i, i], 0.0))) for i, p in enumerate(self.parameters)}


def calibration_doc(values: dict[str, float], cal_id: str, sources: dict[str, str] | None = None,
                    extra: dict | None = None) -> dict:
    """A calibration file: the default calibration's constants with `values` in place."""
    base = calibration.table()
    # the model's own constants carry over; a table constant is in a calibration only when fitted
    doc: dict[str, Any] = {"id": cal_id, "values": {k: dict(v) for k, v in base["values"].items() if "." not in k}}
    for key, v in values.items():
        src = (sources or {}).get(key, f"calibration trial {cal_id}")
        doc["values"][key] = {"value": float(v), "source": src}
    if extra:
        doc.update(extra)
    return doc


class TrialCalibrations:
    """Trial parameter values as calibration files in a private temporary folder (files, so that
    simulations spread over worker processes see them too)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="nanocloak-calibration-"))
        self.n = 0

    def write(self, values: dict[str, float]) -> str:
        self.n += 1
        path = self.dir / f"trial-{self.n}.yaml"
        path.write_text(yaml.safe_dump(calibration_doc(values, f"trial-{self.n}")), encoding="utf-8")
        return str(path)

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


def _evaluate(pairs, params, x, trials: TrialCalibrations) -> dict:
    values = {p.key: p.from_x(xi) for p, xi in zip(params, x)}
    path = trials.write(values)
    return model_values(pairs, calibration=path)


def fit(pairs: list[tuple[Study, Point]] | None = None, x0: np.ndarray | None = None, max_nfev: int = 60,
        on_progress: Callable[[int, float], None] | None = None) -> Fit:
    """Least squares of the effect parameters on `pairs` (default: every usable paper point)."""
    from scipy.optimize import least_squares

    pairs = pairs if pairs is not None else fit_points()
    params = parameters()
    prior_x = np.array([p.to_x(p.prior) for p in params])
    prior_sd = np.array([p.prior_sd for p in params])
    lo = np.array([p.x_bounds[0] for p in params])
    hi = np.array([p.x_bounds[1] for p in params])
    start = np.clip(prior_x if x0 is None else x0, lo + 1e-9, hi - 1e-9)
    trials = TrialCalibrations()
    count = [0]

    def fun(x):
        r, _ = residuals(pairs, _evaluate(pairs, params, x, trials))
        count[0] += 1
        out = np.concatenate([r, (x - prior_x) / prior_sd])
        if on_progress:
            on_progress(count[0], float(0.5 * out @ out))
        return out

    try:
        sol = least_squares(fun, start, bounds=(lo, hi), method="trf", diff_step=1e-3, x_scale=prior_sd,
                            max_nfev=max_nfev)
    finally:
        trials.close()
    jac = sol.jac
    try:
        cov = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(jac.T @ jac)
    span = hi - lo
    at_bounds = [p.key for p, x, a, b, w in zip(params, sol.x, lo, hi, span) if min(x - a, b - x) < 1e-3 * w]
    studies = sorted({s.id for s, _ in pairs})
    return Fit(params, sol.x, cov, float(sol.cost), len(pairs), studies, at_bounds, count[0])


def leave_one_out(pairs: list[tuple[Study, Point]], calibration: str | None = None,
                  on_progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, float]]:
    """Per study, the effect parameters refitted without it: one Gauss-Newton step from the
    calibration's optimum with the study's residual rows removed, within a trust region of one prior
    sd per parameter (exact where the model is locally linear in the parameters; the step never sees
    the held-out study's data)."""
    params = parameters()
    values = calibration_values(calibration)
    x0 = np.array([p.to_x(values.get(p.key, p.prior)) for p in params])
    prior_x = np.array([p.to_x(p.prior) for p in params])
    prior_sd = np.array([p.prior_sd for p in params])
    lo = np.array([p.x_bounds[0] for p in params])
    hi = np.array([p.x_bounds[1] for p in params])
    trials = TrialCalibrations()
    try:
        owners: list = []
        r0, _ = residuals(pairs, _evaluate(pairs, params, x0, trials), owners=owners)
        jac = np.empty((r0.size, len(params)))
        for j in range(len(params)):
            step = 1e-3 * max(1.0, abs(x0[j]))
            xj = x0.copy()
            xj[j] += step
            rj, _ = residuals(pairs, _evaluate(pairs, params, xj, trials))
            jac[:, j] = (rj - r0) / step
            if on_progress:
                on_progress(j + 1, len(params))
    finally:
        trials.close()
    owners_arr = np.array(owners)
    out = {}
    for sid in sorted({s.id for s, _ in pairs}):
        keep = owners_arr != sid
        jk = np.vstack([jac[keep], np.diag(1.0 / prior_sd)])
        rk = np.concatenate([r0[keep], (x0 - prior_x) / prior_sd])
        step, *_ = np.linalg.lstsq(jk, -rk, rcond=None)
        # a trust region of one prior sd per parameter: where the held-out study alone pinned a
        # parameter, the linearised step would otherwise leave the region the derivatives describe
        step = np.clip(step, -prior_sd, prior_sd)
        x = np.clip(x0 + step, lo, hi)
        out[sid] = {p.key: p.from_x(xi) for p, xi in zip(params, x)}
    return out


def calibration_values(calibration: str | None = None) -> dict[str, float]:
    """The calibrated parameters' values under a calibration (its own, else the tables')."""
    from nanocloak.library import calibrations

    table = calibrations.table(calibration)["values"]
    out = {}
    for p in parameters():
        if p.key in table:
            out[p.key] = library.value(table[p.key])
        else:
            out[p.key] = p.prior
    return out


def evidence_commit() -> str:
    """The git commit that last changed the evidence base (the frozen base), or 'unknown'."""
    from nanocloak.evidence.studies import studies_dir

    try:
        out = subprocess.run(["git", "log", "-1", "--format=%H", "--", str(studies_dir())], capture_output=True,
                             text=True, timeout=10, cwd=studies_dir())
        return out.stdout.strip() or "unknown (not a git checkout)"
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"


def calibration_yaml(result: Fit, commit: str | None = None) -> str:
    """The calibration file `calibrate evidence --out` writes."""
    from nanocloak.io.output_dir import GENERATED_MARK

    commit = commit or evidence_commit()
    stamp = _dt.date.today().isoformat()
    # the fitted values' digest keeps two fits of one day and one base apart
    digest = hashlib.sha256(repr(sorted(result.values().items())).encode()).hexdigest()[:6]
    cal_id = f"evidence-{stamp}-{commit[:8]}-{digest}"
    ids = ", ".join(result.studies)
    sources = {}
    for i, p in enumerate(result.parameters):
        sd = math.sqrt(max(result.covariance[i][i], 0.0))
        spread = f"x/ {math.exp(sd):.3g} (1 sd)" if p.scale == "log" else f"+- {sd:.3g} (1 sd)"
        sources[p.key] = (f"calibrated on {len(result.studies)} studies: {ids} (nanocloak calibrate evidence, {stamp}, "
                          f"evidence commit {commit[:12]}; {spread}; prior {p.prior:.4g} from: {p.prior_source})")
    extra = {"evidence_commit": commit, "fitted": [p.key for p in result.parameters],
             "scales": {p.key: p.scale for p in result.parameters},
             "covariance": [[float(c) for c in row] for row in result.covariance],
             "at_bounds": result.at_bounds, "points": result.n_points}
    doc = calibration_doc(result.values(), cal_id, sources, extra)
    header = (f"# Calibration on the evidence base, written by `nanocloak calibrate evidence` ({GENERATED_MARK}).\n"
              "# Procedure: docs/calibration.md. Use it with model.calibration: <this id or this file's path>.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, width=110)
