"""Resolve a formulation into every model parameter, each with its value, unit and source.

The resolution runs in dependency order, one small function per effect: body (physiology) ->
particle (size, charge, coverage, degradation) -> surface effect factors (stealth, charge, size,
ligands; surface/) -> effective organ parameters -> tumor (tumor.py) -> coating classes and doses.
`model.overrides` may replace any named value at the point it is produced, so an overridden factor
flows into everything computed from it. `parameters.csv` is this table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nanocloak.body import species as physiology
from nanocloak.errors import FormulationError, Problem, did_you_mean
from nanocloak.library import tables as library
from nanocloak.model.parameters.body import organ_source, resolve_body, resolve_free_drug
from nanocloak.model.parameters.core import MPS_ORGANS, ParameterSet, ResolvedFormulation, calibrated
from nanocloak.model.parameters.route import resolve_route
from nanocloak.model.parameters.tumor import resolve_tumor
from nanocloak.spec.formulation import Formulation
from nanocloak.surface import coating, extravasation, immunity
from nanocloak.surface import stealth as phagocytosis


def resolve(f: Formulation, describe: bool = True, tumor_overrides: tuple = ()) -> ResolvedFormulation:
    """All parameters of a formulation (raises FormulationError for unknown override names).

    describe=False skips composing each parameter's source text (batch runs); the table of
    ResolvedFormulation.parameter_table() re-resolves with descriptions when asked for.
    tumor_overrides: (name, value, label) triples handed in from above (learned tumor parameters,
    simulate/simulation.py); the formulation's own overrides win over them."""
    learned = {name: value for name, value, _ in tumor_overrides if name not in f.model.overrides}
    labels = {name: label for name, _, label in tumor_overrides if name in learned}
    ps = ParameterSet({**learned, **f.model.overrides}, describe, labels)
    sp = physiology.species_entry(f.subject.species)
    tumor = f.subject.tumor
    site = tumor.site if tumor else "subcutaneous"
    phys, tumor_volume_L = resolve_body(f, ps, sp, site)
    if f.core.is_free_drug:
        free = resolve_free_drug(f, ps, phys, site, tumor_volume_L)
        free.resolver = resolve
        return free
    d_h, zeta = _resolve_particle(f, ps)
    resolve_route(f, ps, d_h)
    effects = _resolve_effects(f, ps, d_h, zeta)
    _resolve_organs(f, ps, phys, sp, d_h, effects)
    class_tumor_ratio = [1.0] * len(effects.classes)
    if tumor is not None:
        resolve_tumor(f, ps, effects.classes, effects.main, d_h, site, class_tumor_ratio)
    uptake_ratio, peripheral_ratio = _resolve_classes(ps, effects)
    factors = _resolve_doses(f, ps)
    saturation = _resolve_saturation(f, ps)
    _refuse_unknown_overrides(ps)
    physiology.check_blood_budget(phys, ps["tumor.BVT"] * tumor_volume_L if tumor is not None else 0.0)
    masses = {name: ps[f"{name}.volume_L"] * 1000.0 for name in MPS_ORGANS}
    if tumor is not None:
        masses["tumor"] = tumor_volume_L * 1000.0
    class_t50 = [effects.early_t50 if c.opsonised else None for c in effects.classes]
    return ResolvedFormulation(f, ps, phys, effects.classes, uptake_ratio, class_tumor_ratio, list(f.dose.times_h),
                               factors, masses, class_t50_h=class_t50, class_peripheral_ratio=peripheral_ratio,
                               dose_mps_saturation=saturation,
                               tumor_overrides=tuple(tumor_overrides),
                               resolver=resolve)


def _resolve_particle(f: Formulation, ps: ParameterSet) -> tuple[float, float]:
    """The particle as the body sees it: hydrodynamic size, coated charge, coverage, degradation."""
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
    return d_h, zeta


@dataclass
class Effects:
    """The surface's effect factors on phagocytic uptake (surface/stealth.py)."""

    classes: list
    main: int
    recognition: list[float]
    recognition_plain: list[float]   # without the opsonised share's early-capture factor (peripheral organs)
    rec_main: float          # the main class's recognition as used (an override replaces it)
    mps_scale: float
    mps_t50: float
    mps_hill: float
    early_t50: float
    spleen_factor: float
    peripheral_factor: float   # uptake in the organs other than liver and spleen over the tabulated rates
    charge: float
    size_liver: float
    size_spleen: float
    ligand_mps: float
    sieving: float


