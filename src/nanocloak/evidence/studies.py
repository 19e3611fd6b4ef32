"""The evidence base: published measurements, one YAML file per study (docs/evidence.md).

A study file holds the citation, what was read (`url_read`), each experimental arm written as a
formulation (only what the paper reports, the rest listed in `assumed:` and filled by rule), and the
measurements with where each stands in the text and who checked it. This module reads the files,
checks them, and builds each arm's formulation.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nanocloak.errors import FormulationError, NanocloakError
from nanocloak.library import tables as library

Observable = Literal["blood_retention_pct", "blood_pct_id", "organ_pct_id", "organ_pct_id_per_g", "tumor_pct_id",
                     "tumor_pct_id_per_g", "t_half_h", "auc", "tumor_temperature_C", "tumor_volume_mm3", "tgi_pct",
                     "survival_median_d", "released_pct", "fold"]
OBSERVABLES: tuple[str, ...] = get_args(Observable)
#: ratio-scale observables: compared by fold error on a log scale
RATIO_SCALE = ("blood_retention_pct", "blood_pct_id", "organ_pct_id", "organ_pct_id_per_g", "tumor_pct_id",
               "tumor_pct_id_per_g", "t_half_h", "auc", "fold", "tumor_volume_mm3", "survival_median_d")
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s;,]+[^\s;,.)])")
PMID = re.compile(r"^\d{6,9}$")


class EvidenceError(NanocloakError):
    """A study file that breaks the evidence base's rules."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Citation(_Open):
    authors: str | None = None
    year: int | str | None = None
    title: str | None = None
    journal: str | None = None
    volume_pages: str | None = None
    doi: str | None = None
    pmid: str | int | None = None
    pmcid: str | None = None


class Arm(_Open):
    id: str
    label: str = ""
    formulation: dict[str, Any]
    assumed: list[str] = Field(default_factory=list)


class Measurement(_Open):
    observable: Observable
    value: float | None = None
    arm: str | None = None
    t_h: float | None = None
    sd: float | None = None
    sem: float | None = None
    n: float | None = None
    organ: str | None = None
    reference_t_h: float | None = None
    method: str | None = None
    unit: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    of: str | None = None
    dose_index: int | None = None
    conditions: dict[str, Any] | None = None
    untreated: bool = False     # the arm's untreated twin (same subject and tumor, no dose): a vehicle control
    locator: str | None = None
    paraphrase: str | None = None
    checked_by: str | None = None


class StudyFile(_Open):
    id: str
    source: Literal["paper", "ntd"] = "paper"
    citation: Citation
    url_read: list[str] | str | None = None
    read_in: dict[str, Any] | None = None
    arms: list[Arm]
    measurements: list[Measurement]


@dataclass
class Point:
    """One measurement of a study, ready to compare with the model."""

    study: str
    index: int
    m: Measurement
    usable: bool
    reason: str = ""          # why it is not used, when it is not

    @property
    def observable(self) -> str:
        return self.m.observable

    @property
    def ratio_scale(self) -> bool:
        return self.m.observable in RATIO_SCALE


@dataclass
class Study:
    id: str
    source: str
    data: StudyFile
    formulations: dict[str, Any]                   # arm id -> Formulation (simulable arms)
    arm_problems: dict[str, str]                   # arm id -> why it cannot be simulated
    proxies: dict[str, list[str]] = field(default_factory=dict)   # arm id -> stand-ins used
    points: list[Point] = field(default_factory=list)
    path: Path | None = None

    @property
    def identifier(self) -> str | None:
        """The study's identifier as read, else the identifier of the review it was read in."""
        own = identifier(self.data.citation, self.data.url_read)
        if own is not None or not self.data.read_in:
            return own
        review = Citation.model_validate({k: v for k, v in self.data.read_in.items() if k in ("doi", "pmid", "pmcid")})
        found = identifier(review, self.data.read_in.get("url"))
        return f"{found} (the review it was read in)" if found else None

    @property
    def citable(self) -> bool:
        """A DOI, PMID or PMC id was read (or, lacking one, a second reader confirmed volume:pages)."""
        return self.identifier is not None or _confirmed_volume_pages(self)

    @property
    def citation_text(self) -> str:
        c = self.data.citation
        parts = [c.authors or "", str(c.year or ""), c.journal or "", c.volume_pages or ""]
        doi = self.identifier
        return ", ".join(p for p in parts if p and "not shown" not in p) + (f" ({doi})" if doi else "")

    @property
    def membranes(self) -> list[str]:
        cells = []
        for arm in self.data.arms:
            surface = arm.formulation.get("surface") or {}
            if str(surface.get("kind", "")).lower() == "membrane":
                for src in (surface.get("membrane") or {}).get("sources", []):
                    cells.append(str(src.get("cell", "")).lower())
        return sorted(set(cells))

    @property
    def repeat_dose(self) -> bool:
        return any(len((a.formulation.get("dose") or {}).get("times_h", [0])) > 1 for a in self.data.arms)

    @property
    def usable_points(self) -> list[Point]:
        return [p for p in self.points if p.usable]


