"""Resolve a formulation into every model parameter, each with its value, unit and source.

The resolution runs in dependency order (physiology -> particle -> effect factors -> effective
organ parameters -> per-class and per-dose factors). `model.overrides` may replace any named
value at the point it is produced, so an overridden factor flows into everything computed from
it, and an overridden effective value is used as is. `parameters.csv` is this table.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nanocloak.library import calibrations as calibration
from nanocloak.surface import coating
from nanocloak.surface import extravasation
from nanocloak.surface import immunity
from nanocloak.library import tables as library
from nanocloak.surface import stealth as phagocytosis
from nanocloak.body import species as physiology
from nanocloak.surface import targeting
from nanocloak.errors import FormulationError, Problem, did_you_mean
from nanocloak.spec.formulation import Formulation
from nanocloak.model.particle import LIVER, N_ORGANS, ORGANS, TUMOR, ParticleSystem

MPS_ORGANS = ("lung", "heart", "liver", "spleen", "kidney", "brain", "muscle", "rest")


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    unit: str
    source: str
    description: str = ""


_SHARED_META: dict[tuple[str, str, str], tuple[str, str, str]] = {}


def override_range(name: str, unit: str) -> dict:
    """The allowed range of a parameter (data/parameter_ranges.yaml): by name pattern, unit, default."""
    import fnmatch

    table = library.table("parameter_ranges")
    for pattern, rng in table["by_name"].items():
        if fnmatch.fnmatchcase(name, pattern):
            return rng
    return table["by_unit"].get(unit, table["default"])


def check_override(name: str, value: float, unit: str) -> None:
    """A user's replacement value within its parameter's physical range, or a FormulationError."""
    rng = override_range(name, unit)
    lo, hi = library.value(rng["min"]), library.value(rng["max"])
    low_ok = value > lo if rng.get("min_exclusive") else value >= lo
    if not (math.isfinite(value) and low_ok and value <= hi):
        bound = f"{'>' if rng.get('min_exclusive') else '>='} {lo:g} and <= {hi:g}"
        raise FormulationError([Problem(f"model.overrides.{name}", f"{value:g} is outside its allowed range "
                                        f"({bound} {unit}; {rng['min']['source']})")])


class ParameterSet:
    """Ordered named parameters; overrides are applied as each name is first set."""

    def __init__(self, overrides: dict[str, float] | None = None, describe: bool = True,
                 override_label: dict[str, str] | None = None):
        self._values: dict[str, float] = {}
        self._meta: dict[str, tuple[str, str, str]] = {}   # name -> (unit, source, description)
        self._overrides = dict(overrides or {})
        self._label = override_label or {}                  # name -> where a non-user override comes from
        self._used: set[str] = set()
        #: False in batch runs: values only, sources composed later if a table is asked for
        self.describe = describe

    def set(self, name: str, value: float, unit: str, source, description: str = "") -> float:
        """Record a parameter; `source` may be a callable, called only when descriptions are kept."""
        if name in self._overrides:
            value = self._overrides[name]
            check_override(name, value, unit)
            self._used.add(name)
        value = float(value)
        self._values[name] = value
        if self.describe:
            text = source() if callable(source) else source
            if name in self._used:
                text = self._label.get(name) or f"model.overrides (default replaced; {text})"
            name = sys.intern(name)                     # shared across results: small pickles
            meta = (unit, text, description)
            self._meta[name] = _SHARED_META.setdefault(meta, meta)
        return value

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def parameter(self, name: str) -> Parameter:
        return Parameter(name, self._values[name], *self._meta.get(name, ("", "", "")))

    def __iter__(self):
        return (self.parameter(n) for n in self._values)

    def __len__(self) -> int:
        return len(self._values)

    def names(self) -> list[str]:
        return list(self._values)

    def table(self) -> pd.DataFrame:
        rows = [(n, v, *self._meta.get(n, ("", "", ""))) for n, v in self._values.items()]
        return pd.DataFrame(rows, columns=["name", "value", "unit", "source", "description"])

    def unknown_overrides(self) -> list[str]:
        return [k for k in self._overrides if k not in self._used]


@dataclass
class ResolvedFormulation:
    """Everything the solver needs for one formulation."""

    formulation: Formulation
    params: ParameterSet
    physiology: physiology.Physiology
    classes: list[phagocytosis.CoatingClass]
    class_uptake_ratio: list[float]        # MPS uptake of each class / the main class
    class_tumor_ratio: list[float]         # tumor cellular uptake of each class / the main class
    dose_times_h: list[float]
    dose_factors: list[float]
    organ_masses_g: dict[str, float] = field(default_factory=dict)
    #: set by the therapy model: heat-opened tumor vessels (start h, end h, factor) and the tumor's
    #: temperature T(t) for hyperthermia-triggered release
    heat_windows: list = field(default_factory=list)
    tumor_temperature: object = None
    #: per coating class: the MPS uptake ramp's half-time when it differs from the organs' (the
    #: opsonised share, captured at once), else None
    class_t50_h: list = field(default_factory=list)

    @property
    def n_elements(self) -> int:
        return len(self.classes) * len(self.dose_times_h)

    def parameter_table(self) -> pd.DataFrame:
        """Every parameter with value, unit and source (re-resolved if the batch skipped sources)."""
        if self.params.describe:
            return self.params.table()
        return resolve(self.formulation, describe=True).params.table()


def _calibrated(ps: ParameterSet, name: str, unit: str, description: str, cal: str | None = None) -> float:
    c = calibration.entry(name, cal)
    return ps.set(f"calibration.{name}", c.value, unit, c.source, description)


def _tumor_site_value(site: str, key: str) -> library.Sourced:
    sites = library.table("tumor")["sites"]
    node = sites.get(site) or sites["subcutaneous"]
    return library.sourced(node[key], f"tumor.sites.{site}.{key}")


def _organ_source(sp: dict):
    """organ_src(name, key)(): the source text of a species' organ value, composed only when asked."""
    def organ_src(name, key):
        return lambda: library.sourced(sp["organs"][name][key]).source
    return organ_src


