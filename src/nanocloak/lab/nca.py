"""Non-compartmental analysis (NCA) of lab time courses (docs/lab_data.md).

Rules (the common conventions of Phoenix WinNonlin and PKNCA, stated in every output):
- AUC0-t by the linear trapezoid (default) or linear-up/log-down (log trapezoid on falling segments
  with both concentrations > 0; Gabrielsson J & Weiner D 2016, Pharmacokinetic and Pharmacodynamic
  Data Analysis, 5th ed., ch. 2); AUMC likewise on t x C. t = tlast, the last positive concentration.
- Time zero: after an IV bolus (blood, plasma) C0 is back-extrapolated log-linearly from the first two
  points; if they do not fall (or one is 0) C0 = the first observed concentration (PKNCA pk.calc.c0
  default order c0, logslope, c1; the WinNonlin rule).
  Tissues start at C(0) = 0. A measured point at t = 0 is used as given, except a 0 after an IV bolus
  (a pre-dose sample), which is replaced by the back-extrapolated C0. Cmax and Tmax are observed values.
- lambda_z (terminal slope): least squares of ln C on t over the last n positive points after Tmax,
  n >= 3; adjusted R2 = 1 - (1 - R2)(n - 1)/(n - 2); among the fits with lambda_z > 0, the largest n
  whose adjusted R2 is within 1e-4 of the best (PKNCA adj.r.squared.factor, min.hl.points 3; Phoenix
  WinNonlin 6.4 User's Guide "best fit").
- AUC0-inf = AUC0-t + Clast/lambda_z (observed Clast); AUMC0-inf = AUMC0-t + Clast tlast/lambda_z +
  Clast/lambda_z^2; MRT = AUMC0-inf/AUC0-inf; CL = Dose/AUC0-inf; Vss = CL x MRT (IV bolus only);
  %AUC extrapolated = 100 (AUC0-inf - AUC0-t)/AUC0-inf (Gibaldi M & Perrier D 1982, Pharmacokinetics).
- Sparse (destructive) sampling: Bailer AJ 1988, J Pharmacokinet Biopharm 16:303: AUC0-tlast =
  sum_i w_i mean_i with trapezoid weights w_0 = (t_1 - t_0)/2, w_i = (t_(i+1) - t_(i-1))/2,
  w_m = (t_m - t_(m-1))/2, Var(AUC) = sum_i w_i^2 s_i^2 / n_i, 95% CI = AUC +/- 1.96 SE.
Written by hand: the formulas are a few lines and the libraries that implement them (PKNCA) are R.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError
from nanocloak.solvers.terminal_phase import ADJ_R2_TOLERANCE, MIN_LAMBDA_Z_POINTS, LambdaZ, fit_lambda_z, log_linear  # noqa: F401

METHODS = ("linear", "linear-up/log-down")
DEFAULT_METHOD = "linear"
Z_95 = 1.959963984540054          # two-sided 95% normal quantile (Bailer 1988 uses the normal approximation)


class NCAError(NanocloakError):
    """Data that cannot be analysed (too few points, unknown method)."""


# ------------------------------------------------------------------------------------------------
# building blocks
# ------------------------------------------------------------------------------------------------
def interval_areas(t: np.ndarray, c: np.ndarray, method: str = DEFAULT_METHOD) -> tuple[np.ndarray, np.ndarray]:
    """AUC and AUMC of each interval [t_i, t_(i+1)] by the linear or linear-up/log-down trapezoid."""
    _check_method(method)
    t, c = np.asarray(t, float), np.asarray(c, float)
    dt = np.diff(t)
    c1, c2, t1, t2 = c[:-1], c[1:], t[:-1], t[1:]
    auc = dt * (c1 + c2) / 2.0
    aumc = dt * (t1 * c1 + t2 * c2) / 2.0
    if method == "linear-up/log-down":
        log = (c2 < c1) & (c2 > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log(c1 / c2)
            # exact integrals of a mono-exponential between the two points
            log_auc = dt * (c1 - c2) / ratio
            log_aumc = dt * (t1 * c1 - t2 * c2) / ratio + dt**2 * (c1 - c2) / ratio**2
        auc = np.where(log, log_auc, auc)
        aumc = np.where(log, log_aumc, aumc)
    return auc, aumc


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise NCAError(f"AUC method {method!r} not known; use one of {', '.join(METHODS)}")








def back_extrapolated_c0(t: np.ndarray, c: np.ndarray) -> float:
    """C0 after an IV bolus: log-linear back-extrapolation of the first two points, else the first point
    (PKNCA pk.calc.c0 'logslope' then 'c1')."""
    if t.size >= 2 and c[0] > c[1] > 0:
        return float(c[0] * (c[0] / c[1]) ** (t[0] / (t[1] - t[0])))
    return float(c[0])


# ------------------------------------------------------------------------------------------------
# one profile
# ------------------------------------------------------------------------------------------------
@dataclass
class NCAResult:
    """NCA of one concentration-time profile; units in `units`."""

    label: str
    method: str
    conc_unit: str
    dose: float                 # NaN: no dose (tissue): CL, Vss not computed
    dose_unit: str
    n_points: int
    c0: float                   # concentration used at t = 0
    cmax: float
    tmax_h: float
    tlast_h: float
    clast: float
    auc_0_t: float
    aumc_0_t: float
    lambda_z_per_h: float
    lambda_z_intercept: float   # ln C at t = 0 of the terminal line
    lambda_z_n_points: int
    lambda_z_r2_adjusted: float
    lambda_z_t_first_h: float
    lambda_z_t_last_h: float
    t_half_h: float
    auc_0_inf: float
    aumc_0_inf: float
    auc_pct_extrapolated: float
    mrt_h: float
    cl: float
    vss: float
    note: str = ""
    t_h: np.ndarray | None = field(default=None, repr=False)          # observed points (for figures)
    c: np.ndarray | None = field(default=None, repr=False)
    lambda_z_used: np.ndarray | None = field(default=None, repr=False)

    @property
    def units(self) -> dict[str, str]:
        cu = self.conc_unit
        amount, _, per = cu.partition("/")
        volume = per or "1"
        auc, aumc = (f"{amount}*h/{per}", f"{amount}*h^2/{per}") if per else (f"{cu}*h", f"{cu}*h^2")
        return {"cmax": cu, "c0": cu, "clast": cu, "tmax_h": "h", "tlast_h": "h", "auc_0_t": auc,
                "auc_0_inf": auc, "aumc_0_t": aumc, "aumc_0_inf": aumc,
                "lambda_z_per_h": "1/h", "t_half_h": "h", "mrt_h": "h", "auc_pct_extrapolated": "%",
                "cl": f"{volume}/h" if amount == self.dose_unit else f"{self.dose_unit}/({cu}*h)",
                "vss": volume if amount == self.dose_unit else f"{self.dose_unit}/({cu})"}

    def to_dict(self) -> dict:
        """JSON-ready: NaN becomes None."""
        return _jsonable({k: v for k, v in asdict(self).items() if k not in ("t_h", "c", "lambda_z_used")})

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{k: v for k, v in asdict(self).items() if k not in ("t_h", "c", "lambda_z_used")}])


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def nca(t, c, *, dose: float | None = None, dose_unit: str = "%ID", conc_unit: str = "%ID/mL",
        method: str = DEFAULT_METHOD, iv_bolus: bool = True, label: str = "") -> NCAResult:
    """NCA of one profile (times in h). dose: for CL, Vss (IV bolus); iv_bolus False: C(0) = 0 (tissues)."""
    _check_method(method)
    t, c = _clean(t, c, label)
    i_max = int(np.argmax(c))
    positive = np.flatnonzero(c > 0)
    if positive.size == 0:
        raise NCAError(f"{label or 'profile'}: every concentration is 0; nothing to analyse")
    i_last = int(positive[-1])
    tt, cc, c0 = _with_time_zero(t[: i_last + 1], c[: i_last + 1], iv_bolus)
    auc_i, aumc_i = interval_areas(tt, cc, method)
    auc_t, aumc_t = float(auc_i.sum()), float(aumc_i.sum())
    lz = fit_lambda_z(t[: i_last + 1], c[: i_last + 1])
    tlast, clast = float(t[i_last]), float(c[i_last])
    nan = math.nan
    dose_value = nan if dose is None else float(dose)
    if lz is None:
        note = (f"lambda_z not estimated: fewer than {MIN_LAMBDA_Z_POINTS} positive points after Tmax "
                "with a falling slope")
        lam = auc_inf = aumc_inf = t_half = nan
    else:
        note = ""
        lam = lz.lambda_z
        t_half = math.log(2.0) / lam
        auc_inf = auc_t + clast / lam
        aumc_inf = aumc_t + clast * tlast / lam + clast / lam**2
    mrt = aumc_inf / auc_inf if iv_bolus else nan
    cl = dose_value / auc_inf if iv_bolus else nan
    used = lz.used if lz is not None else np.zeros(t.size, bool)
    used = np.concatenate([used, np.zeros(t.size - used.size, bool)])
    return NCAResult(
        label=label, method=method, conc_unit=conc_unit, dose=dose_value, dose_unit=dose_unit, n_points=int(t.size),
        c0=c0, cmax=float(c[i_max]), tmax_h=float(t[i_max]), tlast_h=tlast, clast=clast, auc_0_t=auc_t, aumc_0_t=aumc_t,
        lambda_z_per_h=lam, lambda_z_intercept=lz.intercept if lz else nan, lambda_z_n_points=lz.n_points if lz else 0,
        lambda_z_r2_adjusted=lz.r2_adjusted if lz else nan, lambda_z_t_first_h=lz.t_first if lz else nan,
        lambda_z_t_last_h=lz.t_last if lz else nan, t_half_h=t_half, auc_0_inf=auc_inf, aumc_0_inf=aumc_inf,
        auc_pct_extrapolated=100.0 * (auc_inf - auc_t) / auc_inf if lz else nan, mrt_h=mrt, cl=cl, vss=cl * mrt,
        note=note, t_h=t, c=c, lambda_z_used=used)


def _clean(t, c, label: str) -> tuple[np.ndarray, np.ndarray]:
    t, c = np.asarray(t, float), np.asarray(c, float)
    keep = np.isfinite(t) & np.isfinite(c)
    t, c = t[keep], c[keep]
    order = np.argsort(t, kind="stable")
    t, c = t[order], c[order]
    name = label or "profile"
    if t.size < 2:
        raise NCAError(f"{name}: NCA needs at least 2 time points, got {t.size}")
    if np.any(np.diff(t) == 0):
        raise NCAError(f"{name}: a time point appears twice ({t[np.flatnonzero(np.diff(t) == 0)[0]]:g} h)")
    if np.any(c < 0) or np.any(t < 0):
        raise NCAError(f"{name}: times and concentrations must be >= 0")
    return t, c


def _with_time_zero(t: np.ndarray, c: np.ndarray, iv_bolus: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """The profile with its t = 0 point (module docstring rule) and the C0 used."""
    if t[0] == 0 and not (iv_bolus and c[0] == 0):
        return t, c, float(c[0])
    if t[0] == 0:                       # a pre-dose 0 before an IV bolus
        t, c = t[1:], c[1:]
    c0 = back_extrapolated_c0(t, c) if iv_bolus else 0.0
    return np.concatenate([[0.0], t]), np.concatenate([[c0], c]), c0


# ------------------------------------------------------------------------------------------------
# serial sampling: each animal and the mean curve
# ------------------------------------------------------------------------------------------------
@dataclass
class SerialNCA:
    """NCA of every animal and of the mean curve (mean of the animals at each time)."""

    animals: list[NCAResult]
    mean: NCAResult
    mean_curve: pd.DataFrame            # time_h, mean, sd, n

    def to_frame(self) -> pd.DataFrame:
        return pd.concat([r.to_frame() for r in [*self.animals, self.mean]], ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """Mean, SD and CV% of each parameter across animals (the usual report line)."""
        table = pd.concat([r.to_frame() for r in self.animals], ignore_index=True).select_dtypes("number")
        sd = table.std(ddof=1)
        return pd.DataFrame({"mean": table.mean(), "sd": sd, "cv_pct": 100 * sd / table.mean()})


def mean_curve(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean, SD (ddof 1) and n of `column` at each time (rows with NaN ignored)."""
    rows = frame[["time_h", column]].dropna()
    g = rows.groupby("time_h")[column]
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "n": g.count()}).reset_index()