def identifier(c: Citation, urls: list[str] | str | None = None) -> str | None:
    """The study's stable identifier as read: a DOI, else a PMID or PMC id, also as they stand in
    the addresses read (a PubMed or PMC page); None if none was read."""
    doi = DOI.search(c.doi or "")
    if doi and not re.search(r"verify|memory|probabl", c.doi or "", re.I):
        return f"doi:{doi.group(1)}"
    if c.pmid is not None and PMID.match(str(c.pmid).strip()):
        return f"pmid:{str(c.pmid).strip()}"
    if c.pmcid and re.match(r"^PMC\d+$", c.pmcid.strip()):
        return c.pmcid.strip()
    for url in [urls] if isinstance(urls, str) else (urls or []):
        pmc = re.search(r"/(PMC\d+)", str(url))
        if pmc:
            return pmc.group(1)
        pubmed = re.search(r"(?:pubmed\.ncbi\.nlm\.nih\.gov|medluna\.com/article)/(\d{6,9})", str(url))
        if pubmed:
            return f"pmid:{pubmed.group(1)}"
    return None


# ---------------------------------------------------------------------------------------------
# assumed fields: filled by rule
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def defaults() -> dict:
    from nanocloak.library.safe_yaml import loads

    text = resources.files("nanocloak").joinpath("data", "evidence", "defaults.yaml").read_text(encoding="utf-8")
    return loads(text, "evidence/defaults.yaml")


def _default(name: str) -> float:
    return library.value(defaults()[name], f"evidence/defaults.{name}")


def has_path(doc: Any, path: str) -> bool:
    cur = doc
    for part in path.replace("]", "").replace("[", ".").split("."):
        if isinstance(cur, list):
            if not part.isdigit() or int(part) >= len(cur):
                return False
            cur = cur[int(part)]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return False
    return True


def fill_assumed(form: dict, proxies_used: list[str] | None = None) -> dict:
    """The arm's formulation with every required field it lacks filled from the evidence defaults
    (docs/evidence.md rule 4); every other unreported field takes the formulation's own default.
    Stand-ins for entries the library lacks are applied and named in `proxies_used`."""
    f = copy.deepcopy(form)
    used = proxies_used if proxies_used is not None else []
    _default_tumor_line(f)      # first: an unnamed cancer membrane line takes the tumor's (proxies)
    _apply_proxies(f, used)
    f.setdefault("nanocloak", 1)
    f.setdefault("name", "evidence arm")
    core = f.setdefault("core", {})
    if str(core.get("material", "")).lower() != "free" and "diameter_nm" not in core:
        core["diameter_nm"] = _default("core_diameter_nm")
    dose = f.setdefault("dose", {})
    if dose.get("mg_per_m2") is None:       # a dose per body surface area is converted by the spec (issue 13)
        dose.setdefault("mg_per_kg", _default("dose_mg_per_kg"))
    for laser in (f.get("treatment") or {}).get("lasers", []):
        laser.setdefault("wavelength_nm", _default("laser_wavelength_nm"))
        laser.setdefault("power_W_per_cm2", _default("laser_power_W_per_cm2"))
        laser.setdefault("duration_min", _default("laser_duration_min"))
    for magnet in (f.get("treatment") or {}).get("magnets", []):       # treatment.magnets (docs/magnetic.md)
        magnet.setdefault("at_h", _default("magnet_at_h"))
        magnet.setdefault("field_T", _default("magnet_field_T"))
        magnet.setdefault("gradient_T_per_m", _default("magnet_gradient_T_per_m"))
    for p in f.get("payloads", []):
        if "loading_wt_pct" not in p:
            tracer = str(p.get("drug", "")).lower() == "did"
            p["loading_wt_pct"] = _default("tracer_loading_wt_pct" if tracer else "loading_wt_pct")
    return f