def _resolve_body(f: Formulation, ps: ParameterSet, sp: dict, site: str):
    """Species physiology for this animal, with the tumor carved out of the 'rest' remainder."""
    tumor = f.subject.tumor
    bw_kg = f.subject.body_weight_g / 1000.0
    # --- tumor size and flow first: they come out of the 'rest' remainder ---------------------
    if tumor is not None:
        vt = ps.set("tumor.VTC", tumor.volume_mm3 * 1e-6 / bw_kg, "fraction of BW",
                    "subject.tumor.volume_mm3 (density 1 g/mL)", "tumor volume fraction of body weight (Cheng 2020 VTC)")
        s = _tumor_site_value(site, "QTC")
        qtc = ps.set("tumor.QTC", s.value, "fraction of cardiac output", s.source, "tumor blood flow (Cheng 2020 QTC)")
        tumor_volume_L, tumor_flow_fraction = vt * bw_kg, qtc
    else:
        tumor_volume_L, tumor_flow_fraction = 0.0, 0.0
    derived = [k for k in physiology.DERIVED_PHYSIOLOGY if k in f.model.overrides]
    if derived:
        raise FormulationError([Problem(f"model.overrides.{k}", "is derived (lung flow = cardiac output; 'rest' = the "
                                        "remainder of body weight and cardiac output): override cardiac_output_L_per_h "
                                        "or the other organs instead") for k in derived])
    phys = physiology.build(f.subject.species, f.subject.body_weight_g, tumor_volume_L, tumor_flow_fraction,
                            f.model.overrides)

    ps.set("body_weight_kg", bw_kg, "kg", "subject.body_weight_g")
    ps.set("cardiac_output_L_per_h", phys.cardiac_output_L_per_h, "L/h",
           lambda: library.sourced(sp["cardiac_output_L_per_h_per_kg075"]).source, "QCC x BW^0.75")
    ps.set("blood_volume_L", phys.blood_volume_L, "L", lambda: library.sourced(sp["blood_volume_fraction"]).source)
    ps.set("arterial_fraction", phys.arterial_fraction, "fraction of central blood",
           lambda: library.sourced(sp["arterial_fraction_of_central_blood"]).source)
    organ_src = _organ_source(sp)
    for name, o in phys.organs.items():
        src_v = "remainder of body weight" if name == "rest" else organ_src(name, "volume_fraction")
        src_q = ("cardiac output" if name == "lung" else "remainder of cardiac output" if name == "rest"
                 else organ_src(name, "blood_flow_fraction"))
        ps.set(f"{name}.volume_L", o.volume_L, "L", src_v)
        ps.set(f"{name}.blood_flow_L_per_h", o.flow_L_per_h, "L/h", src_q,
               "hepatic artery only; the spleen outflow joins it" if name == "liver" else "")
        ps.set(f"{name}.vascular_fraction", o.vascular_fraction, "fraction", organ_src(name, "vascular_fraction"))
        ps.set(f"{name}.partition", o.partition, "-", organ_src(name, "partition_coefficient"), "tissue:blood")

    return phys, tumor_volume_L


