"""Release-kinetics analysis of lab data: fitting the release library, comparing profiles, and
predicting a formulation's release in vitro.

Conventions (stated in every output):
- least squares on the mean cumulative % released (replicates averaged; their SD reported);
- Korsmeyer-Peppas models are fitted on the points with <= 60% released only (Korsmeyer 1983);
- AIC = n ln(SSR) + 2p and MSC = ln(SS_tot / SSR) - 2p/n (Zhang Y et al. 2010 AAPS J 12:263,
  DDSolver); models ranked by AIC, ties by MSC; AIC only compares fits of the same points, so the
  Korsmeyer-Peppas fits (60% window) are ranked after the full-profile fits;
- 95% confidence intervals from the asymptotic covariance s^2 (J^T J)^-1 and Student's t;
- f1, f2 as in Moore JW & Flanner HH 1996 (Pharm Tech 20:64) and the FDA dissolution guidance
  (1997): only one time point above 85% release is used; bootstrap f2 (Shah VP et al. 1998,
  Pharm Res 15:889) resamples replicate units, similar if the 5th percentile of f2 is >= 50.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import least_squares

from nanocloak.errors import NanocloakError
from nanocloak.library import release_laws as release_models

KP_WINDOW_PCT = 60.0
NOISE_ALLOWANCE_PCT = 5.0        # released % may exceed 100 by assay noise, not more
MIN_POINTS = 3                   # a release law has 1-4 parameters: fewer points fit nothing
MAX_TIME_H = 24.0 * 365 * 10     # a release study lasting more than ten years is a unit mistake
TIME_UNITS_H = {"h": 1.0, "hr": 1.0, "hour": 1.0, "hours": 1.0, "min": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60,
                "s": 1 / 3600, "sec": 1 / 3600, "d": 24.0, "day": 24.0, "days": 24.0}


class ReleaseDataError(NanocloakError):
    """A release data file that cannot be analysed."""


@dataclass
class ReleaseData:
    name: str
    t_h: np.ndarray
    mean_pct: np.ndarray
    sd_pct: np.ndarray | None
    replicates_pct: np.ndarray | None   # (n_times, n_units)
    warnings: tuple[str, ...] = ()
    source: str = ""        # the file it was read from (named in errors)


# ------------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------------
def _time_unit(header: str) -> str | None:
    h = header.strip().lower()
    m = re.search(r"(?:^time|^t)[\s_\(\[]*([a-z]+)", h)
    if m and m.group(1) in TIME_UNITS_H:
        return m.group(1)
    return None


def read_release_data(path: str | Path, time_unit: str | None = None, fraction: bool = False) -> ReleaseData:
    """CSV or XLSX: a time column (unit in the header, e.g. time_h, 'time (min)', or --time-unit),
    then one column of cumulative % released, or several replicate columns, optionally an SD column."""
    p = Path(path)
    if not p.exists():
        raise ReleaseDataError(f"{p}: file not found")
    if p.is_dir():
        raise ReleaseDataError(f"{p}: is a folder, not a data file")
    df = _read_table(p)
    if df.shape[1] < 2:
        raise ReleaseDataError(f"{p}: needs a time column and at least one release column")
    if df.dropna(how="all").empty:
        raise ReleaseDataError(f"{p}: no data rows (only a header)")
    cols = list(df.columns)
    unit = time_unit or _time_unit(str(cols[0]))
    if unit is None:
        raise ReleaseDataError(f"{p}: the time column {cols[0]!r} does not say its unit; name it time_h / time_min / "
                               "time_d or pass --time-unit")
    if unit not in TIME_UNITS_H:
        raise ReleaseDataError(f"time unit {unit!r} not understood; use one of h, min, s, d")
    try:
        data = df.apply(pd.to_numeric, errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError):
        raise ReleaseDataError(f"{p}: every cell must be a number (check for text or units in the body)") from None
    data = data[~np.all(np.isnan(data), axis=1)]
    if not np.isfinite(data[~np.isnan(data)]).all():
        raise ReleaseDataError(f"{p}: a value is infinite")
    t = data[:, 0] * TIME_UNITS_H[unit]
    sd_cols = [i for i, c in enumerate(cols) if i > 0 and re.search(r"\bsd\b|^sd|std", str(c).lower())]
    value_cols = [i for i in range(1, len(cols)) if i not in sd_cols]
    values = data[:, value_cols] * (100.0 if fraction else 1.0)
    sd = data[:, sd_cols[0]] * (100.0 if fraction else 1.0) if sd_cols else None
    if np.isnan(t).any() or np.isnan(values).all(axis=1).any():
        raise ReleaseDataError(f"{p}: missing time or release values")
    if np.any(np.diff(t) <= 0):
        bad = int(np.argmax(np.diff(t) <= 0)) + 1
        raise ReleaseDataError(f"{p}: time must increase row by row (row {bad + 2} repeats or goes back)")
    if np.nanmax(values) > 100.0 + NOISE_ALLOWANCE_PCT:
        raise ReleaseDataError(f"{p}: {np.nanmax(values):.4g}% released is above 100% beyond assay noise "
                               f"(allowed up to {100 + NOISE_ALLOWANCE_PCT:g}%); fractions? pass --fraction")
    if np.nanmin(values) < -NOISE_ALLOWANCE_PCT:
        raise ReleaseDataError(f"{p}: negative release values")
    if t.min() < 0 or t.max() > MAX_TIME_H:
        raise ReleaseDataError(f"{p}: times must lie within 0..{MAX_TIME_H:g} h (got {t.min():g}..{t.max():g} h); "
                               "check the time unit")
    mean = np.nanmean(values, axis=1)
    if np.ptp(mean) <= NOISE_ALLOWANCE_PCT:
        raise ReleaseDataError(f"{p}: the release values hardly change ({mean.min():.3g}..{mean.max():.3g}%, within "
                               f"the {NOISE_ALLOWANCE_PCT:g}-point assay noise): no release law can be fitted to a flat profile")
    replicates = values if values.shape[1] > 1 else None
    if sd is None and replicates is not None:
        sd = np.nanstd(values, axis=1, ddof=1)
    return ReleaseData(p.stem, t, mean, sd, replicates, _monotonic_warnings(p, t, mean), str(p))


def _monotonic_warnings(p: Path, t: np.ndarray, mean: np.ndarray) -> tuple[str, ...]:
    """Cumulative release cannot fall: a fall beyond assay noise is refused, a smaller one stated."""
    running_max = np.maximum.accumulate(mean)
    drop = running_max - mean
    worst = int(np.argmax(drop))
    if drop[worst] > 2 * NOISE_ALLOWANCE_PCT:
        raise ReleaseDataError(f"{p}: cumulative release falls from {running_max[worst]:.3g}% to {mean[worst]:.3g}% "
                               f"(at {t[worst]:g} h); cumulative data never decrease. If the column is drug remaining, "
                               "give 100 - remaining")
    if drop[worst] > 0:
        return (f"cumulative release dips by {drop[worst]:.2g} points at {t[worst]:g} h (within assay noise); "
                "fitted as given",)
    return ()


def _read_table(p: Path) -> pd.DataFrame:
    """CSV (comma, semicolon or tab separated; decimal point or comma) or Excel."""
    try:
        if p.suffix.lower() in (".xlsx", ".xls"):
            return pd.read_excel(p)
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReleaseDataError(f"{p}: not a UTF-8 text file; save the table as UTF-8 CSV or XLSX") from None
    except Exception as exc:  # the Excel reader raises many types for malformed files
        raise ReleaseDataError(f"{p}: cannot read as a table ({type(exc).__name__}: {exc})") from None
    import csv
    import io

    if not text.strip():
        raise ReleaseDataError(f"{p}: the file is empty")
    first = text.splitlines()[0]
    sep = ";" if first.count(";") > first.count(",") else "\t" if first.count("\t") > first.count(",") else ","
    decimal = "," if sep != "," and re.search(r"\d,\d", text) else "."
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal, quoting=csv.QUOTE_MINIMAL)
    except Exception as exc:  # pandas' parser raises several types for ragged files
        raise ReleaseDataError(f"{p}: cannot read as a table ({type(exc).__name__}: {exc})") from None


# ------------------------------------------------------------------------------------------------
# fitting
# ------------------------------------------------------------------------------------------------
@dataclass
class FitResult:
    model: str
    params: dict[str, float]
    ci95: dict[str, tuple[float, float]]
    n: int
    r2: float
    r2_adjusted: float
    aic: float
    msc: float
    ssr: float
    note: str = ""

    def release_block(self) -> str:
        """The formulation's release: block for this model (copy-paste ready)."""
        params = ", ".join(f"{k}: {v:.6g}" for k, v in self.params.items())
        return f"release:\n  model: {self.model}\n  params: {{{params}}}\n"


