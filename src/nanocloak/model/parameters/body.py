"""The body of the subject: species physiology, with the tumor carved out of the 'rest' remainder."""

from __future__ import annotations

import math

from nanocloak.body import species as physiology
from nanocloak.errors import FormulationError, Problem, did_you_mean
from nanocloak.library import tables as library
from nanocloak.model.parameters.core import MPS_ORGANS, ParameterSet, ResolvedFormulation
from nanocloak.model.parameters.payload_drugs import resolve_payload_drugs
from nanocloak.spec.formulation import Formulation
from nanocloak.surface import stealth as phagocytosis


def tumor_site_value(site: str, key: str) -> library.Sourced:
    sites = library.table("tumor")["sites"]
    node = sites.get(site) or sites["subcutaneous"]
    return library.sourced(node[key], f"tumor.sites.{site}.{key}")


def organ_source(sp: dict):
    """organ_src(name, key)(): the source text of a species' organ value, composed only when asked."""
    def organ_src(name, key):
        return lambda: library.sourced(sp["organs"][name][key]).source
    return organ_src


def resolve_body(f: Formulation, ps: ParameterSet, sp: dict, site: str):
    """Species physiology for this animal, with the tumor carved out of the 'rest' remainder."""
    tumor = f.subject.tumor
    body_weight_g = f.subject.body_weight_g
    assert body_weight_g is not None, "Subject._check fills the body weight from the species"
    bw_kg = body_weight_g / 1000.0
    # --- tumor size and flow first: they come out of the 'rest' remainder ---------------------
    if tumor is not None:
        vt = ps.set("tumor.VTC", tumor.volume_mm3 * 1e-6 / bw_kg, "fraction of BW",
                    "subject.tumor.volume_mm3 (density 1 g/mL)", "tumor volume fraction of body weight (Cheng 2020 VTC)")
        s = tumor_site_value(site, "QTC")
        qtc = ps.set("tumor.QTC", s.value, "fraction of cardiac output", s.source, "tumor blood flow (Cheng 2020 QTC)")
        tumor_volume_L, tumor_flow_fraction = vt * bw_kg, qtc
    else:
        tumor_volume_L, tumor_flow_fraction = 0.0, 0.0
    derived = [k for k in physiology.DERIVED_PHYSIOLOGY if k in f.model.overrides]
    if derived:
        raise FormulationError([Problem(f"model.overrides.{k}", "is derived (lung flow = cardiac output; 'rest' = the "
                                        "remainder of body weight and cardiac output): override cardiac_output_L_per_h "
                                        "or the other organs instead") for k in derived])
    phys = physiology.build(f.subject.species, body_weight_g, tumor_volume_L, tumor_flow_fraction,
                            f.model.overrides)

    ps.set("body_weight_kg", bw_kg, "kg", "subject.body_weight_g")
    ps.set("cardiac_output_L_per_h", phys.cardiac_output_L_per_h, "L/h",
           lambda: library.sourced(sp["cardiac_output_L_per_h_per_kg075"]).source, "QCC x BW^0.75")
    ps.set("blood_volume_L", phys.blood_volume_L, "L", lambda: library.sourced(sp["blood_volume_fraction"]).source)
    ps.set("arterial_fraction", phys.arterial_fraction, "fraction of central blood",
           lambda: library.sourced(sp["arterial_fraction_of_central_blood"]).source)
    organ_src = organ_source(sp)
    for name, o in phys.organs.items():
        src_v = "remainder of body weight" if name == "rest" else organ_src(name, "volume_fraction")
        src_q = ("cardiac output" if name == "lung" else "remainder of cardiac output" if name == "rest"
                 else organ_src(name, "blood_flow_fraction"))
        ps.set(f"{name}.volume_L", o.volume_L, "L", src_v)
        ps.set(f"{name}.blood_flow_L_per_h", o.flow_L_per_h, "L/h", src_q,
               "hepatic artery only; the spleen outflow joins it" if name == "liver" else "")
        ps.set(f"{name}.vascular_fraction", o.vascular_fraction, "fraction", organ_src(name, "vascular_fraction"))
        ps.set(f"{name}.partition", o.partition, "-", organ_src(name, "partition_coefficient"), "tissue:blood")
    resolve_payload_drugs(f, ps)
    return phys, tumor_volume_L


def resolve_free_drug(f: Formulation, ps: ParameterSet, phys, site: str, tumor_volume_L: float) -> ResolvedFormulation:
    """A drug given as a plain solution: the body and the tumor, no particle."""
    for key in ("hydrodynamic_diameter_nm", "zeta_coated_mV"):
        ps.set(f"particle.{key}", math.nan, "-", "no particle (core.material: free)")
    if f.subject.tumor is not None:
        for key, unit in (("BVT", "fraction"), ("PT", "-")):
            s = tumor_site_value(site, key)
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