def _resolve_free_drug(f: Formulation, ps: ParameterSet, phys, site: str, tumor_volume_L: float) -> ResolvedFormulation:
    """A drug given as a plain solution: the body and the tumor, no particle."""
    for key in ("hydrodynamic_diameter_nm", "zeta_coated_mV"):
        ps.set(f"particle.{key}", math.nan, "-", "no particle (core.material: free)")
    if f.subject.tumor is not None:
        for key, unit in (("BVT", "fraction"), ("PT", "-")):
            s = _tumor_site_value(site, key)
            ps.set(f"tumor.{key}", s.value, unit, s.source)
    unknown = ps.unknown_overrides()
    if unknown:
        raise FormulationError([Problem(f"model.overrides.{k}", f"not a model parameter{did_you_mean(k, ps.names())}; "
                                        "`nanocloak params FILE` lists the names") for k in unknown])
    masses = {name: ps[f"{name}.volume_L"] * 1000.0 for name in MPS_ORGANS}
    if f.subject.tumor is not None:
        masses["tumor"] = tumor_volume_L * 1000.0
    free = phagocytosis.CoatingClass(1.0, 0.0, "free drug")
    return ResolvedFormulation(f, ps, phys, [free], [1.0], [1.0], list(f.dose.times_h), [1.0] * len(f.dose.times_h), masses)


def _overrides(f: Formulation) -> tuple[dict[str, float], dict[str, str]]:
    """The formulation's overrides, on top of learned tumor parameters when asked for (with labels
    saying where those came from)."""
    if f.model.tumor_parameters != "learned" or f.subject.tumor is None or f.core.is_free_drug:
        return f.model.overrides, {}
    from nanocloak.learn import tumor_overrides

    learned = tumor_overrides(f)
    label = "learned from the Nano-Tumor Database for this particle and tumor (model.tumor_parameters: learned; docs/learning.md)"
    return {**learned, **f.model.overrides}, {k: label for k in learned if k not in f.model.overrides}