def _default_tumor_line(f: dict) -> None:
    """A tumor whose line the paper does not name takes its type's representative line (defaults)."""
    subject = f.get("subject") or {}
    tumor = subject.get("tumor")
    if tumor is None or "line" in tumor:
        return
    species = str(subject.get("species", "mouse")).lower()
    by_type = defaults()["tumor_line_by_cancer_type"]
    kind = str(tumor.get("type", "")).lower()
    if _known("cancer_types", kind):
        kind = library.resolve_key("cancer_types", kind)
    # a xenograft host (nude, scid) or a human carries a human line; others the host's own
    human_first = species == "human" or str(subject.get("host", "")).lower() in ("nude", "scid")
    order = ("human", "mouse") if human_first else (species, "mouse", "human")
    line = next((by_type.get(k, {}).get(kind) for k in order if by_type.get(k, {}).get(kind)), None)
    if line:
        tumor["line"] = line


def _known(table: str, key: Any) -> bool:
    try:
        library.resolve_key(table, str(key))
        return True
    except library.LibraryError:
        return False


def _apply_proxies(f: dict, used: list[str]) -> None:
    rules = defaults()["proxies"]
    is_free = str((f.get("core") or {}).get("material", "")).lower() == "free"
    for p in f.get("payloads", []):
        if "drug" in p and not _known("drugs", p["drug"]) and not is_free:   # a free drug has no carrier
            used.append(f"payload drug {p['drug']} (not in the library) simulated as its carrier with a tracer")
            p["drug"] = rules["drug_as_tracer"]
            p.pop("release", None)
    core = f.get("core") or {}
    material = str(core.get("material", "")).lower()
    if material in rules["material"]:
        proxy = rules["material"][material]
        used.append(f"core {material} simulated as {proxy['as']} ({proxy['why']})")
        core["material"] = proxy["as"]
    membrane = ((f.get("surface") or {}).get("membrane") or {})
    sources = membrane.get("sources") or []
    if len(sources) > 1 and rules["hybrid_equal_fractions"] and any("fraction" not in s for s in sources):
        used.append("hybrid membrane fractions not given: equal shares assumed")
        for s in sources:
            s["fraction"] = 1.0 / len(sources)
    tumor_line = ((f.get("subject") or {}).get("tumor") or {}).get("line")
    for s in sources:
        if str(s.get("cell", "")).lower() in ("cancer", "cancer_stem") and not s.get("line") \
                and rules["cancer_membrane_line_from_tumor"] and tumor_line:
            used.append(f"cancer membrane line not named: the tumor's line {tumor_line} assumed")
            s["line"] = tumor_line


# ---------------------------------------------------------------------------------------------
# reading and checking
# ---------------------------------------------------------------------------------------------
def studies_dir() -> Path:
    return Path(str(resources.files("nanocloak").joinpath("data", "evidence", "studies")))


UNTREATED_OBSERVABLES = ("survival_median_d", "tumor_volume_mm3")


def _check_untreated(path: Path, data: StudyFile) -> None:
    """`untreated: true` reads the arm's untreated twin; only its survival and tumor volume exist."""
    for i, m in enumerate(data.measurements):
        if m.untreated and m.observable not in UNTREATED_OBSERVABLES:
            raise EvidenceError(f"{path.name}: measurements.{i}.untreated: allowed only with observable "
                                f"{' or '.join(UNTREATED_OBSERVABLES)} (a control arm has no {m.observable})")


def read_study(path: Path) -> Study:
    from nanocloak.library.safe_yaml import load_file
    from nanocloak.spec import formulation as spec

    raw = load_file(path)
    try:
        data = StudyFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise EvidenceError(f"{path.name}: {where}: {first.get('msg')}") from None
    _check_untreated(path, data)
    forms, problems, proxies = {}, {}, {}
    for arm in data.arms:
        written = [p for p in arm.assumed if has_path(arm.formulation, p)]
        if written:
            raise EvidenceError(f"{path.name}: arm {arm.id}: {written[0]} is listed as assumed but written in the formulation")
        used: list[str] = []
        try:
            forms[arm.id] = spec.from_dict(fill_assumed(arm.formulation, used), f"{data.id}/{arm.id}")
        except FormulationError as exc:
            problems[arm.id] = "; ".join(p.message if not p.path else f"{p.path}: {p.message}" for p in exc.problems)
        proxies[arm.id] = used
    study = Study(data.id, data.source, data, forms, problems, proxies, path=path)
    study.points = [Point(data.id, i, m, *_usable(study, m)) for i, m in enumerate(data.measurements)]
    return study


