"""Lab data import: blood time courses, organ biodistribution and tumor time courses (docs/lab_data.md).

A tidy CSV or XLSX, one row per measurement: `animal`, a time column (`time_h`, `time_min`, `time_d` ...
or `time` + `time_unit`), `matrix` (blood, plasma, liver ...), `value`, `unit` (%ID, %ID/g, %ID/mL,
ug/g, ug/mL, ng/mL, mg/L ...); optional `organ_mass_g`, `dose_ug`, `sd`, `n`, `group`.

Every row is expressed as %ID in the whole organ (`pct_id`), %ID per gram (`pct_id_per_g`) and, for
blood/plasma/serum, %ID per mL (`conc_per_mL`), as far as the organ masses, blood volume and dose
allow; what cannot be converted is NaN. Organ masses and blood volume come from `organ_mass_g` or from
the formulation's subject (nanocloak physiology, density 1 g/mL); the dose from `dose_ug`, the
`dose_ug` argument or the formulation (dose.mg_per_kg x body weight, one administration).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError, did_you_mean

#: canonical matrix names; blood-like matrices carry a concentration per mL
MATRICES = ("blood", "plasma", "serum", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "muscle",
            "bone", "bone_marrow", "skin", "fat", "stomach", "intestine", "pancreas", "lymph_node", "carcass",
            "urine", "feces")
BLOOD_MATRICES = ("blood", "plasma", "serum")
PLASMA_MATRICES = ("plasma", "serum")
#: written names -> canonical (after lower-casing and turning spaces/dashes into '_')
MATRIX_SYNONYMS = {
    "whole_blood": "blood", "wb": "blood", "blood_sample": "blood", "hepatic": "liver", "splenic": "spleen",
    "lungs": "lung", "pulmonary": "lung", "kidneys": "kidney", "renal": "kidney", "cardiac": "heart",
    "tumour": "tumor", "tumors": "tumor", "tumours": "tumor", "skeletal_muscle": "muscle", "adipose": "fat",
    "adipose_tissue": "fat", "gut": "intestine", "intestines": "intestine", "small_intestine": "intestine",
    "large_intestine": "intestine", "colon": "intestine", "marrow": "bone_marrow", "lymph_nodes": "lymph_node",
    "ln": "lymph_node", "faeces": "feces", "stool": "feces", "bones": "bone", "femur": "bone",
}
#: column names accepted for each required/optional column (after normalising the header)
COLUMN_SYNONYMS = {
    "animal": ("animal", "animal_id", "mouse", "rat", "subject", "id"),
    "matrix": ("matrix", "organ", "tissue", "sample"),
    "value": ("value", "concentration", "conc"),
    "unit": ("unit", "units"),
    "organ_mass_g": ("organ_mass_g", "mass_g", "tissue_mass_g", "organ_weight_g"),
    "dose_ug": ("dose_ug",),
    "sd": ("sd", "std", "stdev"),
    "n": ("n", "n_animals"),
    "group": ("group",),
    "time_unit": ("time_unit",),
}
REQUIRED = ("animal", "matrix", "value", "unit")
#: matrices whose mass (volume) a formulation's subject gives (nanocloak physiology)
FORMULATION_MASSES = ("blood", "plasma", "serum", "lung", "heart", "liver", "spleen", "kidney", "brain", "muscle",
                      "tumor")
UNIT_EXAMPLES = ("%ID", "%ID/g", "%ID/mL", "ug", "ug/g", "ug/mL", "ng/g", "ng/mL", "mg/L", "mg/kg")
MAX_ROWS_LISTED = 5
MAX_TIME_H = 24.0 * 365 * 5      # a pharmacokinetic study over five years is a unit mistake
MAX_PCT_ID = 1000.0              # %ID of one dose in one matrix: even 10 doses give at most 1000
MAX_RAW_VALUE = 1e9              # beyond any assay's range in any unit the importer accepts


class LabDataError(NanocloakError):
    """A lab data file that cannot be read; the message names the file, rows and column."""


# ------------------------------------------------------------------------------------------------
# units and names at the edge
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValueUnit:
    """What a `unit` cell means: an amount (%ID or ug) in the whole matrix, per g or per mL."""

    amount: str      # "pct_id" or "ug"
    per: str | None  # None (whole organ / whole sample), "g" or "mL"
    factor: float    # multiply the value by this to get %ID or ug (per g or per mL)


def _pint():
    from nanocloak.spec.fields import units  # one shared pint registry (building one takes ~0.3 s)

    return units()


_PCT_ID = re.compile(r"^(?:%id|%i\.d\.|%injecteddose|%dose|pctid|percentid)")


@lru_cache(maxsize=256)
def parse_unit(text: str) -> ValueUnit:
    """'%ID/g', 'ug/mL', 'ng/g tissue', 'mg/L' ... -> ValueUnit; raises ValueError if not understood."""
    s = str(text).strip().lower().replace(" ", "").replace("µ", "u").replace("μ", "u").replace("mcg", "ug")
    s = re.sub(r"(tissue|wet|wetweight)$", "", s)
    match = _PCT_ID.match(s)
    if match:
        amount, factor, rest = "pct_id", 1.0, s[match.end():]
    else:
        numerator, _, rest = s.partition("/")
        amount, factor = "ug", _to(numerator, "ug", "[mass]")
        rest = "/" + rest if rest else ""
    if rest in ("", "/organ", "/total", "/wholeorgan"):
        return ValueUnit(amount, None, factor)
    if not rest.startswith("/"):
        raise ValueError(text)
    denominator = rest[1:]
    ureg = _pint()
    dims = ureg.Quantity(1, denominator).dimensionality if _parses(denominator) else None
    if dims == ureg.Quantity(1, "g").dimensionality:
        return ValueUnit(amount, "g", factor / _to(denominator, "g", "[mass]"))
    if dims == ureg.Quantity(1, "mL").dimensionality:
        return ValueUnit(amount, "mL", factor / _to(denominator, "mL", "[length] ** 3"))
    raise ValueError(text)


def _parses(unit: str) -> bool:
    try:
        _pint().Quantity(1, unit)
        return True
    except Exception:  # pint raises several types for text that is not a unit
        return False


def _to(unit: str, target: str, dimension: str) -> float:
    """Magnitude of 1 `unit` in `target`; ValueError if `unit` is not of that dimension."""
    if not unit or not _parses(unit):
        raise ValueError(unit)
    q = _pint().Quantity(1, unit)
    if str(q.dimensionality) != dimension:
        raise ValueError(unit)
    return float(q.to(target).magnitude)


@lru_cache(maxsize=64)
def hours_per(unit: str) -> float:
    """Hours in one `unit` ('h', 'min', 'd', 'hours' ...); ValueError if it is not a time unit."""
    return _to(str(unit).strip(), "hour", "[time]")


def canonical_matrix(text: str) -> str | None:
    key = re.sub(r"[\s\-]+", "_", str(text).strip().lower())
    if key in MATRICES:
        return key
    return MATRIX_SYNONYMS.get(key)


def _normalise_header(name: object) -> str:
    return re.sub(r"[^a-z0-9%]+", "_", str(name).strip().lower()).strip("_")


# ------------------------------------------------------------------------------------------------
# reference body: organ masses, blood volume, dose
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """The animal the conversions assume when the file does not say."""

    organ_mass_g: dict[str, float] = field(default_factory=dict)
    blood_volume_mL: float = math.nan
    hematocrit: float = math.nan
    dose_ug: float = math.nan


def reference_from_formulation(formulation) -> Reference:
    """Organ masses (tumor included), blood volume and hematocrit of the formulation's subject, as the
    model resolves them (model.overrides apply), and the dose of one administration in ug."""
    from nanocloak.simulation.core import resolve_formulation as resolve

    r = resolve(formulation, describe=False)
    bw_g = formulation.subject.body_weight_g
    dose_ug = formulation.dose.mg_per_kg * bw_g  # mg/kg x g = ug
    return Reference(dict(r.organ_masses_g), r.params["blood_volume_L"] * 1000.0, r.physiology.hematocrit, dose_ug)


# ------------------------------------------------------------------------------------------------
# the result
# ------------------------------------------------------------------------------------------------
@dataclass
class LabData:
    """One lab data file: `frame` has one row per measurement (see load_lab_data)."""

    frame: pd.DataFrame
    sampling: str          # "serial" (several times per animal) or "sparse" (one time per animal)
    source: str
    doses: pd.DataFrame | None = None   # group, animal, time_h, dose_ug when the source lists doses (SEND EX)
    notes: list[str] = field(default_factory=list)  # what the reader left out and why

    @property
    def matrices(self) -> list[str]:
        return list(dict.fromkeys(self.frame["matrix"]))

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(self.frame["group"]))

    def select(self, matrix: str, group: str | None = None) -> pd.DataFrame:
        rows = self.frame[self.frame["matrix"] == matrix]
        return rows if group is None else rows[rows["group"] == group]


# ------------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------------
def load_lab_data(path: str | Path, formulation=None, *, dose_ug: float | None = None,
                  require_pct_id: bool = False) -> LabData:
    """Read a lab data file (CSV or XLSX) and convert every row to %ID, %ID/g and %ID/mL.

    formulation: optional nanocloak Formulation giving organ masses, blood volume and dose.
    dose_ug: dose per animal in ug for rows without a `dose_ug` cell (replaces the formulation's).
    require_pct_id: raise if a row cannot be expressed as %ID in the whole organ (missing mass/dose).

    frame columns: row (line in the file), group ("" if none), animal, time_h, matrix, value, unit, sd, n,
    organ_mass_g (g; blood, plasma: the blood or plasma volume in mL), dose_ug (those used), pct_id, pct_id_per_g,
    conc_per_mL, sd_pct_id, sd_pct_id_per_g, sd_conc_per_mL."""
    return _from_sheet(_Sheet.read(Path(path)), formulation, dose_ug, require_pct_id)


def lab_data_from_frame(table: pd.DataFrame, source: str, lines=None, formulation=None, *,
                        dose_ug: float | None = None, require_pct_id: bool = False) -> LabData:
    """load_lab_data for a table already in memory, in the file format's columns (other readers, such
    as lab/send.py, build one); `lines` are the source's row numbers that messages name."""
    if table.empty:
        raise LabDataError(f"{source}: no data rows")
    rows = np.arange(len(table)) + 2 if lines is None else np.asarray(lines)
    return _from_sheet(_Sheet(table.reset_index(drop=True), rows, Path(source)), formulation, dose_ug, require_pct_id)