def resolve(f: Formulation, describe: bool = True) -> ResolvedFormulation:
    """All parameters of a formulation (raises FormulationError for unknown override names).

    describe=False skips composing each parameter's source text (batch runs); the table of
    ResolvedFormulation.parameter_table() re-resolves with descriptions when asked for."""
    overrides, labels = _overrides(f)
    ps = ParameterSet(overrides, describe, labels)
    sp = physiology.species_entry(f.subject.species)
    tumor = f.subject.tumor
    site = tumor.site if tumor else "subcutaneous"
    phys, tumor_volume_L = _resolve_body(f, ps, sp, site)
    if f.core.is_free_drug:
        return _resolve_free_drug(f, ps, phys, site, tumor_volume_L)
    organ_src = _organ_source(sp)

    # --- the particle as the body sees it -----------------------------------------------------
    d_h = ps.set("particle.hydrodynamic_diameter_nm", coating.hydrodynamic_diameter_nm(f), "nm",
                 "core equivalent diameter + 2 x coat (coating.py)")
    zeta = ps.set("particle.zeta_coated_mV", coating.coated_zeta_mV(f), "mV", "coating.coated_zeta_mV")
    ps.set("particle.coverage_fraction", coating.coverage_fraction(f), "fraction",
                      "coating method mean, capped by membrane supply (coating.py)")
    mat = library.entry("materials", f.core.material)
    half_life = library.sourced(mat["degradation_half_life_h"], f"materials.{f.core.material}")
    t_half = ps.set("particle.degradation_half_life_h", half_life.value, "h", half_life.source)
    site = str(mat.get("degradation_site", "everywhere"))
    rate = 0.0 if math.isinf(t_half) else math.log(2) / t_half
    ps.set("particle.degradation_rate_pc_per_h", rate, "1/h", "ln 2 / degradation half-life", "inside phagocytic cells")
    ps.set("particle.degradation_rate_per_h", rate if site == "everywhere" else 0.0, "1/h",
           f"materials.{f.core.material}.degradation_site: {site}", "in blood and tissue")

    # --- effect factors -----------------------------------------------------------------------
    cal = f.model.calibration
    mps_scale = _calibrated(ps, "mps_uptake_scale", "-", "scales tabulated PC uptake rates (Lin 2016) to a bare core", cal)
    mps_t50 = _calibrated(ps, "mps_uptake_t50_h", "h", "time since dose of half-maximal phagocytic uptake", cal)
    mps_hill = _calibrated(ps, "mps_uptake_hill", "-", "Hill coefficient of the uptake ramp", cal)
    classes = phagocytosis.with_early_capture(f, phagocytosis.coating_classes(f))
    main = max(range(len(classes)), key=lambda i: (not classes[i].opsonised, classes[i].coverage, classes[i].weight))
    rbc_factor = _calibrated(ps, "rbc_phagocytic_uptake_factor", "x bare", "MPS uptake of a fully RBC-coated particle", cal)
    early_factor = _calibrated(ps, "early_capture_uptake_factor", "x", "MPS uptake of the opsonised share over its class", cal)
    early_t50 = _calibrated(ps, "early_capture_t50_h", "h", "half-time of the opsonised share's capture ramp", cal)
    spleen_factor = _calibrated(ps, "spleen_uptake_factor", "x", "splenic macrophage uptake over the tabulated rate", cal)
    recognition = [phagocytosis.recognition_factor(f, c, rbc_factor) * (early_factor if c.opsonised else 1.0)
                   for c in classes]
    rec_main = ps.set("effect.surface_recognition_factor", recognition[main], "x bare",
                      "phagocytosis.recognition_factor (membrane: calibrated RBC scale x membranes.yaml; PEG: surface_effects.yaml)",
                      "MPS uptake of the main coating class relative to a bare core")
    charge = ps.set("effect.charge_factor", phagocytosis.charge_factor(zeta, cal), "x", "phagocytosis.charge_factor")
    size_liver = ps.set("effect.liver_size_factor", phagocytosis.liver_size_factor(d_h, cal), "x", "phagocytosis.liver_size_factor")
    size_spleen = ps.set("effect.spleen_size_factor", phagocytosis.spleen_size_factor(d_h, cal), "x", "phagocytosis.spleen_size_factor")
    ligand_mps = ps.set("effect.ligand_mps_factor", phagocytosis.ligand_recognition_factor(f), "x", "ligands.yaml")
    sieving = ps.set("effect.glomerular_sieving", extravasation.glomerular_sieving(d_h), "fraction",
                     "pore theory, vascular_beds.glomerulus (Choi 2007 cut-off)")

    # --- effective organ parameters -----------------------------------------------------------
    ref = library.sourced(library.table("surface_effects")["size"]["pac_reference_diameter_nm"])
    d_ref = ps.set("effect.pac_reference_diameter_nm", ref.value, "nm", ref.source, "particle size behind the tabulated PACs")
    for name in MPS_ORGANS:
        o = phys.organs[name]
        perm = ps.set(f"effect.{name}.permeability_factor", extravasation.permeability_factor(d_h, o.vascular_bed, d_ref), "x",
                      lambda: f"pore theory, vascular bed '{o.vascular_bed}' (extravasation.py)")
        base_pa = o.pac * o.flow_L_per_h
        ps.set(f"{name}.pa_L_per_h", base_pa * perm, "L/h",
               lambda: f"{organ_src(name, 'permeability_coefficient')()} x flow x size factor",
               "permeability-surface area product")
        size = size_liver if name == "liver" else size_spleen * spleen_factor if name == "spleen" else 1.0
        kmax = o.pc_kmax_per_h * mps_scale * rec_main * charge * size * ligand_mps
        ps.set(f"{name}.pc_uptake_max_per_h", kmax, "1/h",
               lambda: f"{organ_src(name, 'pc_uptake_max_per_h')()} x calibrated scale x effect factors",
               "phagocytic uptake (liver: from capillary blood, Kupffer cells)")
        ps.set(f"{name}.pc_uptake_t50_h", mps_t50, "h", "calibration.mps_uptake_t50_h")
        ps.set(f"{name}.pc_uptake_hill", mps_hill, "-", "calibration.mps_uptake_hill")
        ps.set(f"{name}.pc_release_per_h", o.pc_release_per_h, "1/h", organ_src(name, "pc_release_per_h"))

    ps.set("kidney.urine_clearance_L_per_h", phys.urine_clearance_L_per_h + phys.gfr_L_per_h * sieving, "L/h",
           "Lin 2016 urine clearance + GFR x glomerular sieving", "from kidney capillary blood")
    ps.set("liver.bile_clearance_L_per_h", phys.bile_clearance_L_per_h, "L/h",
           lambda: library.sourced(sp["bile_clearance_L_per_h_per_kg075"]).source, "from liver tissue")

    class_tumor_ratio = [1.0] * len(classes)
    if tumor is not None:
        _resolve_tumor(f, ps, classes, main, d_h, site, class_tumor_ratio)

    # --- per class and per dose ---------------------------------------------------------------
    uptake_ratio = [recognition[i] / recognition[main] for i in range(len(classes))]
    for i, c in enumerate(classes):
        ps.set(f"class{i + 1}.weight", c.weight, "fraction of dose", lambda c=c: f"coating classes ({c.label})")
        ps.set(f"class{i + 1}.coverage_fraction", c.coverage, "fraction", "class mean coverage")
        uptake_ratio[i] = ps.set(f"class{i + 1}.uptake_ratio", uptake_ratio[i], "x main class",
                                 "recognition of this class / main class")
    factors = immunity.dose_clearance_factors(f)
    for k, (t, fac) in enumerate(zip(f.dose.times_h, factors)):
        factors[k] = ps.set(f"dose{k + 1}.clearance_factor", fac, "x", "immunity.dose_clearance_factors",
                            "phagocytic uptake multiplier of this dose (anti-PEG / anti-donor antibodies)")

    unknown = ps.unknown_overrides()
    if unknown:
        names = ps.names()
        raise FormulationError([Problem(f"model.overrides.{k}", f"not a model parameter{did_you_mean(k, names)}; "
                                        "`nanocloak params FILE` lists the names") for k in unknown])
    physiology.check_blood_budget(phys, ps["tumor.BVT"] * tumor_volume_L if tumor is not None else 0.0)
    masses = {name: ps[f"{name}.volume_L"] * 1000.0 for name in MPS_ORGANS}
    if tumor is not None:
        masses["tumor"] = tumor_volume_L * 1000.0
    class_t50 = [early_t50 if c.opsonised else None for c in classes]
    return ResolvedFormulation(f, ps, phys, classes, uptake_ratio, class_tumor_ratio, list(f.dose.times_h), factors, masses,
                               class_t50_h=class_t50)


