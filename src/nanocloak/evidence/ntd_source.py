"""The Nano-Tumor Database (Cheng 2020; CC0, shipped in data/ntd) as a source of the evidence base.

Each of its data sets becomes a study with one arm, written as the nearest formulation by the rules
below, and its tumor time course as `tumor_pct_id` points. The database's per-data-set fitted tumor
parameters (KTRES*, QTC, BVT, PT, PATC) are never used to predict that data set: the arm takes the
library's site medians over the passive data sets (data/tumor.yaml), in which one data set is one
vote among a hundred or more.

Mapping rules (the database gives particle class, shape, size, charge, targeting, tumor model and
cancer type, dose and body weight; everything else takes library defaults):
- core: Inorganic spheres -> gold_sphere, rods -> gold_nanorod, plates/flakes -> graphene_oxide;
  Organic -> liposome; Hybrid -> msn (organic-inorganic); diameter = HD (the evidence default
  diameter when HD is missing); zeta = magnitude with the sign of the charge code (0 negative,
  1 positive, 2 neutral: 0 mV);
- surface: the database does not record the coat. A near-neutral particle (|zeta| <= 10 mV, the
  charge code "neutral") is taken as PEGylated (2 kDa, the library's default brush), since a dense
  PEG brush is what makes most such particles neutral; a charged one as bare (assumption, stated
  because the coat decides circulation); Active targeting -> one rgd ligand at the library's
  half-saturation density (the ligand class is not recorded);
- tumor: the cancer type's representative line (human line for xenografts, mouse line for
  allografts), site subcutaneous (heterotopic) or orthotopic, volume = TSz cm3 (or TW g at 1 g/mL);
- dose: Dose mg/kg on the particle basis, the mouse's BW.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from nanocloak.evidence.studies import Citation, Measurement, Point, Study, StudyFile
from nanocloak.library import tables as library

CITATION: dict[str, Any] = {"authors": "Cheng YH, He C, Riviere JE, Monteiro-Riviere NA, Lin Z", "year": 2020,
                            "title": "Meta-analysis of nanoparticle delivery to tumors using a physiologically based "
                                     "pharmacokinetic modeling and simulation approach", "journal": "ACS Nano",
                            "volume_pages": "14:3075-3095", "doi": "10.1021/acsnano.9b08142"}
URL = "shared/data/ntd (copied unchanged into src/nanocloak/data/ntd; UFPBPK/Nano-AI-PBPK-G1, CC0)"
ACTIVE_LIGAND = "rgd"
NEUTRAL_ZETA_MV = 10.0   # assumption: the near-neutral band the learn descriptors also use


def _material(row) -> tuple[str, str | None]:
    kind, shape = str(row["Type"]).lower(), str(row["Shape"]).lower()
    if kind.startswith("inorganic"):
        if shape.startswith("rod"):
            return "gold_nanorod", None
        if shape.startswith(("plate", "flake")):
            return "graphene_oxide", None
        return "gold_sphere", None
    if kind.startswith("hybrid"):
        return "msn", None
    return "liposome", None


def _zeta(row) -> float | None:
    z = row.get("Zeta")
    if z is None or not math.isfinite(z):
        return None
    code = row.get("Charge")
    if code == 2 or not math.isfinite(code if code is not None else float("nan")):
        return 0.0
    return float(min(abs(z), 100.0)) * (1.0 if code == 1 else -1.0)


def _tumor(row, defaults: dict) -> dict:
    tm = str(row["TM"]).lower()
    cancer = library.resolve_key("cancer_types", str(row["CT"]).strip().lower().replace(" ", "_")) \
        if _known_type(row["CT"]) else "other"
    xenograft = "xenograft" in tm
    by_type = defaults["tumor_line_by_cancer_type"]
    order = ("human", "mouse") if xenograft else ("mouse", "human")
    line = next((by_type[k].get(cancer) for k in order if by_type[k].get(cancer)), None)
    volume = row.get("TSz")
    if volume is None or not math.isfinite(volume) or volume <= 0:
        volume = row.get("TW")
    return {"line": line, "type": cancer, "site": "orthotopic" if "orthotopic" in tm else "subcutaneous",
            "volume_mm3": float(min(max(volume * 1000.0, 10.0), 5000.0))}


def _known_type(ct) -> bool:
    try:
        library.resolve_key("cancer_types", str(ct).strip().lower().replace(" ", "_"))
        return True
    except library.LibraryError:
        return False


def formulation_dict(row, defaults: dict) -> dict:
    material, _ = _material(row)
    core: dict = {"material": material}
    hd = row.get("HD")
    core["diameter_nm"] = float(hd) if hd is not None and math.isfinite(hd) else library.value(defaults["core_diameter_nm"])
    z = _zeta(row)
    if z is not None:
        core["zeta_mV"] = z
    surface: dict = {"kind": "peg"} if z is not None and abs(z) <= NEUTRAL_ZETA_MV else {"kind": "none"}
    if str(row["TS"]).strip().lower() == "active":
        half = library.value(library.entry("ligands", ACTIVE_LIGAND)["half_saturation_per_particle"])
        surface["ligands"] = [{"name": ACTIVE_LIGAND, "per_particle": half}]
    bw = row.get("BW")
    subject = {"species": "mouse", "body_weight_g": float(bw) if bw and math.isfinite(bw) else 20.0,
               "tumor": _tumor(row, defaults)}
    return {"nanocloak": 1, "name": f"NTD {int(row['ID'])}", "core": core, "surface": surface,
            "dose": {"mg_per_kg": float(row["Dose"])}, "subject": subject}


@dataclass
class NtdSet:
    studies: tuple[Study, ...]
    skipped: dict[int, str]          # data set ID -> why it could not become a formulation


@lru_cache(maxsize=1)
def load() -> NtdSet:
    """Every NTD data set that maps to a valid formulation, as a one-arm study."""
    from nanocloak.errors import FormulationError
    from nanocloak.evidence.studies import defaults
    from nanocloak.learn import ntd
    from nanocloak.spec import formulation as spec

    data = ntd.load_datasets()
    course = ntd.load_timecourse()
    by_id = {int(k): g for k, g in course.groupby("id")}
    studies, skipped = [], {}
    for _, row in data.iterrows():
        i = int(row["ID"])
        points = by_id.get(i)
        if points is None or points.empty:
            skipped[i] = "no time course"
            continue
        d = formulation_dict(row, defaults())
        if d["subject"]["tumor"]["line"] is None:
            skipped[i] = f"cancer type {row['CT']!r} has no representative line"
            continue
        if not (0 < d["dose"]["mg_per_kg"] <= 1000):
            skipped[i] = f"dose {row['Dose']!r} mg/kg outside the contract's range"
            continue
        try:
            f = spec.from_dict(d, f"ntd/{i}")
        except FormulationError as exc:
            skipped[i] = str(exc)
            continue
        studies.append(_study(i, f, points))
    return NtdSet(tuple(studies), skipped)


def _study(i: int, f, points: pd.DataFrame) -> Study:
    rows = []
    for _, r in points.sort_values("time_h").iterrows():
        if r["tumor_pct_id"] > 0 and r["time_h"] > 0:
            rows.append(Measurement(observable="tumor_pct_id", arm="ntd", t_h=float(r["time_h"]),
                                    value=float(r["tumor_pct_id"]), locator=f"datasets.csv / timecourse.csv, ID {i}",
                                    paraphrase="tumor delivery (% of injected dose) as tabulated by the database",
                                    checked_by="the database (CC0), read unchanged"))
    data = StudyFile(id=f"ntd_{i}", source="ntd", citation=Citation(**CITATION), url_read=[URL], arms=[],
                     measurements=rows)
    s = Study(f"ntd_{i}", "ntd", data, {"ntd": f}, {}, {"ntd": []})
    s.points = [Point(s.id, k, m, True) for k, m in enumerate(rows)]
    return s