def _from_sheet(sheet: "_Sheet", formulation, dose_ug, require_pct_id) -> LabData:
    cols = _find_columns(sheet)
    reference = reference_from_formulation(formulation) if formulation is not None else Reference()
    if dose_ug is not None:
        if not (isinstance(dose_ug, (int, float)) and math.isfinite(dose_ug) and dose_ug > 0):
            raise LabDataError(f"dose_ug must be a positive number of micrograms, got {dose_ug!r}")
        reference = Reference(reference.organ_mass_g, reference.blood_volume_mL, reference.hematocrit, float(dose_ug))
    frame, units = _tidy(sheet, cols)
    _fill_masses_and_dose(frame, reference)
    frame = _convert(frame, units, sheet, require_pct_id)
    _check_duplicates(frame, sheet)
    return LabData(frame, detect_sampling(frame), str(sheet.path))


@dataclass
class _Sheet:
    """The raw table with the file line of each row, for messages that point at the right line."""

    df: pd.DataFrame
    lines: np.ndarray
    path: Path

    @classmethod
    def read(cls, p: Path) -> "_Sheet":
        if not p.exists():
            raise LabDataError(f"{p}: file not found")
        excel = p.suffix.lower() in (".xlsx", ".xlsm", ".xls")
        try:
            df = pd.read_excel(p) if excel else pd.read_csv(p, comment="#", skipinitialspace=True)
        except Exception as exc:  # the readers raise many types for malformed files
            raise LabDataError(f"{p}: cannot read as a table ({type(exc).__name__}: {exc})") from None
        lines = np.arange(len(df)) + 2 if excel else _csv_data_lines(p, len(df))
        keep = ~df.isna().all(axis=1).to_numpy()
        df, lines = df[keep].reset_index(drop=True), lines[keep]
        if df.empty:
            raise LabDataError(f"{p}: no data rows")
        return cls(df, lines, p)

    def rows(self, mask) -> str:
        """'row 3' / 'rows 3, 7' (file lines; the header is line 1) for a boolean mask over the rows."""
        lines = [str(n) for n in self.lines[np.asarray(mask, dtype=bool)]]
        more = len(lines) - MAX_ROWS_LISTED
        shown = ", ".join(lines[:MAX_ROWS_LISTED]) + (f" and {more} more" if more > 0 else "")
        return ("row " if len(lines) == 1 else "rows ") + shown

    def fail(self, mask, column: str | None, message: str) -> LabDataError:
        where = f", column {column!r}" if column else ""
        return LabDataError(f"{self.path}: {self.rows(mask)}{where}: {message}")

    def numbers(self, column: str, what: str, required: bool = True, positive: bool = False) -> np.ndarray:
        """A numeric column; errors name the rows: not a number, empty, negative (or zero when positive)."""
        text = self.df[column]
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        empty = text.isna().to_numpy()
        bad = (np.isnan(values) & ~empty) | np.isinf(values)
        if bad.any():
            examples = ", ".join(repr(v) for v in text[bad].astype(str).head(3))
            raise self.fail(bad, column, f"not a number ({examples}); {what}")
        if required and empty.any():
            raise self.fail(empty, column, f"empty; {what}")
        low = ((values <= 0) if positive else (values < 0)) & ~empty
        if low.any():
            raise self.fail(low, column, f"must be {'> 0' if positive else '>= 0'}; {what}")
        huge = values > MAX_RAW_VALUE
        if huge.any():
            raise self.fail(huge, column, f"{values[huge][0]:.4g} is beyond any plausible measurement (> "
                            f"{MAX_RAW_VALUE:g}); {what}")
        return values