def _resolve_tumor(f, ps, classes, main, d_h, site, class_tumor_ratio):
    """Tumor compartment in Cheng 2020's definitions (QTC, VTC, BVT, PT, PATC, KTRES*)."""
    for key, unit, desc in (("BVT", "fraction", "tumor capillary blood fraction"),
                            ("PT", "-", "tumor:blood partition coefficient"),
                            ("KTRES50", "h", "time of half-maximal tumor cellular uptake"),
                            ("KTRESn", "-", "Hill coefficient of tumor uptake"),
                            ("KTRESrelease", "1/h", "release from tumor cellular compartment")):
        s = _tumor_site_value(site, key)
        ps.set(f"tumor.{key}", s.value, unit, s.source, desc)
    ref = _tumor_site_value(site, "median_hydrodynamic_diameter_nm")
    perm = ps.set("effect.tumor.permeability_factor", extravasation.permeability_factor(d_h, "tumor", ref.value), "x",
                  lambda: f"pore theory, vascular bed 'tumor', relative to the NTD median particle ({ref.value:g} nm)")
    bbb_site = site == "brain" and targeting.crosses_blood_brain_barrier(f)
    patc_src = _tumor_site_value("subcutaneous" if bbb_site else site, "PATC")
    c_main = classes[main].coverage
    membrane_perm = ps.set("effect.tumor_membrane_permeability_factor", targeting.membrane_tumor_permeability_factor(f, c_main),
                           "x", "membranes.yaml tumor_permeability_factor")
    ps.set("tumor.PATC", patc_src.value * perm * membrane_perm, "fraction of tumor blood flow",
           lambda: f"{patc_src.source} x size x membrane factors" + ("; BBB bypassed (ligand/neutrophil)" if bbb_site else ""),
           "tumor permeability-surface area coefficient")
    membrane_uptake = ps.set("effect.tumor_membrane_uptake_factor", targeting.membrane_tumor_uptake_factor(f, c_main), "x",
                             "membranes.yaml (homotypic / tropism / adhesion, by fraction and coverage)")
    ligand_uptake = ps.set("effect.tumor_ligand_uptake_factor", targeting.ligand_tumor_uptake_factor(f), "x",
                           "ligands.yaml x receptor level (cell_lines.yaml) x occupancy")
    kmax = _tumor_site_value(site, "KTRESmax")
    ps.set("tumor.KTRESmax", kmax.value * membrane_uptake * ligand_uptake, "1/h",
           lambda: f"{kmax.source} x targeting factors", "max uptake rate of the tumor's cellular compartment")
    for i, c in enumerate(classes):
        class_tumor_ratio[i] = targeting.membrane_tumor_uptake_factor(f, c.coverage) / membrane_uptake