def serial_nca(frame: pd.DataFrame, column: str, **kwargs) -> SerialNCA:
    """NCA per animal and of the mean curve; frame: rows of one matrix with animal, time_h, `column`."""
    animals = []
    for animal, rows in frame.groupby("animal", sort=False):
        rows = rows.dropna(subset=[column])
        if len(rows) >= 2:
            animals.append(nca(rows["time_h"], rows[column], label=str(animal), **kwargs))
    curve = mean_curve(frame, column)
    return SerialNCA(animals, nca(curve["time_h"], curve["mean"], label="mean", **kwargs), curve)


# ------------------------------------------------------------------------------------------------
# sparse (destructive) sampling: Bailer 1988
# ------------------------------------------------------------------------------------------------
@dataclass
class BailerResult:
    """AUC0-tlast of the mean curve with its standard error (Bailer 1988)."""

    conc_unit: str
    t_h: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    n: np.ndarray
    weights: np.ndarray
    auc_0_tlast: float
    variance: float
    se: float
    ci95_low: float
    ci95_high: float
    starts_at_zero: bool        # a C(0) = 0 point (tissue) was added
    note: str = ""

    def to_dict(self) -> dict:
        """JSON-ready: arrays become lists, NaN becomes None."""
        return _jsonable(asdict(self))

    def to_frame(self) -> pd.DataFrame:
        """One row per time point (weights, means) with the AUC, SE and CI repeated."""
        return pd.DataFrame({"time_h": self.t_h, "mean": self.mean, "sd": self.sd, "n": self.n,
                             "weight_h": self.weights,
                             "auc_0_tlast": self.auc_0_tlast, "se": self.se, "ci95_low": self.ci95_low,
                             "ci95_high": self.ci95_high, "conc_unit": self.conc_unit})


