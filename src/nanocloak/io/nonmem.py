"""NONMEM-style datasets (also read by Monolix and nlmixr2) from a simulation or from lab data
(docs/data_conventions.md).

One row per event, sorted by ID, TIME and dose before observation at the same time:
- ID: 1, 2, ... one per animal (lab data: per group and animal; a simulation: per formulation);
- TIME: hours after the animal's first dose;
- DV: the observation, in the unit the DVUNIT column and the header state (0 on dose rows);
- AMT: the dose in ug per animal (0 on observation rows);
- EVID: 1 dose, 0 observation; MDV: 1 on dose rows and on observations without a value, else 0;
- CMT: the compartment, numbered as CMT_NUMBERS (doses go into blood, CMT 1: an IV bolus);
then text columns a tool drops on reading: DVUNIT, CMTNAME, GROUP, ANIMAL.
The first lines, starting with '#', say what the file holds (NONMEM skips them: IGNORE=#).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from nanocloak.errors import NanocloakError

#: compartment numbers (CMT): blood first (where an IV dose goes), then organs and excreta as the lab
#: data format names them (lab/labdata.py MATRICES), then the simulation's remainder
CMT_NAMES = ("blood", "plasma", "serum", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "muscle",
             "bone", "bone_marrow", "skin", "fat", "stomach", "intestine", "pancreas", "lymph_node", "carcass",
             "urine", "feces", "rest", "degraded")
CMT_NUMBERS = {name: i + 1 for i, name in enumerate(CMT_NAMES)}
#: a simulation's series -> the compartment its values stand for (blood: what a blood sample measures)
SIMULATED = {"blood_sample": "blood", "liver": "liver", "spleen": "spleen", "lung": "lung", "kidney": "kidney",
             "heart": "heart", "brain": "brain", "tumor": "tumor", "rest": "rest", "excreted_urine": "urine",
             "excreted_feces": "feces", "degraded": "degraded"}
DEFAULT_SIMULATED = ("blood", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor")
#: --dv choices: (lab/timecourse column, unit of organs, unit of blood-like matrices, in ug)
DV_KINDS = {"pct_id": ("pct_id", "%ID", "%ID", False), "pct_id_per_g": ("pct_id_per_g", "%ID/g", "%ID/mL", False),
            "ug": ("pct_id", "ug", "ug", True), "ug_per_g": ("pct_id_per_g", "ug/g", "ug/mL", True)}
BLOOD_LIKE = ("blood", "plasma", "serum")
COLUMNS = ("ID", "TIME", "DV", "AMT", "EVID", "CMT", "MDV", "DVUNIT", "CMTNAME", "GROUP", "ANIMAL")


def _text(value) -> str:
    """A text cell without commas, quotes or spaces (NONMEM reads neither quotes nor embedded commas)."""
    return re.sub(r"[,\s\"']+", "_", str(value)).strip("_")


def _dv_kind(dv: str) -> tuple[str, str, str, bool]:
    if dv not in DV_KINDS:
        from nanocloak.errors import did_you_mean

        raise NanocloakError(f"--dv {dv!r}: choose one of {', '.join(DV_KINDS)}{did_you_mean(dv, list(DV_KINDS))}")
    return DV_KINDS[dv]


def _rows(id_: int, group: str, animal: str, doses: list[tuple[float, float]], obs: pd.DataFrame, dv: str) -> list[dict]:
    """Dose and observation rows of one animal; obs has time_h, cmt (name), value (NaN: missing), dose_ug."""
    column, organ_unit, blood_unit, in_ug = _dv_kind(dv)
    group, animal = _text(group), _text(animal)
    rows = [{"ID": id_, "TIME": t, "DV": 0.0, "AMT": amt, "EVID": 1, "CMT": 1, "MDV": 1, "DVUNIT": blood_unit,
             "CMTNAME": "blood", "GROUP": group, "ANIMAL": animal} for t, amt in doses]
    for t, name, value, dose_ug in zip(obs["time_h"], obs["cmt"], obs[column], obs["dose_ug"]):
        y = value * dose_ug / 100.0 if in_ug else value         # %ID of one dose -> ug
        missing = not math.isfinite(y)
        rows.append({"ID": id_, "TIME": float(t), "DV": 0.0 if missing else float(y), "AMT": 0.0, "EVID": 0,
                     "CMT": CMT_NUMBERS[name], "MDV": int(missing),
                     "DVUNIT": blood_unit if name in BLOOD_LIKE else organ_unit, "CMTNAME": name, "GROUP": group,
                     "ANIMAL": animal})
    return rows


def _table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.sort_values(["ID", "TIME", "EVID", "CMT"], ascending=[True, True, False, True], kind="stable")
    return frame.reset_index(drop=True)


def from_lab_data(lab, dv: str = "pct_id") -> pd.DataFrame:
    """The dataset of a LabData (lab/labdata.py, lab/send.py): one ID per group and animal, doses from the
    source (SEND EX) or one dose at time 0 of the row's dose_ug (the CSV format's rule)."""
    _dv_kind(dv)
    frame = lab.frame
    if frame["dose_ug"].isna().any():
        raise NanocloakError(f"{lab.source}: AMT needs the dose per animal in ug: add a dose_ug column, pass --dose-ug, "
                             "or give --formulation")
    rows = []
    for id_, ((group, animal), obs) in enumerate(frame.groupby(["group", "animal"], sort=False), start=1):
        if lab.doses is not None:
            mine = lab.doses[(lab.doses["animal"] == animal) & (lab.doses["group"] == group)]
            doses = list(zip(mine["time_h"].astype(float), mine["dose_ug"].astype(float)))
        else:
            doses = [(0.0, float(obs["dose_ug"].iloc[0]))]
        rows += _rows(id_, str(group), str(animal), doses, obs.assign(cmt=obs["matrix"]), dv)
    return _table(rows)


def from_results(results, dv: str = "pct_id", compartments=None, times_h=None) -> pd.DataFrame:
    """The dataset of simulated results: one ID per result, its doses (mg/kg x body weight, in ug) and
    its time courses at the output times after 0 (or at `times_h`, which must be output times)."""
    _dv_kind(dv)
    chosen = DEFAULT_SIMULATED if compartments is None else tuple(compartments)
    unknown = [c for c in chosen if c not in CMT_NUMBERS or c not in SIMULATED.values()]
    if unknown:
        raise NanocloakError(f"--compartments: {unknown[0]!r} is not simulated; choose from "
                             f"{', '.join(dict.fromkeys(SIMULATED.values()))}")
    rows = []
    for id_, r in enumerate(results, start=1):
        f = r.resolved.formulation
        dose_ug = f.dose.mg_per_kg * f.subject.body_weight_g          # mg/kg x g = ug
        tc = r.timecourse
        tc = tc.assign(cmt=tc["compartment"].map(SIMULATED), dose_ug=dose_ug, time_h=tc["t_h"])
        tc = tc[tc["cmt"].isin(chosen) & (tc["t_h"] > 0)]
        if times_h is not None:
            tc = tc[np.isin(tc["t_h"], np.asarray(times_h, dtype=float))]
        doses = [(float(t), mg * f.subject.body_weight_g)                 # each dose its own AMT (dose.schedule)
                 for t, mg in zip(f.dose.times_h, f.dose.amounts_mg_per_kg())]
        rows += _rows(id_, f.name, f.name, doses, tc, dv)
    return _table(rows)


def render(frame: pd.DataFrame, source: str, dv: str, mark: str) -> str:
    """The CSV text with its '#' header: source, units, the EVID/MDV rules and the CMT numbers in use."""
    _, organ_unit, blood_unit, in_ug = _dv_kind(dv)
    unit = organ_unit if organ_unit == blood_unit else f"{organ_unit} (blood, plasma, serum: {blood_unit})"
    used = sorted(set(frame["CMT"]))
    cmts = ", ".join(f"{n} {CMT_NAMES[n - 1]}" for n in used)
    header = [f"# NONMEM-style dataset written by nanocloak export nonmem ({mark}) from {source}",
              "# TIME: h after the animal's first dose; AMT: ug per animal (IV bolus into CMT 1, blood)",
              f"# DV: {unit}{'' if in_ug else ', % of one dose'} (DVUNIT column); EVID 1 dose, 0 observation; MDV 1: doses, missing DV",
              f"# CMT: {cmts}; text columns DVUNIT, CMTNAME, GROUP, ANIMAL are for reading, drop them in $INPUT"]
    return "\n".join(header) + "\n" + frame.to_csv(index=False, float_format="%.10g", lineterminator="\n")