# ------------------------------------------------------------------------------------------------
# parameters -> batched linear system
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Circulation:
    """Volumes (L) and flows (L/h) of the circulation shared by the particle and drug models."""

    q_in: np.ndarray        # arterial inflow per organ (lung: cardiac output; absent tumor: 0)
    v_cap: np.ndarray       # organ vascular volumes
    v_tis: np.ndarray       # organ extravascular volumes
    v_art: float
    v_ven: float
    q_cardiac: float
    v_blood: float

    @property
    def organ_volume(self) -> np.ndarray:
        return self.v_cap + self.v_tis


def circulation(ps: ParameterSet, has_tumor: bool) -> Circulation:
    q_in, v_cap, v_tis = np.zeros(N_ORGANS), np.ones(N_ORGANS), np.ones(N_ORGANS)
    for j, name in enumerate(ORGANS):
        if name == "tumor":
            continue
        vol = ps[f"{name}.volume_L"]
        q_in[j] = ps[f"{name}.blood_flow_L_per_h"]
        v_cap[j] = vol * ps[f"{name}.vascular_fraction"]
        v_tis[j] = vol - v_cap[j]
    if has_tumor:  # an absent tumor keeps no flow, no exchange and unit volumes (never filled)
        vt = ps["tumor.VTC"] * ps["body_weight_kg"]
        q_in[TUMOR] = ps["tumor.QTC"] * ps["cardiac_output_L_per_h"]
        v_cap[TUMOR] = vt * ps["tumor.BVT"]
        v_tis[TUMOR] = vt - v_cap[TUMOR]
    central = ps["blood_volume_L"] - float((v_cap * (q_in > 0)).sum())
    return Circulation(q_in, v_cap, v_tis, central * ps["arterial_fraction"], central * (1 - ps["arterial_fraction"]),
                       ps["cardiac_output_L_per_h"], ps["blood_volume_L"])


def _class_k50(r: ResolvedFormulation, k50: np.ndarray, class_of: np.ndarray, n: int) -> np.ndarray:
    """(organs, elements) uptake-ramp half-times: the organs' values, or a class's own in the MPS
    organs (the opsonised share's fast ramp; the tumor keeps its own)."""
    out = np.repeat(k50[:, None], n, axis=1)
    for e, c in enumerate(class_of):
        t50 = r.class_t50_h[c] if c < len(r.class_t50_h) else None
        if t50 is not None:
            out[[j for j in range(N_ORGANS) if j != TUMOR], e] = t50
    return out