def _csv_data_lines(p: Path, n_rows: int) -> np.ndarray:
    """File line of each data row: pandas skips blank and '#' lines, so count them back in."""
    try:
        text = p.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return np.arange(n_rows) + 2
    kept = [i + 1 for i, line in enumerate(text) if line.strip() and not line.lstrip().startswith("#")]
    data = kept[1:]
    return np.array(data) if len(data) == n_rows else np.arange(n_rows) + 2


def _find_columns(sheet: _Sheet) -> dict[str, str]:
    """Map our column names to the file's headers; the time column gets key 'time'."""
    df, p = sheet.df, sheet.path
    headers = {_normalise_header(c): c for c in df.columns}
    found: dict[str, str] = {}
    for name, options in COLUMN_SYNONYMS.items():
        for option in options:
            if option in headers:
                found[name] = headers[option]
                break
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        hints = "".join(did_you_mean(m, list(headers)) for m in missing)
        raise LabDataError(f"{p}: missing column(s) {', '.join(missing)}{hints}; the file has "
                           f"{', '.join(map(str, df.columns))} (required: animal, a time column, matrix, value, unit)")
    time_cols = [h for h in headers if re.fullmatch(r"(?:time|t)(?:_[a-z]+)?", h) and h != "time_unit"]
    if len(time_cols) != 1:
        what = "no time column" if not time_cols else f"several time columns ({', '.join(time_cols)})"
        raise LabDataError(f"{p}: {what}; give one: time_h, time_min, time_d (unit in the header) or time plus a "
                           "time_unit column")
    found["time"] = headers[time_cols[0]]
    return found


