"""Making the particle: how much membrane and donor material a batch needs, what the preparation
method gives, what to expect in QC, and what measured DLS/zeta say about the coating.

Geometry (spheres): particles = m / (rho pi d^3 / 6); core surface = particles x pi d^2.
Membrane: a bilayer covers its own area; a donor cell gives its surface area (membranes.yaml) and
its membrane protein. The geometric minimum is the membrane area for the method's coverage; the
protocol amount is what the method is run with (its default membrane : core mass ratio, or the
formulation's), of which only the method's yield ends up on particles (coating_methods.yaml).
Donor material: cells = membrane protein / protein per cell / extraction yield; blood volume =
cells / cells per mL of blood; cultured cells in standard T-175 flasks (fabrication.yaml).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nanocloak.library import tables as library
from nanocloak.spec.formulation import Formulation
from nanocloak.surface import coating
from nanocloak.surface.blocks import membrane_of, source_fraction
from nanocloak.surface.stealth import coating_classes


def _fab(*path: str):
    node = library.table("fabrication")
    for p in path:
        node = node[p]
    return node


@dataclass
class DonorNeed:
    cell: str
    fraction: float
    protein_mg_geometric: float
    protein_mg_protocol: float
    cells_geometric: float
    cells_protocol: float
    source: str                      # blood | culture_adherent | culture_suspension | bacterial_culture
    blood_mL_geometric: float | None = None
    blood_mL_protocol: float | None = None
    flasks_protocol: float | None = None


@dataclass
class CoatingPlan:
    core_mg: float
    particles: float
    core_surface_m2: float
    method: str
    target_coverage: float
    membrane_area_m2_geometric: float
    membrane_to_core_ratio: float
    method_yield: float
    donors: list[DonorNeed]
    batches: int
    time_h: float
    pdi: float
    protein_integrity: float
    expected_diameter_nm: float
    expected_zeta_mV: float
    fully_coated_fraction: float
    coated_50_fraction: float
    markers: list[str] = field(default_factory=list)


def particle_count(f: Formulation, core_mg: float) -> float:
    return core_mg / coating.core_particle_mass_mg(f)


def dose_core_mg(f: Formulation) -> float:
    """Core mass of one dose for the subject."""
    from nanocloak.model.therapy.outcome import particle_core_mg_per_dose

    return particle_core_mg_per_dose(f)


def coating_plan(f: Formulation, batch_mg: float | None = None) -> CoatingPlan:
    from nanocloak.errors import NanocloakError

    if f.surface.kind != "membrane":
        raise NanocloakError("surface.kind: the coating calculator needs a membrane-coated formulation (kind: membrane)")
    m = membrane_of(f)
    core_mg = batch_mg if batch_mg is not None else dose_core_mg(f)
    n = particle_count(f, core_mg)
    surface = core_mg * coating.core_surface_area_m2_per_mg(f)
    method = library.entry("coating_methods", m.method)
    target = coating.coverage_fraction(f)
    area_needed = target * surface
    ratio = coating.membrane_to_core_ratio(f)
    method_yield = library.value(method["yield_fraction"])
    species = f.subject.species
    donors = []
    for src in m.sources:
        node = library.entry("membranes", src.cell)
        per_cell_area = library.value(node["cell_surface_area_um2"]) * 1e-12
        per_cell_protein = library.value(node["membrane_protein_per_cell_pg"]) * 1e-9       # mg
        source = _fab("donor_source", src.cell)
        extraction = library.value(_fab("membrane_extraction_yield_fraction", source))
        fraction = source_fraction(src)
        cells_geo = fraction * area_needed / per_cell_area / extraction
        protein_geo = fraction * area_needed / coating.membrane_area_per_protein_m2_per_mg(src.cell)
        protein_protocol = fraction * ratio * core_mg
        cells_protocol = protein_protocol / per_cell_protein / extraction
        need = DonorNeed(src.cell, fraction, protein_geo, protein_protocol, cells_geo, cells_protocol, source)
        if source == "blood":
            per_mL = library.value(_fab("blood_cells_per_mL", species, src.cell))
            need.blood_mL_geometric, need.blood_mL_protocol = cells_geo / per_mL, cells_protocol / per_mL
        elif source.startswith("culture"):
            per_flask = library.value(_fab("cells_per_flask", source.split("_", 1)[1]))
            need.flasks_protocol = cells_protocol / per_flask
        donors.append(need)
    max_batch = library.value(method["max_batch_mg"])
    batches = max(1, math.ceil(core_mg / max_batch - 1e-9))
    classes = coating_classes(f)
    coated = sum(c.weight for c in classes if c.coverage >= 0.5)
    markers = sorted({mk for src in m.sources for mk in library.entry("membranes", src.cell).get("markers", [])})
    return CoatingPlan(
        core_mg=core_mg, particles=n, core_surface_m2=surface, method=m.method, target_coverage=target,
        membrane_area_m2_geometric=area_needed, membrane_to_core_ratio=ratio, method_yield=method_yield, donors=donors,
        batches=batches, time_h=batches * library.value(method["time_per_batch_h"]), pdi=library.value(method["pdi"]),
        protein_integrity=coating.protein_integrity(f), expected_diameter_nm=coating.hydrodynamic_diameter_nm(f),
        expected_zeta_mV=coating.coated_zeta_mV(f), fully_coated_fraction=library.value(method["fully_coated_fraction"]),
        coated_50_fraction=coated, markers=markers)


# ------------------------------------------------------------------------------------------------
# QC: what measured size and zeta say about the coating
# ------------------------------------------------------------------------------------------------
@dataclass
class QcResult:
    coverage_from_zeta: float | None
    coverage_from_size: float | None
    coverage: float | None
    warnings: list[str]


def infer_coverage(f: Formulation, size_before_nm: float, size_after_nm: float, zeta_before_mV: float,
                   zeta_after_mV: float, pdi_after: float | None = None) -> QcResult:
    """Invert the forward model of coating.py: zeta_after = c zeta_membrane + (1 - c) zeta_core,
    size_after = size_before + 2 c t (t = coat thickness); report both and their mean, with warnings."""
    m = membrane_of(f)
    zeta_mem = sum(source_fraction(s) * library.value(library.entry("membranes", s.cell)["membrane_zeta_mV"]) for s in m.sources)
    thickness = sum(source_fraction(s) * library.value(library.entry("membranes", s.cell)["coat_thickness_nm"]) for s in m.sources)
    warnings = []
    c_zeta = None
    if abs(zeta_mem - zeta_before_mV) > 2.0:
        c_zeta = (zeta_after_mV - zeta_before_mV) / (zeta_mem - zeta_before_mV)
    else:
        warnings.append("core and membrane zeta are too close for zeta to tell the coverage")
    growth = size_after_nm - size_before_nm
    c_size = growth / (2.0 * thickness) if thickness > 0 else None
    excess = library.value(_fab("qc", "aggregation_excess_nm"))
    if growth > 2.0 * thickness + excess:
        warnings.append(f"size grew by {growth:.0f} nm, more than a coat ({2 * thickness:.0f} nm) plus {excess:.0f} nm: "
                        "aggregated or clustered particles; the size-based coverage is not reliable")
        c_size = None
    if growth < 0:
        warnings.append("the particles shrank on coating: check the measurements (dilution, dust, wrong sample)")
    if c_zeta is not None and c_zeta > 1.1:
        warnings.append("zeta moved past the membrane's own: excess free membrane vesicles in the batch")
    pdi_limit = library.value(_fab("qc", "free_vesicle_pdi"))
    if pdi_after is not None and pdi_after > pdi_limit:
        warnings.append(f"PDI {pdi_after:.2f} > {pdi_limit:.2f}: a second population (free vesicles or aggregates)")
    estimates = [min(max(c, 0.0), 1.0) for c in (c_zeta, c_size) if c is not None]
    coverage = sum(estimates) / len(estimates) if estimates else None
    if coverage is not None and coverage < 0.5:
        warnings.append(f"incomplete coating (~{coverage:.0%}): particles under 50% coverage aggregate and are cleared "
                        "as bare (Liu 2021); add membrane or change method")
    clip = lambda c: None if c is None else min(max(c, 0.0), 1.0)  # noqa: E731
    return QcResult(clip(c_zeta), clip(c_size), coverage, warnings)


# ------------------------------------------------------------------------------------------------
# a printable batch sheet
# ------------------------------------------------------------------------------------------------
STEPS = {
    "coextrusion": ["Isolate membrane: hypotonic lysis (RBC) or homogenisation + differential centrifugation (nucleated cells).",
                    "Extrude the membrane through 400 nm then 200 nm polycarbonate membranes to form vesicles.",
                    "Mix vesicles with cores at the mass ratio below.",
                    "Co-extrude the mixture 11 times through a 200 nm (or core-matched) polycarbonate membrane.",
                    "Remove free vesicles by centrifugation; resuspend in PBS."],
    "sonication": ["Isolate membrane as for coextrusion.", "Mix membrane vesicles with cores at the mass ratio below.",
                   "Bath-sonicate ~2 min on ice (heat damages membrane proteins; keep cold).",
                   "Remove free vesicles by centrifugation; resuspend in PBS."],
    "microfluidic_electroporation": ["Isolate membrane vesicles as for coextrusion.",
                                     "Flow cores and vesicles through the electroporation chip (pulsed field).",
                                     "Collect, remove free vesicles by centrifugation; resuspend in PBS."],
}


def batch_sheet_html(f: Formulation, plan: CoatingPlan) -> str:
    """A printable batch sheet (io/templates/batch_sheet.html.j2)."""
    from nanocloak.io.templates import render

    rows = [("core", f"{plan.core_mg:.3g} mg of {f.core.material}, {f.core.diameter_nm:g} nm ({plan.particles:.3g} particles)"),
            ("core surface", f"{plan.core_surface_m2 * 1e4:.3g} cm2"),
            ("method", f"{plan.method}: {plan.batches} batch(es), ~{plan.time_h:.2g} h"),
            ("target coverage", f"{plan.target_coverage:.0%} mean ({plan.coated_50_fraction:.0%} of particles >= 50% coated)"),
            ("membrane : core", f"{plan.membrane_to_core_ratio:.3g} mg protein per mg core (yield {plan.method_yield:.0%})")]
    donors = [{"cell": d.cell, "share": f"{d.fraction:.0%}", "geometric": f"{d.protein_mg_geometric:.3g}",
               "protocol": f"{d.protein_mg_protocol:.3g}", "cells": f"{d.cells_protocol:.3g}", "donor": _donor_text(d)}
              for d in plan.donors]
    qc = [("hydrodynamic diameter", f"{plan.expected_diameter_nm:.0f} nm"), ("zeta", f"{plan.expected_zeta_mV:.0f} mV"),
          ("PDI", f"<= {plan.pdi:.2f}"), ("protein integrity", f"{plan.protein_integrity:.0%}"),
          ("markers (western blot)", ", ".join(plan.markers))]
    return render("batch_sheet.html.j2", name=f.name, rows=rows, donors=donors, steps=STEPS[plan.method], qc=qc)


def _donor_text(d: DonorNeed) -> str:
    if d.blood_mL_protocol is not None:
        return f"{d.blood_mL_protocol:.3g} mL blood (geometric minimum {d.blood_mL_geometric:.3g} mL)"
    if d.flasks_protocol is not None:
        return f"{d.flasks_protocol:.3g} T-175 flasks"
    return d.source