def trapezoid_weights(t: np.ndarray) -> np.ndarray:
    """w with sum(w_i C_i) = linear-trapezoid AUC over t (Bailer 1988 eq. 2)."""
    t = np.asarray(t, float)
    w = np.zeros(t.size)
    dt = np.diff(t)
    w[:-1] += dt / 2.0
    w[1:] += dt / 2.0
    return w


def bailer(t, mean, sd, n, *, conc_unit: str = "%ID/mL", zero_at_start: bool = False) -> BailerResult:
    """Bailer's AUC0-tlast and SE from the mean, SD and number of animals at each time.

    zero_at_start: add C(0) = 0 with no variance (tissues after an IV dose; not for blood)."""
    t, mean, sd, n = (np.asarray(x, float) for x in (t, mean, sd, n))
    order = np.argsort(t)
    t, mean, sd, n = t[order], mean[order], sd[order], n[order]
    if t.size < 2 or np.any(np.diff(t) == 0):
        raise NCAError("Bailer's method needs at least 2 distinct time points")
    added = bool(zero_at_start and t[0] > 0)
    if added:
        t, mean, sd, n = (np.concatenate([[v], x]) for v, x in ((0.0, t), (0.0, mean), (0.0, sd), (1.0, n)))
    w = trapezoid_weights(t)
    auc = float(np.sum(w * mean))
    var = float(np.sum(w**2 * sd**2 / n))
    note = "" if math.isfinite(var) else "SE not available: a time point has no SD or no n (a single animal?)"
    se = math.sqrt(var) if math.isfinite(var) else math.nan
    return BailerResult(conc_unit, t, mean, sd, n, w, auc, var, se, auc - Z_95 * se, auc + Z_95 * se, added, note)


