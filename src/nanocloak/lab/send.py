"""CDISC SEND import: PC (concentrations) with EX (doses), DM (animals, groups) and BW (body weights)
read into the same LabData the CSV reader returns (docs/data_conventions.md).

A study is a folder holding one file per domain, `pc`, `ex`, `dm` and `bw` (`.xpt` SAS transport or
`.csv`; names in any case). Variables used (CDISC SEND / SDTM PC, EX, DM, BW domains):
- PC: USUBJID, PCSPEC (specimen: PLASMA, BLOOD, LIVER ...), PCSTRESN + PCSTRESU (standard result and
  unit), PCSTRESC (`<LLOQ`/`BLQ` below the limit of quantification: 0, the CSV rule), PCSTAT (`NOT DONE`:
  left out), PCDTC (collection date-time) or PCELTM (planned elapsed time, ISO 8601 such as PT2H or
  P1D, relative to the reference PCTPTREF whose date-time PCRFTDTC gives), optional PCTESTCD;
- EX: USUBJID, EXDOSE, EXDOSU (mg/kg, ug/kg, mg, ug ...), EXSTDTC (or EXSTDY, the study day);
- DM: USUBJID, ARMCD (or ARM, SETCD) as the group;
- BW: USUBJID, BWSTRESN, BWSTRESU (g or kg), BWDTC or BWDY; needed for doses per kg.
Time zero is each animal's first dose.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from nanocloak.lab.labdata import LabData, LabDataError, canonical_matrix, lab_data_from_frame, load_lab_data

DOMAINS = ("pc", "ex", "dm", "bw")
REQUIRED_COLUMNS = {"pc": ("USUBJID", "PCSPEC", "PCSTRESN", "PCSTRESU"), "ex": ("USUBJID", "EXDOSE", "EXDOSU"),
                    "dm": ("USUBJID",), "bw": ("USUBJID", "BWSTRESN", "BWSTRESU")}
GROUP_COLUMNS = ("ARMCD", "ARM", "SETCD")
BELOW_LOQ = re.compile(r"^\s*(<|blq|bql|below)", re.IGNORECASE)
_DURATION = re.compile(r"^(-)?P(?:(?P<W>\d+(?:\.\d+)?)W)?(?:(?P<D>\d+(?:\.\d+)?)D)?"
                       r"(?:T(?:(?P<H>\d+(?:\.\d+)?)H)?(?:(?P<M>\d+(?:\.\d+)?)M)?(?:(?P<S>\d+(?:\.\d+)?)S)?)?$")
HOURS = {"W": 168.0, "D": 24.0, "H": 1.0, "M": 1.0 / 60.0, "S": 1.0 / 3600.0}


def iso_duration_h(text: str) -> float:
    """Hours in an ISO 8601 duration: PT2H -> 2, PT30M -> 0.5, P1D -> 24, P1DT6H -> 30, -PT1H -> -1.
    Years and months have no fixed length and are refused (ValueError)."""
    s = str(text).strip().upper()
    m = _DURATION.match(s)
    if not m or s in ("P", "-P", "PT", "-PT") or s.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration in weeks, days, hours, minutes or seconds "
                         "(e.g. PT30M, PT2H, P1D, P1DT6H)")
    hours = sum(float(m.group(k)) * f for k, f in HOURS.items() if m.group(k))
    return -hours if m.group(1) else hours


def iso_datetime(text) -> datetime | None:
    """A full ISO 8601 date-time (2024-03-01T08:30, seconds optional); None for a date alone or empty."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    s = str(text).strip()
    if "T" not in s:
        return None
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------------
# reading the domains
# ------------------------------------------------------------------------------------------------
def find_domains(folder: Path) -> dict[str, Path]:
    files = {}
    for p in sorted(folder.iterdir()):
        stem, suffix = p.stem.lower(), p.suffix.lower()
        if stem in DOMAINS and suffix in (".xpt", ".csv") and stem not in files:
            files[stem] = p
    return files


def read_domain(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".xpt":
            df = pd.read_sas(path, format="xport", encoding="utf-8")
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:  # the readers raise many types for malformed files
        raise LabDataError(f"{path}: cannot read as a SEND domain ({type(exc).__name__}: {exc})") from None
    df.columns = [str(c).strip().upper() for c in df.columns]
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: v.strip() if isinstance(v, str) else v).replace("", np.nan)
    return df


