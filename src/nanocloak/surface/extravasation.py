"""Size-dependent passage through vessel walls and the glomerulus (pore theory).

A vascular bed is a set of water-filled pores (a small-pore and a large-pore population, two-pore
theory of Rippe B & Haraldsson B 1994, Physiol Rev 74:163; used for tumors by Schmidt MM &
Wittrup KD 2009, Mol Cancer Ther 8:2861) plus a size-independent vesicular (transcytosis) route
(Sindhwani S et al. 2020, Nat Mater 19:566: most nanoparticles enter tumors through endothelial
cells). Particles much smaller than a pore pass it freely; the steric and hydrodynamic hindrance
of a sphere of radius r in a cylindrical pore of radius R (lambda = r / R) gives the convective
sieving coefficient (1 - sigma) = (1 - lambda)^2 (2 - (1 - lambda)^2) (Ferry JD 1936, J Gen Physiol
20:95; Deen WM 1987, AIChE J 33:1409), zero once lambda >= 1.

The organ's permeability-surface product scales with this transmission relative to the reference
particle for which the tabulated PAC was fitted: for healthy organs the small PEG-gold particle of
Lin 2016 (surface_effects.yaml, size.pac_reference_diameter_nm), for the tumor the median particle
of the Nano-Tumor Database fits (tumor.yaml).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from nanocloak.library import tables as library


def sieving_coefficient(diameter_nm, pore_radius_nm):
    """Convective transmission 1 - sigma through cylindrical pores (Ferry 1936; Deen 1987)."""
    lam = np.asarray(diameter_nm, dtype=float) / 2.0 / pore_radius_nm
    passing = (1.0 - lam) ** 2 * (2.0 - (1.0 - lam) ** 2)
    return np.where(lam < 1.0, passing, 0.0)


@lru_cache(maxsize=None)
def bed(name: str) -> dict[str, float]:
    node = library.entry("vascular_beds", name, "vascular bed")
    keys = ("small_pore_radius_nm", "large_pore_radius_nm", "large_pore_fraction", "transcytosis_fraction")
    return {k: library.value(node[k], f"vascular_beds.{name}.{k}") for k in keys}


@lru_cache(maxsize=4096)
def transmission(diameter_nm: float, bed_name: str) -> float:
    """Relative ease of crossing a bed: transcytosis share + pore shares x sieving."""
    b = bed(bed_name)
    pores = 1.0 - b["transcytosis_fraction"]
    small = (1.0 - b["large_pore_fraction"]) * sieving_coefficient(diameter_nm, b["small_pore_radius_nm"])
    large = b["large_pore_fraction"] * sieving_coefficient(diameter_nm, b["large_pore_radius_nm"])
    return float(b["transcytosis_fraction"] + pores * (small + large))


#: beds entered without a sieve: blood in the splenic red pulp flows openly into the cords, where
#: the interendothelial slits RETAIN large particles on the way back (Cesta MF 2006, Toxicol Pathol
#: 34:455) -- that retention is the spleen filtration factor on uptake (phagocytosis.py)
OPEN_BEDS = ("spleen",)


def permeability_factor(diameter_nm: float, bed_name: str, reference_diameter_nm: float) -> float:
    """PA(d) / PA(reference particle) for a vascular bed (1 for open beds)."""
    if bed_name in OPEN_BEDS:
        return 1.0
    return transmission(diameter_nm, bed_name) / transmission(reference_diameter_nm, bed_name)


def glomerular_sieving(diameter_nm: float) -> float:
    """Fraction of plasma particle concentration passing the glomerular barrier (renal cut-off ~5.5 nm,
    Choi HS et al. 2007, Nat Biotechnol 25:1165), by the same pore relation."""
    return transmission(diameter_nm, "glomerulus")