def _resolve_effects(f: Formulation, ps: ParameterSet, d_h: float, zeta: float) -> Effects:
    cal = f.model.calibration
    mps_scale = calibrated(ps, "mps_uptake_scale", "-", "scales tabulated PC uptake rates (Lin 2016) to a bare core", cal)
    mps_t50 = calibrated(ps, "mps_uptake_t50_h", "h", "time since dose of half-maximal phagocytic uptake", cal)
    mps_hill = calibrated(ps, "mps_uptake_hill", "-", "Hill coefficient of the uptake ramp", cal)
    classes = phagocytosis.with_early_capture(f, phagocytosis.coating_classes(f))
    main = max(range(len(classes)), key=lambda i: (not classes[i].opsonised, classes[i].coverage, classes[i].weight))
    rbc_factor = calibrated(ps, "rbc_phagocytic_uptake_factor", "x bare", "MPS uptake of a fully RBC-coated particle", cal)
    early_factor = calibrated(ps, "early_capture_uptake_factor", "x", "MPS uptake of the opsonised share over its class", cal)
    early_t50 = calibrated(ps, "early_capture_t50_h", "h", "half-time of the opsonised share's capture ramp", cal)
    spleen_factor = calibrated(ps, "spleen_uptake_factor", "x", "splenic macrophage uptake over the tabulated rate", cal)
    peripheral_factor = ps.set("effect.peripheral_uptake_factor", phagocytosis.peripheral_uptake_factor(cal), "x",
                               "surface_effects.organs.peripheral_uptake_factor (calibrated)",
                               "phagocytic uptake of lung, heart, kidney, muscle, rest over the tabulated rates")
    recognition_plain = [phagocytosis.recognition_factor(f, c, rbc_factor) for c in classes]
    recognition = [r * (early_factor if c.opsonised else 1.0) for r, c in zip(recognition_plain, classes)]
    rec_main = ps.set("effect.surface_recognition_factor", recognition[main], "x bare",
                      "phagocytosis.recognition_factor (membrane: calibrated RBC scale x membranes.yaml; PEG: "
                      "surface_effects.yaml)", "MPS uptake of the main coating class relative to a bare core")
    charge = ps.set("effect.charge_factor", phagocytosis.charge_factor(zeta, cal), "x", "phagocytosis.charge_factor")
    size_liver = ps.set("effect.liver_size_factor", phagocytosis.liver_size_factor(d_h, cal), "x",
                        "phagocytosis.liver_size_factor")
    size_spleen = ps.set("effect.spleen_size_factor", phagocytosis.spleen_size_factor(d_h, cal), "x",
                         "phagocytosis.spleen_size_factor")
    ligand_mps = ps.set("effect.ligand_mps_factor", phagocytosis.ligand_recognition_factor(f), "x", "ligands.yaml")
    sieving = ps.set("effect.glomerular_sieving", extravasation.glomerular_sieving(d_h), "fraction",
                     "pore theory, vascular_beds.glomerulus (Choi 2007 cut-off)")
    return Effects(classes, main, recognition, recognition_plain, rec_main, mps_scale, mps_t50, mps_hill, early_t50,
                   spleen_factor, peripheral_factor, charge, size_liver, size_spleen, ligand_mps, sieving)