def _times_h(sheet: _Sheet, cols: dict[str, str]) -> np.ndarray:
    t = _times_in_hours(sheet, cols)
    late = t > MAX_TIME_H
    if late.any():
        raise sheet.fail(late, cols["time"], f"{t[late][0]:.4g} h is more than {MAX_TIME_H / 8760:g} years after "
                         "dosing; check the time unit")
    return t


def _times_in_hours(sheet: _Sheet, cols: dict[str, str]) -> np.ndarray:
    time_col = cols["time"]
    t = sheet.numbers(time_col, "times are numbers >= 0 (unit in the header or in a time_unit column)")
    header_unit = _normalise_header(time_col).partition("_")[2]
    if header_unit:
        try:
            return t * hours_per(header_unit)
        except ValueError:
            raise LabDataError(f"{sheet.path}: column {time_col!r}: time unit {header_unit!r} not understood; use "
                               "time_h, time_min, time_s or time_d") from None
    if "time_unit" not in cols:
        raise LabDataError(f"{sheet.path}: column {time_col!r} does not say its unit; rename it time_h / time_min / "
                           "time_d or add a time_unit column")
    factors = np.empty(len(t))
    for i, unit in enumerate(sheet.df[cols["time_unit"]].astype(str)):
        try:
            factors[i] = hours_per(unit)
        except ValueError:
            mask = np.arange(len(t)) == i
            raise sheet.fail(mask, cols["time_unit"], f"{unit!r} is not a time unit (h, min, s, d)") from None
    return t * factors