def _require(df: pd.DataFrame, domain: str, path: Path) -> None:
    missing = [c for c in REQUIRED_COLUMNS[domain] if c not in df.columns]
    if missing:
        raise LabDataError(f"{path}: the {domain.upper()} domain lacks {', '.join(missing)} (needed: "
                           f"{', '.join(REQUIRED_COLUMNS[domain])}); it has {', '.join(df.columns)}")


def _load(folder: Path) -> dict[str, tuple[pd.DataFrame, Path]]:
    files = find_domains(folder)
    missing = [d for d in ("pc", "ex", "dm") if d not in files]
    if missing:
        raise LabDataError(f"{folder}: SEND domain(s) {', '.join(d.upper() for d in missing)} not found; the folder "
                           f"needs pc, ex and dm (and bw for doses per kg) as .xpt or .csv files")
    domains = {}
    for name, path in files.items():
        df = read_domain(path)
        _require(df, name, path)
        domains[name] = (df, path)
    return domains


# ------------------------------------------------------------------------------------------------
# doses and times
# ------------------------------------------------------------------------------------------------
def _mass_ug(unit: str) -> float:
    from nanocloak.lab.labdata import parse_unit

    u = parse_unit(unit)
    if u.amount != "ug" or u.per is not None:
        raise ValueError(unit)
    return u.factor


def _weighing_order(rows: pd.DataFrame, first_dose: pd.Series):
    """(sort keys of the weighings, the first dose's key) by date-time or study day, or None."""
    for bw_key, ex_key, numeric in (("BWDTC", "EXSTDTC", False), ("BWDY", "EXSTDY", True)):
        if bw_key in rows.columns and not pd.isna(first_dose.get(ex_key, np.nan)) and rows[bw_key].notna().all():
            if numeric:
                return pd.to_numeric(rows[bw_key], errors="coerce").to_numpy(), float(first_dose[ex_key])
            return rows[bw_key].astype(str).to_numpy(), str(first_dose[ex_key])   # ISO 8601 sorts as text
    return None


def _body_weight_g(bw: tuple[pd.DataFrame, Path] | None, animal: str, first_dose: pd.Series) -> float:
    """The animal's body weight (g): its last weighing at or before its first dose, else its first one."""
    if bw is None:
        raise LabDataError(f"EXDOSU per kg for animal {animal!r} needs its body weight: add the BW domain (bw.xpt)")
    df, path = bw
    rows = df[df["USUBJID"] == animal]
    if "BWTESTCD" in rows.columns:
        rows = rows[rows["BWTESTCD"].fillna("BW").str.upper() != "TERMBW"]     # terminal weights come after dosing
    if rows.empty:
        raise LabDataError(f"{path}: no body weight (BWSTRESN) for animal {animal!r}, needed for its dose per kg")
    order = _weighing_order(rows, first_dose)
    pick = 0
    if order is not None:
        keys, dosed = order
        before = np.flatnonzero(keys <= dosed)
        pick = int(before[np.argmax(keys[before])]) if before.size else int(np.argmin(keys))
    row = rows.iloc[pick]
    value = pd.to_numeric(row["BWSTRESN"], errors="coerce")
    try:
        grams = value * _mass_ug(str(row["BWSTRESU"])) / 1e6
    except ValueError:
        raise LabDataError(f"{path}: BWSTRESU {row['BWSTRESU']!r} for animal {animal!r} is not a mass (g or kg)") from None
    if not (math.isfinite(grams) and grams > 0):
        raise LabDataError(f"{path}: body weight of animal {animal!r} must be a number > 0, got {row['BWSTRESN']!r}")
    return float(grams)


def _dose_ug(row: pd.Series, path: Path, bw, first: pd.Series) -> float:
    unit = str(row["EXDOSU"]).strip()
    dose = pd.to_numeric(row["EXDOSE"], errors="coerce")
    if not (math.isfinite(dose) and dose > 0):
        raise LabDataError(f"{path}: EXDOSE {row['EXDOSE']!r} for animal {row['USUBJID']!r} must be a number > 0")
    per_kg = re.search(r"/\s*kg$", unit, re.IGNORECASE)
    try:
        ug = dose * _mass_ug(unit[: per_kg.start()] if per_kg else unit)
    except ValueError:
        raise LabDataError(f"{path}: EXDOSU {unit!r} not understood; use a mass (mg, ug) or a mass per kg "
                           "(mg/kg, ug/kg)") from None
    return ug * _body_weight_g(bw, row["USUBJID"], first) / 1000.0 if per_kg else ug