def bailer_from_frame(frame: pd.DataFrame, column: str, **kwargs) -> BailerResult:
    """Bailer's method on individual animals (one per time point and matrix): mean, SD, n per time."""
    curve = mean_curve(frame, column)
    return bailer(curve["time_h"], curve["mean"], curve["sd"], curve["n"], **kwargs)


@dataclass
class SparseNCA:
    """Sparse sampling: Bailer's AUC and SE, and the NCA of the mean curve (naive pooled)."""

    bailer: BailerResult
    mean: NCAResult
    mean_curve: pd.DataFrame
    points: pd.DataFrame | None = None  # time_h, value of each animal (None for group means)

    def to_frame(self) -> pd.DataFrame:
        row = self.mean.to_frame()
        for k in ("auc_0_tlast", "se", "ci95_low", "ci95_high"):
            row[f"bailer_{k}"] = getattr(self.bailer, k)
        return row


def sparse_nca(frame: pd.DataFrame, column: str, **kwargs) -> SparseNCA:
    """Bailer's method plus the NCA of the mean curve for destructive sampling (one animal per time)."""
    result = sparse_nca_from_curve(mean_curve(frame, column), **kwargs)
    result.points = frame[["time_h", column]].rename(columns={column: "value"}).reset_index(drop=True)
    return result


def sparse_nca_from_curve(curve: pd.DataFrame, *, conc_unit: str = "%ID/mL", iv_bolus: bool = True,
                          **kwargs) -> SparseNCA:
    """The same from a mean curve (columns time_h, mean, sd, n), e.g. group means reported with SD and n."""
    b = bailer(curve["time_h"], curve["mean"], curve["sd"], curve["n"], conc_unit=conc_unit, zero_at_start=not iv_bolus)
    mean = nca(curve["time_h"], curve["mean"], conc_unit=conc_unit, iv_bolus=iv_bolus, label="mean", **kwargs)
    return SparseNCA(b, mean, curve.reset_index(drop=True))