def particle_systems(r: ResolvedFormulation) -> tuple[ParticleSystem, np.ndarray, np.ndarray]:
    """One ParticleSystem element per (coating class, dose); returns (system, weights, dose times).

    Elements share every parameter but the PC uptake, which scales with the coating class (and, for
    the tumor, with its targeting) and with the dose's repeat-dose clearance factor."""
    ps = r.params
    has_tumor = r.formulation.subject.tumor is not None
    circ = circulation(ps, has_tumor)
    q_in, v_cap, v_tis = circ.q_in, circ.v_cap, circ.v_tis
    pa, part, kmax = np.zeros(N_ORGANS), np.ones(N_ORGANS), np.zeros(N_ORGANS)
    k50, hill, krel = np.ones(N_ORGANS), np.ones(N_ORGANS), np.zeros(N_ORGANS)
    for j, name in enumerate(ORGANS):
        if name == "tumor":
            continue
        pa[j], part[j] = ps[f"{name}.pa_L_per_h"], ps[f"{name}.partition"]
        kmax[j] = ps[f"{name}.pc_uptake_max_per_h"]
        k50[j], hill[j] = ps[f"{name}.pc_uptake_t50_h"], ps[f"{name}.pc_uptake_hill"]
        krel[j] = ps[f"{name}.pc_release_per_h"]
    if has_tumor:
        pa[TUMOR], part[TUMOR] = ps["tumor.PATC"] * q_in[TUMOR], ps["tumor.PT"]
        kmax[TUMOR], k50[TUMOR], hill[TUMOR] = ps["tumor.KTRESmax"], ps["tumor.KTRES50"], ps["tumor.KTRESn"]
        krel[TUMOR] = ps["tumor.KTRESrelease"]
    n_doses = len(r.dose_times_h)
    n = len(r.classes) * n_doses
    class_of = np.repeat(np.arange(len(r.classes)), n_doses)
    dose_of = np.tile(np.arange(n_doses), len(r.classes))
    scale = np.empty((N_ORGANS, n))
    scale[:] = (np.asarray(r.class_uptake_ratio)[class_of] * np.asarray(r.dose_factors)[dose_of])[None, :]
    scale[TUMOR] = np.asarray(r.class_tumor_ratio)[class_of]
    kmax_all = kmax[:, None] * scale
    from_cap = np.zeros((N_ORGANS, 1), dtype=bool)
    from_cap[LIVER] = True
    col = lambda a: np.repeat(a[:, None], n, axis=1)  # noqa: E731
    full = lambda v: np.full(n, v)  # noqa: E731
    system = ParticleSystem(
        v_art=full(circ.v_art), v_ven=full(circ.v_ven),
        v_blood_total=full(ps["blood_volume_L"]), q_cardiac=full(ps["cardiac_output_L_per_h"]),
        q_in=col(q_in), v_cap=col(v_cap), v_tis=col(v_tis), pa=col(pa), partition=col(part),
        kmax_cap=np.where(from_cap, kmax_all, 0.0), kmax_tis=np.where(from_cap, 0.0, kmax_all),
        k50=_class_k50(r, k50, class_of, n), hill=col(hill),
        krel_cap=np.where(from_cap, col(krel), 0.0), krel_tis=np.where(from_cap, 0.0, col(krel)),
        cl_urine=full(ps["kidney.urine_clearance_L_per_h"]), cl_bile=full(ps["liver.bile_clearance_L_per_h"]),
        k_deg=full(ps["particle.degradation_rate_per_h"]),
        k_deg_pc=full(ps["particle.degradation_rate_pc_per_h"]),
    )
    weights = np.asarray([c.weight for c in r.classes])[class_of]
    t_dose = np.asarray(r.dose_times_h, dtype=float)[dose_of]
    if r.heat_windows:
        # one window per element: the span of all heat windows at the strongest factor
        start = min(w[0] for w in r.heat_windows)
        end = max(w[1] for w in r.heat_windows)
        factor = max(w[2] for w in r.heat_windows)
        system.perm_start = np.maximum(start - t_dose, 0.0)
        system.perm_end = np.maximum(end - t_dose, 0.0)
        system.perm_factor = np.full(n, factor)
    return system, weights, t_dose
