"""The particle as the body sees it: coat thickness, hydrodynamic size, coated zeta, coverage.

Each function is one physical relation with its source; values come from the data tables.
"""

from __future__ import annotations

import math
from functools import lru_cache

from nanocloak.library import tables as library
from nanocloak.spec.formulation import Formulation
from nanocloak.surface.blocks import core_diameter_nm, membrane_of, peg_of, source_fraction

PEG_MONOMER_MASS_G_PER_MOL = 44.05  # ethylene oxide repeat unit (C2H4O), a constant of chemistry


def _surface_effect(group: str, key: str) -> float:
    return library.value(library.table("surface_effects")[group][key], f"surface_effects.{group}.{key}")


def _membrane(cell: str) -> dict:
    return library.entry("membranes", cell, "membrane")


def _method(method: str) -> dict:
    return library.entry("coating_methods", method, "coating method")


def peg_layer_thickness_nm(mw_kDa: float) -> float:
    """Flory radius of a grafted PEG chain, R_F = a N^(3/5) (de Gennes 1980, Macromolecules 13:1069)."""
    n_monomers = mw_kDa * 1000.0 / PEG_MONOMER_MASS_G_PER_MOL
    return _surface_effect("peg", "flory_monomer_length_nm") * n_monomers ** 0.6


def core_equivalent_diameter_nm(f: Formulation) -> float:
    """Diameter of the sphere with the same translational diffusion as the core.

    Rods: Tirado MM & Garcia de la Torre J 1979 (J Chem Phys 71:2581), D = kT (ln p + nu) / (3 pi eta L)
    with nu = 0.312 + 0.565/p - 0.100/p^2, so d_eq = L / (ln p + nu). Sheets (thin disks of diameter
    d): friction 32 eta a / 3 (Happel & Brenner 1965), so d_eq = 16 a / (9 pi) ~ 0.566 d.
    """
    d = float(core_diameter_nm(f.core))
    shape = f.core.shape or f.core.default_shape()
    if shape == "rod":
        p = max(aspect_ratio(f), 2.0)
        length = p * d
        nu = 0.312 + 0.565 / p - 0.100 / p**2
        return length / (math.log(p) + nu)
    if shape == "sheet":
        return 16.0 * (d / 2.0) / (9.0 * math.pi) * 2.0
    return d


def aspect_ratio(f: Formulation) -> float:
    if f.core.aspect_ratio is not None:
        return float(f.core.aspect_ratio)
    mat = library.entry("materials", f.core.material)
    node = mat.get("default_aspect_ratio")
    return library.value(node) if isinstance(node, dict) else 1.0


def coat_thickness_nm(f: Formulation) -> float:
    """Radial thickness the surface adds (membrane: fraction-weighted; PEG: Flory radius; ligands: largest)."""
    s = f.surface
    thickness = 0.0
    if s.kind == "membrane":
        thickness = sum(source_fraction(src) * library.value(_membrane(src.cell)["coat_thickness_nm"])
                        for src in membrane_of(f).sources)
    elif s.kind == "peg":
        thickness = peg_layer_thickness_nm(peg_of(f).mw_kDa)
    ligand = max((library.value(library.entry("ligands", lig.name)["added_thickness_nm"]) for lig in s.ligands), default=0.0)
    return thickness + ligand


def hydrodynamic_diameter_nm(f: Formulation) -> float:
    """Core equivalent diameter plus twice the coat (Hu 2011 PNAS: 70 nm core -> ~80 nm RBC-NP)."""
    if f.core.is_free_drug:
        return math.nan
    return core_equivalent_diameter_nm(f) + 2.0 * coat_thickness_nm(f)


def core_zeta_mV(f: Formulation) -> float:
    if f.core.zeta_mV is not None:
        return float(f.core.zeta_mV)
    return library.value(library.entry("materials", f.core.material)["zeta_mV"])


def core_density(f: Formulation) -> float:
    if f.core.density_g_per_cm3 is not None:
        return float(f.core.density_g_per_cm3)
    return library.value(library.entry("materials", f.core.material)["density_g_per_cm3"])


def membrane_area_per_protein_m2_per_mg(cell: str) -> float:
    """Bilayer area per mass of membrane protein: cell surface area / protein per cell."""
    m = _membrane(cell)
    area_m2 = library.value(m["cell_surface_area_um2"]) * 1e-12
    protein_mg = library.value(m["membrane_protein_per_cell_pg"]) * 1e-9
    return area_m2 / protein_mg


def core_particle_mass_mg(f: Formulation) -> float:
    """Mass of one core as a solid sphere: density x pi d^3 / 6 (a hollow core weighs less)."""
    d_cm = float(core_diameter_nm(f.core)) * 1e-7
    return core_density(f) * math.pi / 6.0 * d_cm**3 * 1000.0