def _matrices(sheet: _Sheet, column: str) -> list[str]:
    names = []
    for i, text in enumerate(sheet.df[column]):
        name = canonical_matrix(text) if isinstance(text, str) else None
        if name is None:
            hint = did_you_mean(str(text).strip().lower(), list(MATRICES) + list(MATRIX_SYNONYMS))
            raise sheet.fail(np.arange(len(sheet.df)) == i, column,
                             f"unknown matrix {text!r}{hint}; known: {', '.join(MATRICES)}")
        names.append(name)
    return names


def _units_of(sheet: _Sheet, column: str) -> list[ValueUnit]:
    parsed = []
    for i, text in enumerate(sheet.df[column]):
        try:
            parsed.append(parse_unit(text if isinstance(text, str) else ""))
        except ValueError:
            hint = did_you_mean(str(text).strip(), list(UNIT_EXAMPLES))
            raise sheet.fail(np.arange(len(sheet.df)) == i, column,
                             f"unit {text!r} not understood{hint}; use %ID, %ID/g, %ID/mL or a mass (ug, ng, mg) "
                             "per organ, per g or per mL (e.g. ug/g, ng/mL, mg/L)") from None
    return parsed


def _optional(sheet: _Sheet, cols: dict[str, str], name: str, what: str, positive: bool = False):
    return sheet.numbers(cols[name], what, required=False, positive=positive) if name in cols else np.nan


def _tidy(sheet: _Sheet, cols: dict[str, str]) -> tuple[pd.DataFrame, list[ValueUnit]]:
    df = sheet.df
    for name in ("animal", "matrix", "unit"):
        empty = df[cols[name]].isna().to_numpy() | (df[cols[name]].astype(str).str.strip() == "").to_numpy()
        if empty.any():
            raise sheet.fail(empty, cols[name], f"empty; every row needs its {name}"
                             + (" (an id; 'mean' for group means)" if name == "animal" else ""))
    units = _units_of(sheet, cols["unit"])
    frame = pd.DataFrame({
        "row": sheet.lines,
        "group": df[cols["group"]].fillna("").astype(str).str.strip() if "group" in cols else "",
        "animal": df[cols["animal"]].astype(str).str.strip(),
        "time_h": _times_h(sheet, cols),
        "matrix": _matrices(sheet, cols["matrix"]),
        "value": sheet.numbers(cols["value"], "values are numbers >= 0 (write 0 below the limit of quantification)"),
        "unit": df[cols["unit"]].astype(str).str.strip(),
        "sd": _optional(sheet, cols, "sd", "sd is >= 0, in the row's unit"),
        "n": _optional(sheet, cols, "n", "n is the number of animals averaged in the row", positive=True),
        "organ_mass_g": _optional(sheet, cols, "organ_mass_g", "organ masses are in g, > 0", positive=True),
        "dose_ug": _optional(sheet, cols, "dose_ug", "doses are in ug per animal, > 0", positive=True),
    })
    return frame, units


def _fill_masses_and_dose(frame: pd.DataFrame, ref: Reference) -> None:
    """Fill organ masses (blood, plasma: their volume in mL, density 1) and doses from the reference."""
    # particles stay out of red cells: the plasma of a blood volume V is V (1 - hematocrit)
    plasma_mL = ref.blood_volume_mL * (1.0 - ref.hematocrit)
    default_mass = frame["matrix"].map(lambda m: plasma_mL if m in PLASMA_MATRICES else ref.blood_volume_mL
                                       if m == "blood" else ref.organ_mass_g.get(m, math.nan))
    frame["organ_mass_g"] = frame["organ_mass_g"].fillna(default_mass).astype(float)
    frame["dose_ug"] = frame["dose_ug"].fillna(ref.dose_ug).astype(float)