def _initial_guesses(model: release_models.ReleaseModel, t: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
    """A few starting points per model: scales from the data (half-release time, final value)."""
    t_pos = t[t > 0]
    t_half = float(np.interp(min(50.0, y.max() * 0.5), y, t)) if y.max() > 0 else float(np.median(t_pos))
    t_half = max(t_half, 1e-3)
    guesses = []
    for scale in (0.3, 1.0, 3.0):
        g = {}
        for p in model.parameters:
            name = p.name
            if name in ("k_per_h", "khc_per_h", "khb_per_h", "kbl_per_h", "k2_per_h"):
                g[name] = scale * math.log(2) / t_half
            elif name in ("td_h",):
                g[name] = scale * t_half
            elif name == "tlag_h":
                g[name] = 0.1 * float(t_pos.min()) if t_pos.size else 0.0
            elif name == "f0_pct":
                g[name] = max(min(float(y[0]), 50.0), 0.0)
            elif name == "fmax_pct":
                g[name] = min(max(float(y.max()) * 1.05, 1.0), 100.0)
            elif name in ("n", "m", "beta"):
                g[name] = {"n": 0.5, "m": 0.45, "beta": 1.0}[name] * (1.0 if scale == 1.0 else scale ** 0.3)
            elif name == "alpha":
                g[name] = -math.log(t_half) if model.name.startswith(("logistic", "probit")) else t_half
            elif name == "k1_per_h2":
                g[name] = 0.0
            elif name.startswith(("k0", "kh", "kkp", "kmb", "k1_pct", "k2_pct")):
                g[name] = scale * max(float(y.max()), 1.0) / max(float(t.max()), 1e-6) ** (0.5 if "sqrt" in name else 1.0)
            else:
                g[name] = 1.0
            g[name] = float(np.clip(g[name], p.lower, p.upper))
        guesses.append(g)
    return guesses


def fit_model(name: str, t: np.ndarray, y: np.ndarray) -> FitResult:
    model = release_models.get(name)
    note = ""
    if model.name.startswith("korsmeyer_peppas"):
        keep = y <= KP_WINDOW_PCT
        t, y = t[keep], y[keep]
        note = f"fitted on the {keep.sum()} points with <= {KP_WINDOW_PCT:g}% released (Korsmeyer 1983)"
    names = model.parameter_names
    p_count = len(names)
    n = int(t.size)
    if n <= p_count:
        raise ReleaseDataError(f"{name}: {n} points for {p_count} parameters; needs at least {p_count + 1}")
    lower = np.array([p.lower for p in model.parameters])
    upper = np.array([p.upper for p in model.parameters])

    def residuals(v):
        return model.cumulative_pct(t, dict(zip(names, v))) - y

    best = None
    for guess in _initial_guesses(model, t, y):
        x0 = np.clip([guess[k] for k in names], lower + 1e-12 * (upper - lower), upper - 1e-12 * (upper - lower))
        try:
            sol = least_squares(residuals, x0, bounds=(lower, upper), method="trf", max_nfev=2000)
        except ValueError:
            continue
        if best is None or sol.cost < best.cost:
            best = sol
    if best is None:
        raise ReleaseDataError(f"{name}: the fit did not converge")
    ssr = float(2 * best.cost)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - ssr / ss_tot if ss_tot > 0 else float("nan")
    r2_adj = 1 - (1 - r2) * (n - 1) / (n - p_count) if n > p_count else float("nan")
    ssr_floor = max(ssr, 1e-12)
    aic = n * math.log(ssr_floor) + 2 * p_count
    msc = math.log(ss_tot / ssr_floor) - 2 * p_count / n if ss_tot > 0 else float("nan")
    ci = _confidence_intervals(best, names, ssr, n, p_count)
    return FitResult(name, dict(zip(names, map(float, best.x))), ci, n, r2, r2_adj, aic, msc, ssr, note)


def _confidence_intervals(sol, names, ssr, n, p_count) -> dict[str, tuple[float, float]]:
    jac = sol.jac
    dof = n - p_count
    try:
        cov = np.linalg.pinv(jac.T @ jac) * ssr / dof
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    except np.linalg.LinAlgError:
        se = np.full(p_count, np.nan)
    t_crit = stats.t.ppf(0.975, dof)
    return {k: (float(v - t_crit * s), float(v + t_crit * s)) for k, v, s in zip(names, sol.x, se)}


def fit_all(data: ReleaseData, models: list[str] | None = None) -> tuple[list[FitResult], list[str]]:
    """Fit the chosen (or every) model; returns fits ranked by AIC (then MSC) and skipped models."""
    if data.t_h.size < MIN_POINTS:
        raise ReleaseDataError(f"{data.source or data.name}: {data.t_h.size} time point(s); fitting a release law "
                               f"needs at least {MIN_POINTS}")
    names = models or list(release_models.RELEASE_MODELS)
    fits, skipped = [], []
    for name in names:
        try:
            fit = fit_model(name, data.t_h, data.mean_pct)
        except ReleaseDataError as exc:
            skipped.append(str(exc))
            continue
        if not (math.isfinite(fit.aic) and math.isfinite(fit.r2)):  # never rank a fit built on NaN
            skipped.append(f"{name}: the fit is degenerate (non-finite R2 or AIC)")
            continue
        fits.append(fit)
    if not fits:
        raise ReleaseDataError("no model could be fitted: " + "; ".join(skipped[:3]))
    # AIC compares fits of the same points: Korsmeyer-Peppas fits (<= 60% window) rank after the rest
    fits.sort(key=lambda f: (bool(f.note), f.aic, -f.msc if math.isfinite(f.msc) else 0.0))
    return fits, skipped


def fit_table(fits: list[FitResult]) -> pd.DataFrame:
    rows = []
    for rank, f in enumerate(fits, 1):
        params = "; ".join(f"{k} = {v:.4g} [{f.ci95[k][0]:.3g}, {f.ci95[k][1]:.3g}]" for k, v in f.params.items())
        rows.append({"rank": rank, "model": f.model, "params (95% CI)": params, "R2": f.r2, "R2_adj": f.r2_adjusted,
                     "AIC": f.aic, "MSC": f.msc, "n": f.n, "note": f.note})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# comparing profiles
# ------------------------------------------------------------------------------------------------
#: FDA dissolution guidance (1997): f1/f2 use one time point at most past this release (%)
F2_LAST_POINT_RELEASE_PCT = 85.0


def _comparison_points(ref: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Indices used for f1/f2: every point up to and including the first where both exceed 85%."""
    cut = F2_LAST_POINT_RELEASE_PCT
    above = np.flatnonzero((ref > cut) & (test > cut))
    last = int(above[0]) if above.size else ref.size - 1
    return np.arange(last + 1)


def f1(ref: np.ndarray, test: np.ndarray) -> float:
    """Difference factor: 100 sum|R - T| / sum R (Moore & Flanner 1996)."""
    return float(100.0 * np.sum(np.abs(ref - test)) / np.sum(ref))


def f2(ref: np.ndarray, test: np.ndarray) -> float:
    """Similarity factor: 50 log10(100 / sqrt(1 + mean (R - T)^2)) (Moore & Flanner 1996)."""
    return float(50.0 * math.log10(100.0 / math.sqrt(1.0 + np.mean((ref - test) ** 2))))


@dataclass
class Comparison:
    f1: float
    f2: float
    n_points: int
    bootstrap_f2_median: float | None
    bootstrap_f2_ci90: tuple[float, float] | None
    verdict: str


def compare(ref: ReleaseData, test: ReleaseData, n_boot: int = 2000, seed: int = 0) -> Comparison:
    if ref.t_h.size != test.t_h.size or not np.allclose(ref.t_h, test.t_h):
        raise ReleaseDataError("the two profiles must be sampled at the same times for f1/f2")
    idx = _comparison_points(ref.mean_pct, test.mean_pct)
    if idx.size < 3:
        raise ReleaseDataError(f"f1/f2 need at least 3 time points before both profiles pass {F2_LAST_POINT_RELEASE_PCT:g}%")
    r, t = ref.mean_pct[idx], test.mean_pct[idx]
    v1, v2 = f1(r, t), f2(r, t)
    boot_median, boot_ci = None, None
    if ref.replicates_pct is not None and test.replicates_pct is not None:
        rng = np.random.default_rng(seed)
        ru, tu = ref.replicates_pct[idx], test.replicates_pct[idx]
        values = np.empty(n_boot)
        for b in range(n_boot):
            rr = ru[:, rng.integers(0, ru.shape[1], ru.shape[1])].mean(axis=1)
            tt = tu[:, rng.integers(0, tu.shape[1], tu.shape[1])].mean(axis=1)
            values[b] = f2(rr, tt)
        boot_median = float(np.median(values))
        boot_ci = (float(np.percentile(values, 5)), float(np.percentile(values, 95)))
    similar = v2 >= 50.0 and v1 <= 15.0 and (boot_ci is None or boot_ci[0] >= 50.0)
    basis = "f2 >= 50, f1 <= 15" + (", bootstrap f2 5th percentile >= 50" if boot_ci else " (no replicates: no bootstrap)")
    verdict = ("similar" if similar else "not similar") + f" ({basis}; FDA 1997 guidance)"
    return Comparison(v1, v2, int(idx.size), boot_median, boot_ci, verdict)


# ------------------------------------------------------------------------------------------------
# in vitro release of a formulation
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InVitroConditions:
    ph: float = 7.4
    temperature_C: float = 37.0
    ros_relative: float = 1.0
    gsh_relative: float = 1.0
    enzyme_relative: float = 1.0
    light_windows_h: tuple[tuple[float, float], ...] = ()
    ultrasound_windows_h: tuple[tuple[float, float], ...] = ()


def simulate_in_vitro(release, conditions: InVitroConditions, hours: float, n_points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative % released under sink conditions: dF/dt = g(F) x active triggers' factors."""
    from scipy.integrate import solve_ivp

    from nanocloak.model.release_in_body import physical_multiplier, release_rate

    rate = release_rate(release)
    triggers = release.triggers if release is not None else []
    chem = 1.0
    for trig in triggers:
        level = {"ros": conditions.ros_relative, "gsh": conditions.gsh_relative, "enzyme": conditions.enzyme_relative}
        if trig.kind == "ph" and conditions.ph <= trig.threshold:
            chem *= trig.factor
        elif trig.kind in level and level[trig.kind] >= trig.threshold:
            chem *= trig.factor
    edges = sorted({x for w in conditions.light_windows_h + conditions.ultrasound_windows_h for x in w if 0 < x < hours}
                   | ({rate.lag_h} if 0 < rate.lag_h < hours else set()))
    t_out = np.linspace(0.0, hours, n_points)
    f_out = np.full(n_points, rate.burst)
    bounds = [0.0] + edges + [hours]
    f = rate.burst
    for a, b in zip(bounds[:-1], bounds[1:]):
        mid = 0.5 * (a + b)
        lit = any(s <= mid < e for s, e in conditions.light_windows_h)
        son = any(s <= mid < e for s, e in conditions.ultrasound_windows_h)
        m = chem * physical_multiplier(triggers, lit, conditions.temperature_C, son) if mid >= rate.lag_h else 0.0
        sel = (t_out > a) & (t_out <= b)
        sol = solve_ivp(lambda _t, y: rate.rate(y) * m,  # noqa: B023 (solved within the iteration)
                        (a, b), [f], t_eval=np.unique(np.r_[t_out[sel], b]), rtol=1e-8, atol=1e-10, method="LSODA")
        f_seg = np.clip(sol.y[0], 0.0, 1.0)
        if sel.any():
            f_out[sel] = f_seg[np.searchsorted(sol.t, t_out[sel])]
        f = float(f_seg[-1])
    return t_out, 100.0 * f_out


def parse_windows(specs: list[str]) -> tuple[tuple[float, float], ...]:
    """'at_h=1,duration_min=10' (repeatable) -> ((1, 1.1667), ...)."""
    out = []
    for spec in specs:
        try:
            kv = dict(item.split("=", 1) for item in spec.replace(" ", "").split(",") if item)
            start = float(kv["at_h"])
            out.append((start, start + float(kv["duration_min"]) / 60.0))
        except (KeyError, ValueError):
            raise NanocloakError(f"--laser/--ultrasound {spec!r}: write at_h=NUMBER,duration_min=NUMBER") from None
    return tuple(out)