# ------------------------------------------------------------------------------------------------
# a lab data file: pick the matrix, the concentration and the design
# ------------------------------------------------------------------------------------------------
#: concentration columns of LabData.frame tried in order (blood-like matrices, tissues)
BLOOD_COLUMNS = (("conc_per_mL", "sd_conc_per_mL", "%ID/mL"), ("pct_id", "sd_pct_id", "%ID"))
TISSUE_COLUMNS = (("pct_id_per_g", "sd_pct_id_per_g", "%ID/g"), ("pct_id", "sd_pct_id", "%ID"))
DOSE_PCT_ID = 100.0


@dataclass
class GroupNCA:
    """The NCA of one group's matrix: design 'serial', 'sparse' or 'summary' (group means with SD, n)."""

    group: str
    matrix: str
    design: str
    conc_unit: str
    result: "SerialNCA | SparseNCA"

    def to_frame(self) -> pd.DataFrame:
        table = self.result.to_frame()
        table.insert(0, "design", self.design)
        table.insert(0, "matrix", self.matrix)
        table.insert(0, "group", self.group)
        return table


def analyse(data, matrix: str | None = None, method: str = DEFAULT_METHOD) -> list[GroupNCA]:
    """NCA of one matrix of a LabData (default blood, else plasma/serum), per group.

    Blood-like matrices: concentration in %ID/mL, IV bolus, dose 100 %ID (CL in mL/h, Vss in mL).
    Tissues: %ID/g (or %ID without organ masses), C(0) = 0, no CL/Vss."""
    from nanocloak.lab.labdata import BLOOD_MATRICES, LabDataError, canonical_matrix

    _check_method(method)
    chosen = _choose_matrix(data, matrix, canonical_matrix, LabDataError)
    blood = chosen in BLOOD_MATRICES
    results = []
    result: SerialNCA | SparseNCA
    for group in data.groups:
        rows = data.select(chosen, group)
        if rows.empty:
            continue
        column, sd_column, unit = _concentration(rows, BLOOD_COLUMNS if blood else TISSUE_COLUMNS, chosen, data.source)
        dose = DOSE_PCT_ID if blood and unit == "%ID/mL" else None
        options: dict[str, Any] = dict(conc_unit=unit, iv_bolus=blood, method=method)
        label = f"group {group!r}: " if group else ""
        try:
            if rows[sd_column].notna().all():
                curve = pd.DataFrame({"time_h": rows["time_h"], "mean": rows[column], "sd": rows[sd_column],
                                      "n": rows["n"]}).sort_values("time_h")
                design, result = "summary", sparse_nca_from_curve(curve, dose=dose, **options)
            elif rows.groupby("animal")["time_h"].nunique().max() > 1:
                design, result = "serial", serial_nca(rows, column, dose=dose, **options)
            else:
                design, result = "sparse", sparse_nca(rows, column, dose=dose, **options)
        except NCAError as exc:
            raise NCAError(f"{data.source}: {label}{chosen}: {exc}") from None
        results.append(GroupNCA(group, chosen, design, unit, result))
    return results


def _choose_matrix(data, matrix, canonical_matrix, error) -> str:
    present = data.matrices
    if matrix is None:
        for m in ("blood", "plasma", "serum"):
            if m in present:
                return m
        raise error(f"{data.source}: no blood, plasma or serum rows; choose a matrix with --matrix "
                    f"({', '.join(present)})")
    name = canonical_matrix(matrix)
    if name is None:
        from nanocloak.errors import did_you_mean
        from nanocloak.lab.labdata import MATRICES

        raise error(f"unknown matrix {matrix!r}{did_you_mean(str(matrix).lower(), present + list(MATRICES))}; "
                    f"the file has {', '.join(present)}")
    if name not in present:
        raise error(f"{data.source}: no rows for matrix {name!r}; the file has {', '.join(present)}")
    return name


def _concentration(rows: pd.DataFrame, options, matrix: str, source: str) -> tuple[str, str, str]:
    for column, sd_column, unit in options:
        if rows[column].notna().all():
            return column, sd_column, unit
    raise NCAError(f"{source}: {matrix}: the values cannot all be expressed as {' or '.join(o[2] for o in options)}; "
                   "add organ_mass_g (blood: volume in mL) or give --formulation")