def _usable(study: Study, m: Measurement) -> tuple[bool, str]:
    """Whether a row may be used for calibration and scoring, and if not, why (docs/evidence.md)."""
    if not study.citable:
        return False, "no DOI, PMID or confirmed volume:pages was read for the study"
    if not study.data.url_read:
        return False, "no url_read"
    if not (m.locator and m.paraphrase):
        return False, "no locator or paraphrase"
    if not m.checked_by:
        return False, "not confirmed by a second reader"
    if m.value is None:
        return False, "no value"
    arms = [m.numerator, m.denominator] if m.observable == "fold" else [m.arm]
    missing = [a for a in arms if a not in study.formulations]
    if missing:
        problem = "unknown arm" if missing[0] is None else study.arm_problems.get(missing[0], "unknown arm")
        return False, f"arm {missing[0]} cannot be simulated: {problem}"
    simulable = [a for a in arms if a is not None]   # all of them: None is never a key of study.formulations
    drug_only = ("released_pct", "tumor_volume_mm3", "tgi_pct", "survival_median_d", "tumor_temperature_C")
    carrier_only = any("simulated as its carrier" in u for a in simulable for u in study.proxies.get(a, []))
    if m.observable in drug_only and not m.untreated and carrier_only:
        return False, "the arm's drug is not in the library (simulated as its carrier): drug effects are not scored"
    reason = _not_modelled(study, m)
    return (False, reason) if reason else (True, "")


def _confirmed_volume_pages(study: Study) -> bool:
    check = (study.data.model_extra or {}).get("citation_check") or {}   # extra="allow": always a dict
    vp = str(study.data.citation.volume_pages or "")
    return bool(re.search(r"\d", vp)) and "not shown" not in vp and str(check.get("volume_pages", "")).startswith("confirmed")


def _not_modelled(study: Study, m: Measurement) -> str:
    """Observables the model cannot produce for this arm (said, never silently scored)."""
    arm = study.formulations.get(m.arm or m.numerator or "")
    if m.observable == "survival_median_d" and arm is not None and arm.subject.species == "human":
        return "human survival is not modelled (no humane endpoint)"     # model/therapy/survival.py
    if m.observable == "survival_median_d" and arm is not None and arm.subject.tumor is None:
        return "the arm has no tumor"
    if m.observable in ("tumor_pct_id", "tumor_pct_id_per_g", "tumor_volume_mm3", "tgi_pct", "tumor_temperature_C") \
            and arm is not None and arm.subject.tumor is None:
        return "the arm has no tumor"
    timeless = ("t_half_h", "auc", "survival_median_d")      # whole-curve quantities: no sampling time needed
    if m.t_h is None and m.observable not in timeless and not (m.observable == "fold" and m.of in timeless):
        return "no time stated"
    if m.observable == "auc" and (m.unit or "pct_id_h") not in ("pct_id_h", "mg_h_per_L"):
        return f"AUC unit {m.unit!r} not supported"
    arm_data = next((a for a in study.data.arms if a.id == m.arm), None)
    if m.observable == "auc" and m.unit == "mg_h_per_L" and arm_data is not None \
            and "dose.mg_per_kg" in arm_data.assumed:
        return "an AUC in mg h/L needs the dose in mg, which the paper gives per body surface area (not modelled)"
    if m.observable == "released_pct" and arm is not None and (not arm.payloads or arm.payloads[0].release is None):
        return "the paper's release law is not written in the arm (no release model to compare)"
    if m.value is not None and m.value <= 0 and m.observable in RATIO_SCALE:
        return "a ratio-scale value <= 0 cannot be compared on a log scale"
    return ""


@lru_cache(maxsize=1)
def load_base() -> tuple[Study, ...]:
    """Every study of the evidence base (package data), checked; raises EvidenceError on a broken file."""
    studies = [read_study(p) for p in sorted(studies_dir().glob("*.yaml"))]
    ids = [s.id for s in studies]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise EvidenceError(f"duplicate study id(s): {', '.join(sorted(dup))}")
    return tuple(studies)


def study(study_id: str) -> Study:
    from nanocloak.errors import did_you_mean

    found = {s.id: s for s in load_base()}
    if study_id not in found:
        raise EvidenceError(f"no study {study_id!r} in the evidence base{did_you_mean(study_id, list(found))}; "
                            "`nanocloak evidence list` shows them")
    return found[study_id]