def core_mg_per_kg(f: Formulation) -> float:
    """Core mass of the first dose per kg body weight: dose.mg_per_kg on a particle basis; on a drug
    basis the first payload's drug dose x (100 - loading) / loading (0 for a free drug)."""
    if f.core.is_free_drug:
        return 0.0
    if f.dose.basis == "particle":
        return float(f.dose.mg_per_kg)
    loading = f.payloads[0].loading_wt_pct
    return float(f.dose.mg_per_kg) * (100.0 - loading) / loading


def core_surface_area_m2_per_mg(f: Formulation) -> float:
    """Outer surface per core mass of spheres: 6 / (rho d) (rods and sheets: same order; a sphere bound)."""
    d_m = float(core_diameter_nm(f.core)) * 1e-9
    rho_kg_m3 = core_density(f) * 1000.0
    return 6.0 / (rho_kg_m3 * d_m) * 1e-6  # m2 per mg


def membrane_to_core_ratio(f: Formulation) -> float:
    m = membrane_of(f)
    if m.membrane_to_core_mass_ratio is not None:
        return float(m.membrane_to_core_mass_ratio)
    return library.value(_method(m.method)["default_membrane_to_core_mass_ratio"])


def supply_limited_coverage(f: Formulation) -> float:
    """Largest coverage the membrane supplied can give: area on particles / core surface.

    Membrane area delivered = ratio x yield x (area per protein mass), blended over sources.
    """
    m = membrane_of(f)
    yield_fraction = library.value(_method(m.method)["yield_fraction"])
    area_per_mg = sum(source_fraction(src) * membrane_area_per_protein_m2_per_mg(src.cell) for src in m.sources)
    supplied = membrane_to_core_ratio(f) * yield_fraction * area_per_mg
    return supplied / core_surface_area_m2_per_mg(f)


def coverage_fraction(f: Formulation) -> float:
    """Mean fraction of the particle surface covered by membrane.

    The method sets the coverage reached with enough membrane (Liu L et al. 2021 Nat Commun
    12:5726; Rao L et al. 2017 ACS Nano 11:3496); too little membrane caps it by supply.
    Non-membrane surfaces: PEG is taken as a complete layer (1); a bare core has none (0).
    """
    s = f.surface
    if s.kind == "peg":
        return 1.0
    if s.kind != "membrane":
        return 0.0
    from nanocloak.library import calibrations

    method = membrane_of(f).method
    key = library.resolve_key("coating_methods", method)
    node = _method(method)["mean_coverage_fraction"]
    method_mean = calibrations.table_value(f"coating_methods.{key}.mean_coverage_fraction", node, f.model.calibration).value
    return max(0.0, min(method_mean, supply_limited_coverage(f)))


def storage_retention(f: Formulation) -> float:
    """Fraction of membrane protein function left after storage: 2^(-days / half-life) (fabrication.yaml)."""
    m = membrane_of(f)
    half = _storage_half_life_days(m.storage)
    return 1.0 if math.isinf(half) or m.storage_days == 0 else 2.0 ** (-m.storage_days / half)


@lru_cache(maxsize=None)
def _storage_half_life_days(storage: str) -> float:
    table = library.table("fabrication")["storage_half_life_days"]
    key = next(k for k in table if library.normalise_key(k) == library.normalise_key(storage))
    return library.value(table[key], f"fabrication.storage_half_life_days.{key}")


def protein_integrity(f: Formulation) -> float:
    """Functional fraction of the coat's membrane proteins: the method's (sonication heats and
    damages, coating_methods.yaml) times what survives storage."""
    if f.surface.kind != "membrane":
        return 1.0
    method = library.value(_method(membrane_of(f).method)["protein_integrity_fraction"])
    return method * storage_retention(f)


def coated_zeta_mV(f: Formulation, coverage: float | None = None) -> float:
    """Zeta potential of the coated particle.

    Membrane: area-weighted mean of the membrane's and the bare core's zeta (a partly coated
    particle shows both; Hu 2011 PNAS: RBC-NP zeta close to RBC vesicles). PEG: the layer moves the
    shear plane outward by its thickness L, so zeta ~ zeta_core exp(-L / lambda_D) (Gouy-Chapman
    decay; Ohshima H 1995, Adv Colloid Interface Sci 62:189).
    """
    if f.core.is_free_drug:
        return math.nan
    zc = core_zeta_mV(f)
    s = f.surface
    if s.kind == "membrane":
        c = coverage_fraction(f) if coverage is None else coverage
        zm = sum(source_fraction(src) * library.value(_membrane(src.cell)["membrane_zeta_mV"]) for src in membrane_of(f).sources)
        return c * zm + (1.0 - c) * zc
    if s.kind == "peg":
        debye = _surface_effect("peg", "zeta_shielding_debye_length_nm")
        return zc * math.exp(-peg_layer_thickness_nm(peg_of(f).mw_kDa) / debye)
    return zc