def _dose_table(ex: pd.DataFrame, path: Path, bw) -> tuple[pd.DataFrame, dict[str, datetime | None]]:
    """One row per dose: animal, time_h after the animal's first dose, dose_ug; and each first dose's date-time."""
    rows, first_times = [], {}
    for animal, doses in ex.groupby("USUBJID", sort=False):
        stamps = [iso_datetime(v) for v in doses.get("EXSTDTC", pd.Series(index=doses.index, dtype=object))]
        days = pd.to_numeric(doses["EXSTDY"], errors="coerce").to_numpy() if "EXSTDY" in doses else None
        present = [s for s in stamps if s is not None]
        if len(present) == len(stamps):
            order = np.argsort([s.timestamp() for s in present], kind="stable")
            t = np.array([(present[i] - present[order[0]]).total_seconds() / 3600.0 for i in range(len(present))])
        elif len(doses) == 1:
            t = np.zeros(1)
        elif days is not None and np.isfinite(days).all():
            t = (days - days.min()) * 24.0
        else:
            raise LabDataError(f"{path}: animal {animal!r} has {len(doses)} doses; their times need EXSTDTC "
                               "date-times (2024-03-01T08:30) or EXSTDY study days")
        first = doses.iloc[int(np.argmin(t))]
        first_times[animal] = stamps[int(np.argmin(t))]
        for (_, row), ti in zip(doses.iterrows(), t):
            rows.append({"animal": animal, "time_h": float(ti), "dose_ug": _dose_ug(row, path, bw, first)})
    return pd.DataFrame(rows, columns=["animal", "time_h", "dose_ug"]), first_times


def _pc_time_h(row: pd.Series, first: datetime | None, n_doses: int, path: Path, line: int) -> float:
    """Hours after the animal's first dose: from PCDTC, else PCELTM after PCRFTDTC (or after the one dose)."""
    taken = iso_datetime(row.get("PCDTC"))
    if taken is not None and first is not None:
        return (taken - first).total_seconds() / 3600.0
    elapsed = row.get("PCELTM")
    if elapsed is None or pd.isna(elapsed):
        raise LabDataError(f"{path}: row {line}: no time; give PCDTC (with EXSTDTC date-times) or PCELTM (e.g. PT2H)")
    try:
        hours = iso_duration_h(elapsed)
    except ValueError as exc:
        raise LabDataError(f"{path}: row {line}, column 'PCELTM': {exc}") from None
    reference = iso_datetime(row.get("PCRFTDTC"))
    if reference is not None and first is not None:
        return hours + (reference - first).total_seconds() / 3600.0
    if n_doses > 1:
        raise LabDataError(f"{path}: row {line}: animal {row['USUBJID']!r} had {n_doses} doses; PCELTM alone does not "
                           "say after which; give PCRFTDTC (the reference dose's date-time) or PCDTC, with EXSTDTC")
    return hours


# ------------------------------------------------------------------------------------------------
# the study
# ------------------------------------------------------------------------------------------------
def _groups(dm: pd.DataFrame) -> dict[str, str]:
    column = next((c for c in GROUP_COLUMNS if c in dm.columns), None)
    if column is None:
        return {a: "" for a in dm["USUBJID"]}
    return {a: ("" if pd.isna(g) else str(g)) for a, g in zip(dm["USUBJID"], dm[column])}


