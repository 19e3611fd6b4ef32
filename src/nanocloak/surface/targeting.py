"""Active tumor targeting by the membrane (homotypic, tropism, adhesion) and by ligands.

Effects act on the tumor compartment in Cheng 2020's definitions: a factor on the uptake of the
tumor's cellular sequestration compartment (KTRESmax) and one on vessel permeability (PATC).
"""

from __future__ import annotations

from nanocloak.library import tables as library
from nanocloak.spec.formulation import Formulation
from nanocloak.surface.blocks import membrane_of, source_fraction
from nanocloak.surface.coating import protein_integrity
from nanocloak.surface.stealth import ligand_occupancy


def _membrane(cell: str) -> dict:
    return library.entry("membranes", cell)


def _same_line(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and library.normalise_key(a) == library.normalise_key(b)


def membrane_source_tumor_factor(cell: str, line: str | None, tumor_line: str) -> float:
    """The fold tumor uptake one membrane source gives on this tumor.

    Cancer (and cancer stem cell) membranes bind their own line only (homotypic adhesion; Fang RH et
    al. 2014 Nano Lett 14:2181; Zhu JY et al. 2016 Nano Lett 16:5895); on another line they get the
    heterotypic factor. Tropic membranes (stem cells, leukocytes) and platelets act on any tumor.
    """
    m = _membrane(cell)
    targeting = str(m.get("targeting", "none"))
    if targeting == "none":
        return 1.0
    if targeting == "homotypic":
        key = "tumor_uptake_factor" if _same_line(line, tumor_line) else "heterotypic_tumor_uptake_factor"
        return library.value(m[key])
    return library.value(m["tumor_uptake_factor"])


def membrane_tumor_uptake_factor(f: Formulation, coverage: float) -> float:
    """Hybrids dilute each source's effect by its protein fraction; partial coats by coverage;
    damaged proteins (coating.protein_integrity) by their loss of function."""
    if f.surface.kind != "membrane" or f.subject.tumor is None:
        return 1.0
    tumor_line = f.subject.tumor.line
    gain = sum(source_fraction(s) * (membrane_source_tumor_factor(s.cell, s.line, tumor_line) - 1.0)
               for s in membrane_of(f).sources)
    return 1.0 + coverage * protein_integrity(f) * gain


def membrane_tumor_permeability_factor(f: Formulation, coverage: float) -> float:
    if f.surface.kind != "membrane" or f.subject.tumor is None:
        return 1.0
    gain = sum(source_fraction(s) * (library.value(_membrane(s.cell)["tumor_permeability_factor"]) - 1.0)
               for s in membrane_of(f).sources)
    return 1.0 + coverage * gain


def receptor_expression(tumor_line: str, receptor: str) -> float:
    """Relative receptor level (0..1) of the tumor line; 0 when unknown or not a cell-surface target."""
    receptors = library.entry("cell_lines", tumor_line).get("receptors", {}) or {}
    node = receptors.get(receptor)
    return library.value(node) if isinstance(node, dict) else 0.0


def ligand_tumor_uptake_factor(f: Formulation) -> float:
    """Each ligand: 1 + (Fmax - 1) x receptor level x occupancy; ligands multiply.

    RGD also binds alpha-v-beta-3 on angiogenic tumor endothelium of any tumor, so its receptor level
    is at least the vessel level given in ligands.yaml.
    """
    if f.subject.tumor is None:
        return 1.0
    factor = 1.0
    for lig in f.surface.ligands:
        e = library.entry("ligands", lig.name)
        level = receptor_expression(f.subject.tumor.line, str(e.get("receptor", "none")))
        if e.get("targets_tumor_vessels"):
            vessel = e.get("tumor_vessel_expression")
            level = max(level, library.value(vessel) if isinstance(vessel, dict) else 0.5)
        theta = ligand_occupancy(lig.per_particle, library.value(e["half_saturation_per_particle"]))
        factor *= 1.0 + (library.value(e["max_tumor_uptake_factor"]) - 1.0) * level * theta
    return factor


def crosses_blood_brain_barrier(f: Formulation) -> bool:
    """Transferrin-receptor transcytosis (ligands.yaml crosses_bbb). Neutrophil membranes reach a
    resected, inflamed brain tumor instead (seed 001; surface/brain.py inflamed_tumor_factor)."""
    return any(library.entry("ligands", lig.name).get("crosses_bbb") for lig in f.surface.ligands)