def _resolve_organs(f: Formulation, ps: ParameterSet, phys, sp: dict, d_h: float, e: Effects) -> None:
    """Effective organ parameters: permeability by pore theory, phagocytic uptake by the effects."""
    organ_src = organ_source(sp)
    ref = library.sourced(library.table("surface_effects")["size"]["pac_reference_diameter_nm"])
    d_ref = ps.set("effect.pac_reference_diameter_nm", ref.value, "nm", ref.source, "particle size behind the tabulated PACs")
    rec_main = e.rec_main
    for name in MPS_ORGANS:
        o = phys.organs[name]
        perm = ps.set(f"effect.{name}.permeability_factor", extravasation.permeability_factor(d_h, o.vascular_bed, d_ref),
                      "x", lambda o=o: f"pore theory, vascular bed '{o.vascular_bed}' (extravasation.py)")
        ps.set(f"{name}.pa_L_per_h", o.pac * o.flow_L_per_h * perm, "L/h",
               lambda name=name: f"{organ_src(name, 'permeability_coefficient')()} x flow x size factor",
               "permeability-surface area product")
        size = e.size_liver if name == "liver" else e.size_spleen * e.spleen_factor if name == "spleen" \
            else e.peripheral_factor
        kmax = o.pc_kmax_per_h * e.mps_scale * rec_main * e.charge * size * e.ligand_mps
        ps.set(f"{name}.pc_uptake_max_per_h", kmax, "1/h",
               lambda name=name: f"{organ_src(name, 'pc_uptake_max_per_h')()} x calibrated scale x effect factors",
               "phagocytic uptake (liver: from capillary blood, Kupffer cells)")
        ps.set(f"{name}.pc_uptake_t50_h", e.mps_t50, "h", "calibration.mps_uptake_t50_h")
        ps.set(f"{name}.pc_uptake_hill", e.mps_hill, "-", "calibration.mps_uptake_hill")
        ps.set(f"{name}.pc_release_per_h", o.pc_release_per_h, "1/h", organ_src(name, "pc_release_per_h"))
    ps.set("kidney.urine_clearance_L_per_h", phys.urine_clearance_L_per_h + phys.gfr_L_per_h * e.sieving, "L/h",
           "Lin 2016 urine clearance + GFR x glomerular sieving", "from kidney capillary blood")
    ps.set("liver.bile_clearance_L_per_h", phys.bile_clearance_L_per_h, "L/h",
           lambda: library.sourced(sp["bile_clearance_L_per_h_per_kg075"]).source, "from liver tissue")


def _resolve_classes(ps: ParameterSet, e: Effects) -> tuple[list[float], list[float]]:
    """Each coating class's weight, coverage and uptake relative to the main class: in the liver and
    spleen (with the opsonised share's early capture) and in the other organs (without it)."""
    uptake_ratio = [e.recognition[i] / e.recognition[e.main] for i in range(len(e.classes))]
    peripheral_ratio = [e.recognition_plain[i] / e.recognition[e.main] for i in range(len(e.classes))]
    for i, c in enumerate(e.classes):
        ps.set(f"class{i + 1}.weight", c.weight, "fraction of dose", lambda c=c: f"coating classes ({c.label})")
        ps.set(f"class{i + 1}.coverage_fraction", c.coverage, "fraction", "class mean coverage")
        uptake_ratio[i] = ps.set(f"class{i + 1}.uptake_ratio", uptake_ratio[i], "x main class",
                                 "recognition of this class / main class (liver and spleen)")
        peripheral_ratio[i] = ps.set(f"class{i + 1}.peripheral_uptake_ratio", peripheral_ratio[i], "x main class",
                                     "recognition of this class / main class in the other organs: the "
                                     "opsonised share's early capture is the liver's and spleen's (Tsoi 2016)")
    return uptake_ratio, peripheral_ratio


def _resolve_doses(f: Formulation, ps: ParameterSet) -> list[float]:
    """Each dose's repeat-dose clearance factor (anti-PEG / anti-donor antibodies; surface/immunity.py)."""
    factors = immunity.dose_clearance_factors(f)
    for k, fac in enumerate(factors):
        factors[k] = ps.set(f"dose{k + 1}.clearance_factor", fac, "x", "immunity.dose_clearance_factors",
                            "phagocytic uptake multiplier of this dose (anti-PEG / anti-donor antibodies)")
    return factors


def _resolve_saturation(f: Formulation, ps: ParameterSet) -> list[float]:
    """Each dose's liver and spleen macrophage saturation (stealth.mps_saturation_factor) from the
    particles it holds per kg: core mass per kg / the mass of one solid core sphere."""
    core_mg_per_kg, particle_mg = coating.core_mg_per_kg(f), coating.core_particle_mass_mg(f)
    out = []
    for k, amount in enumerate(f.dose.relative_amounts(list(f.dose.times_h))):
        n = ps.set(f"dose{k + 1}.particles_per_kg", core_mg_per_kg * amount / particle_mg, "1/kg",
                   "dose core mass / (core density x pi d^3 / 6)")
        out.append(ps.set(f"dose{k + 1}.mps_saturation_factor", phagocytosis.mps_saturation_factor(n, f.model.calibration),
                          "x", "stealth.mps_saturation_factor (Ouyang 2020; surface_effects.organs)",
                          "liver and spleen macrophage uptake of this dose over a tracer dose's"))
    return out


def _refuse_unknown_overrides(ps: ParameterSet) -> None:
    unknown = ps.unknown_overrides()
    if unknown:
        names = ps.names()
        raise FormulationError([Problem(f"model.overrides.{k}", f"not a model parameter{did_you_mean(k, names)}; "
                                        "`nanocloak params FILE` lists the names") for k in unknown])