def _records(pc: pd.DataFrame, path: Path, doses: pd.DataFrame, first_times: dict, groups: dict):
    """The PC records as CSV-format rows, the file lines they came from, and notes on what was left out."""
    rows, lines, notes = [], [], []
    not_done = pre_dose = 0
    n_doses = doses.groupby("animal").size().to_dict()
    for i, (_, r) in enumerate(pc.iterrows()):
        line = i + 2
        animal = r["USUBJID"]
        if animal not in groups:
            raise LabDataError(f"{path}: row {line}: animal {animal!r} is not in the DM domain")
        if animal not in n_doses:
            raise LabDataError(f"{path}: row {line}: animal {animal!r} has no dose in the EX domain")
        if str(r.get("PCSTAT", "")).strip().upper() == "NOT DONE":
            not_done += 1
            continue
        if canonical_matrix(str(r["PCSPEC"])) is None:
            raise LabDataError(f"{path}: row {line}, column 'PCSPEC': specimen {r['PCSPEC']!r} is not a matrix nanocloak "
                               "knows (PLASMA, SERUM, BLOOD, LIVER, SPLEEN, LUNG, KIDNEY, HEART, BRAIN, TUMOR ...)")
        t = _pc_time_h(r, first_times.get(animal), n_doses[animal], path, line)
        if t < 0:
            pre_dose += 1
            continue
        value = r["PCSTRESN"]
        if pd.isna(value) and BELOW_LOQ.match(str(r.get("PCSTRESC", ""))):
            value = 0.0
        rows.append({"group": groups[animal], "animal": animal, "time_h": t, "matrix": str(r["PCSPEC"]),
                     "value": value, "unit": r["PCSTRESU"], "analyte": r.get("PCTESTCD", "")})
        lines.append(line)
    if not_done:
        notes.append(f"{not_done} PC record(s) with PCSTAT 'NOT DONE' left out")
    if pre_dose:
        notes.append(f"{pre_dose} pre-dose PC record(s) (before the first dose) left out")
    return pd.DataFrame(rows), np.array(lines, dtype=int), notes


def load_send(folder: str | Path, formulation=None, *, analyte: str | None = None,
              require_pct_id: bool = False) -> LabData:
    """Read a SEND study folder (pc, ex, dm, bw) into LabData: values converted as the CSV reader does,
    doses (from EX, per animal, in ug) in `doses`, what was left out in `notes`."""
    root = Path(folder)
    if not root.is_dir():
        raise LabDataError(f"{root}: not a folder; a SEND study is a folder with pc, ex, dm (and bw) domain files")
    domains = _load(root)
    pc, pc_path = domains["pc"]
    doses, first_times = _dose_table(*domains["ex"], domains.get("bw"))
    groups = _groups(domains["dm"][0])
    pc = _one_analyte(pc, pc_path, analyte)
    table, lines, notes = _records(pc, pc_path, doses, first_times, groups)
    if table.empty:
        raise LabDataError(f"{pc_path}: no PC records after the first dose to read")
    first_dose = doses.sort_values("time_h").groupby("animal")["dose_ug"].first()
    table["dose_ug"] = table["animal"].map(first_dose)
    lab = lab_data_from_frame(table.drop(columns="analyte"), str(pc_path), lines, formulation,
                              require_pct_id=require_pct_id)
    lab.doses = doses.assign(group=doses["animal"].map(groups))[["group", "animal", "time_h", "dose_ug"]]
    lab.notes = notes
    return lab


def _one_analyte(pc: pd.DataFrame, path: Path, analyte: str | None) -> pd.DataFrame:
    if "PCTESTCD" not in pc.columns:
        return pc
    tests = list(dict.fromkeys(pc["PCTESTCD"].dropna()))
    if analyte is not None:
        if analyte not in tests:
            raise LabDataError(f"{path}: analyte {analyte!r} not in PCTESTCD; the study has {', '.join(tests)}")
        return pc[pc["PCTESTCD"] == analyte]
    if len(tests) > 1:
        raise LabDataError(f"{path}: several analytes in PCTESTCD ({', '.join(tests)}); choose one (--analyte, or analyte= in Python)")
    return pc


def read_lab_data(path: str | Path, formulation=None, *, dose_ug: float | None = None,
                  require_pct_id: bool = False, analyte: str | None = None) -> LabData:
    """A SEND study folder (load_send) or a lab data CSV/XLSX (load_lab_data)."""
    p = Path(path)
    if p.is_dir():
        if dose_ug is not None:
            raise LabDataError(f"{p}: --dose-ug does not apply to a SEND study (its EX domain gives the doses)")
        return load_send(p, formulation, analyte=analyte, require_pct_id=require_pct_id)
    if analyte is not None:
        raise LabDataError(f"{p}: --analyte applies to a SEND study folder (PCTESTCD), not to a lab data file")
    return load_lab_data(p, formulation, dose_ug=dose_ug, require_pct_id=require_pct_id)