def _convert(frame: pd.DataFrame, units: list[ValueUnit], sheet: _Sheet, require_pct_id: bool) -> pd.DataFrame:
    amount = np.array([u.amount for u in units])
    per = np.array([u.per or "" for u in units])
    factor = np.array([u.factor for u in units])
    dose = frame["dose_ug"].to_numpy()
    needs_dose = (amount == "ug") & np.isnan(dose)
    if needs_dose.any():
        raise sheet.fail(needs_dose, "unit", f"{frame['unit'][needs_dose].iloc[0]!r} is a mass; converting it to %ID "
                         "needs the dose: add a dose_ug column, pass --dose-ug, or give --formulation")
    # %ID = mass / dose x 100 for mass units; %ID units pass through
    to_pct = np.where(amount == "ug", 100.0 / dose, 1.0) * factor
    mass = frame["organ_mass_g"].to_numpy()
    blood = frame["matrix"].isin(BLOOD_MATRICES).to_numpy()
    pct_id, per_g, per_mL = _express(frame["value"].to_numpy() * to_pct, per, blood, mass)
    sd_pct_id, sd_per_g, sd_per_mL = _express(frame["sd"].to_numpy() * to_pct, per, blood, mass)
    absurd = pct_id > MAX_PCT_ID
    if absurd.any():
        raise sheet.fail(absurd, "value", f"{pct_id[absurd][0]:.4g} %ID in one {frame['matrix'][absurd].iloc[0]} is "
                         f"impossible (at most {MAX_PCT_ID:g} %ID even after ten doses); check the value and unit")
    if require_pct_id and np.isnan(pct_id).any():
        bad = np.isnan(pct_id)
        first = frame[bad].iloc[0]
        whole = "blood" if first["matrix"] in BLOOD_MATRICES else "organ"
        raise sheet.fail(bad, None, f"{first['matrix']} in {first['unit']}: converting to %ID in the whole {whole} "
                         "needs its mass (blood, plasma: volume in mL): add an organ_mass_g column; --formulation "
                         f"gives the masses of {', '.join(FORMULATION_MASSES)}")
    return frame.assign(pct_id=pct_id, pct_id_per_g=per_g, conc_per_mL=per_mL, sd_pct_id=sd_pct_id,
                        sd_pct_id_per_g=sd_per_g, sd_conc_per_mL=sd_per_mL)


def _express(x: np.ndarray, per: np.ndarray, blood: np.ndarray, size: np.ndarray):
    """(%ID in the whole organ, %ID/g, %ID/mL for blood-like matrices) from values in %ID per organ,
    per g or per mL; size: g of tissue or mL of blood/plasma. Density 1 g/mL throughout (tissue and
    blood), so per g and per mL are the same number."""
    whole = per == ""
    with np.errstate(invalid="ignore", divide="ignore"):
        pct_id = np.where(whole, x, x * size)
        concentration = np.where(whole, x / size, x)
    return pct_id, concentration, np.where(blood, concentration, np.nan)


def _check_duplicates(frame: pd.DataFrame, sheet: _Sheet) -> None:
    dup = frame.duplicated(["group", "animal", "matrix", "time_h"], keep=False).to_numpy()
    if dup.any():
        first = frame[dup].iloc[0]
        raise sheet.fail(dup, None, f"the same animal {first['animal']!r}, matrix {first['matrix']!r} and time "
                         f"{first['time_h']:g} h appear more than once; average replicate assays first or give the "
                         "animals distinct ids")


def detect_sampling(frame: pd.DataFrame) -> str:
    """'serial' if any animal was measured at more than one time, else 'sparse' (one time per animal)."""
    times_per_animal = frame.groupby(["group", "animal"])["time_h"].nunique()
    return "serial" if (times_per_animal > 1).any() else "sparse"
