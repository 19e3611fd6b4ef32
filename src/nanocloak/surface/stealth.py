"""Phagocytic (MPS) uptake: how the coat, its coverage, charge, size and ligands scale it.

The model's phagocytic-cell uptake rate of an organ is Kmax,organ x (product of the factors
below) x H(time since dose) (Lin 2016 structure). Factors are relative to a bare core (1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nanocloak.library import calibrations as calibration
from nanocloak.library import tables as library
from nanocloak.spec.formulation import Formulation
from nanocloak.surface.blocks import membrane_of, peg_of, source_fraction
from nanocloak.surface.coating import coverage_fraction, protein_integrity


def beta_cdf(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (scipy.special.betainc) by its continued
    fraction, evaluated with the modified Lentz method (Press et al. 2007, Numerical Recipes 3rd ed.,
    sec. 6.4). Written out because every membrane simulation needs it twice and importing
    scipy.special costs a quarter of a simulation's start-up; tests hold it to scipy's within 1e-9 relative."""
    if not (a > 0.0 and b > 0.0 and 0.0 <= x <= 1.0):
        raise ValueError(f"beta_cdf needs a, b > 0 and 0 <= x <= 1, got {a}, {b}, {x}")
    if x in (0.0, 1.0):
        return x
    if x > (a + 1.0) / (a + b + 2.0):       # the fraction converges fast below this point
        return 1.0 - beta_cdf(b, a, 1.0 - x)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 10_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * fraction / a


@dataclass(frozen=True)
class CoatingClass:
    """A sub-population of particles that share a coating state (dose split by `weight`)."""

    weight: float
    coverage: float      # mean membrane coverage of the class (1 for PEG, 0 bare)
    label: str
    opsonised: bool = False   # the share captured at once (early_capture_fraction)


def _surface(group: str, key: str, cal: str | None = None) -> float:
    """A surface-effect constant as the calibration `cal` has it (calibration.py)."""
    node = library.table("surface_effects")[group][key]
    return calibration.table_value(f"surface_effects.{group}.{key}", node, cal).value


def membrane_table_factor(cell: str, cal: str | None = None) -> float:
    key = library.resolve_key("membranes", cell)
    node = library.entry("membranes", key)["phagocytic_uptake_factor"]
    return calibration.table_value(f"membranes.{key}.phagocytic_uptake_factor", node, cal).value


def membrane_recognition_factor(f: Formulation, rbc_factor: float | None = None) -> float:
    """Uptake of a fully coated particle relative to bare.

    The RBC membrane's absolute value is calibrated on Hu 2011 (docs/calibration.md); other
    membranes keep their tabulated ratio to RBC. Hybrids mix their sources by membrane-protein
    fraction (marker density, hence CD47 signalling, scales with the source's share).
    """
    cal = f.model.calibration
    rbc_calibrated = calibration.value("rbc_phagocytic_uptake_factor", cal) if rbc_factor is None else rbc_factor
    rbc_table = membrane_table_factor("rbc", cal)
    return sum(source_fraction(src) * rbc_calibrated * membrane_table_factor(src.cell, cal) / rbc_table
               for src in membrane_of(f).sources)


def peg_recognition_factor(mw_kDa: float, cal: str | None = None) -> float:
    """PEG brush: factor at 2 kDa scaled by (MW / 2 kDa)^-exponent (longer chains shield more; Gref R
    et al. 2000, Colloids Surf B 18:301)."""
    return _surface("peg", "phagocytic_uptake_factor_2kDa", cal) * (mw_kDa / 2.0) ** (-_surface("peg", "mw_exponent", cal))


def coating_classes(f: Formulation) -> list[CoatingClass]:
    """Particle sub-populations by coating state.

    Membranes: coverage per particle follows a Beta distribution set by the method (mean, spread;
    coating_methods.yaml). Particles under 50% coverage aggregate in serum and are cleared like bare
    cores, those above are taken up one by one (Liu L et al. 2021, Nat Commun 12:5726), hence two
    classes split at 50%, each with its mean coverage.
    """
    if f.surface.kind != "membrane":
        return [CoatingClass(1.0, 1.0 if f.surface.kind == "peg" else 0.0, "all")]
    mean = coverage_fraction(f)
    method = library.entry("coating_methods", membrane_of(f).method)
    conc = library.value(method["coverage_concentration"])
    if mean <= 0.0:
        return [CoatingClass(1.0, 0.0, "uncoated")]
    mean = min(mean, 1.0 - 1e-9)
    a, b = mean * conc, (1.0 - mean) * conc
    below = beta_cdf(a, b, 0.5)                     # P(c < 0.5)
    mass_below = beta_cdf(a + 1.0, b, 0.5) * mean    # E[c; c < 0.5]
    classes = []
    if below > 1e-9:
        classes.append(CoatingClass(below, mass_below / below, "partly coated (<50%)"))
    if below < 1.0 - 1e-9:
        classes.append(CoatingClass(1.0 - below, (mean - mass_below) / (1.0 - below), "coated (>=50%)"))
    return classes


def recognition_factor(f: Formulation, klass: CoatingClass, rbc_factor: float | None = None) -> float:
    """Surface recognition of a coating class relative to a bare core.

    Partly coated (<50%) particles aggregate and behave bare (Liu 2021); in coated particles the
    bare fraction still opsonises, modelled as a log-linear blend M_coat^(c x integrity): a partly
    coated particle behaves partly bare, and damaged membrane proteins (sonication heat, storage;
    coating.protein_integrity) signal "self" less, as missing coat would.
    """
    kind = f.surface.kind
    if kind == "peg":
        return peg_recognition_factor(peg_of(f).mw_kDa, f.model.calibration)
    if kind != "membrane" or klass.coverage < 0.5:
        return 1.0
    return membrane_recognition_factor(f, rbc_factor) ** (klass.coverage * protein_integrity(f))


def early_capture_fraction(f: Formulation, klass: CoatingClass) -> float:
    """Share of a coating class opsonised within minutes and captured at once by Kupffer and splenic
    macrophages (protein corona and complement; Tenzer S et al. 2013 Nat Nanotechnol 8:772 show the
    corona forms in under a minute): the fast first phase of the blood curve.

    A bare core: the calibrated bare share. PEG: the calibrated PEG share (a brush slows but does not
    stop complement deposition). A membrane class >= 50% coated: the bare share reduced by the
    membrane's self-protection (CD47 and complement regulators, membranes.yaml) in proportion to
    coverage x protein integrity; partly coated (<50%) particles aggregate and behave bare."""
    cal = f.model.calibration
    bare = calibration.value("early_capture_fraction_bare", cal)
    if f.surface.kind == "peg":
        return calibration.value("early_capture_fraction_peg", cal)
    if f.surface.kind != "membrane" or klass.coverage < 0.5:
        return bare
    protection = sum(source_fraction(src) * membrane_protection(src.cell, cal) for src in membrane_of(f).sources)
    return bare * (1.0 - min(1.0, klass.coverage * protein_integrity(f) * protection))


def membrane_protection(cell: str, cal: str | None = None) -> float:
    key = library.resolve_key("membranes", cell)
    node = library.entry("membranes", key)["early_capture_protection"]
    return calibration.table_value(f"membranes.{key}.early_capture_protection", node, cal).value


def with_early_capture(f: Formulation, classes: list[CoatingClass]) -> list[CoatingClass]:
    """Each coating class split into its opsonised share (captured at once) and the rest."""
    out = []
    for c in classes:
        share = early_capture_fraction(f, c)
        if share > 0.0:
            out.append(CoatingClass(c.weight * share, c.coverage, f"{c.label}, opsonised", True))
        if share < 1.0:
            out.append(CoatingClass(c.weight * (1.0 - share), c.coverage, c.label))
    return out


def charge_factor(zeta_mV: float, cal: str | None = None) -> float:
    """Uptake rises for cationic and for strongly anionic surfaces; flat in a near-neutral band.

    exp(a+ max(zeta, 0)/10) x exp(a- max(-zeta - band, 0)/10) (orderings of Xiao K et al. 2011
    Biomaterials 32:3435; He C et al. 2010 Biomaterials 31:3657; slopes in surface_effects.yaml).
    """
    band = _surface("charge", "neutral_band_mV", cal)
    pos = _surface("charge", "positive_per_10mV", cal)
    neg = _surface("charge", "negative_per_10mV", cal)
    return math.exp(pos * max(zeta_mV, 0.0) / 10.0) * math.exp(neg * max(-zeta_mV - band, 0.0) / 10.0)


def liver_size_factor(diameter_nm: float, cal: str | None = None) -> float:
    """Kupffer-cell uptake grows with size, (d / 100 nm)^k (Li H et al. 2019 Cells 8:881: liver uptake
    of RBC-NPs rises from 80 to 200 nm)."""
    return (diameter_nm / 100.0) ** _surface("size", "liver_uptake_size_exponent", cal)


def peripheral_uptake_factor(cal: str | None = None) -> float:
    """Phagocytic uptake of the organs other than liver and spleen over their tabulated rates (the
    liver and spleen sequester most of a dose: Tsoi 2016; surface_effects.yaml, organs)."""
    return _surface("organs", "peripheral_uptake_factor", cal)


def mps_saturation_factor(particles_per_kg: float, cal: str | None = None) -> float:
    """Liver and spleen macrophage uptake at a dose of `particles_per_kg` over a tracer dose's:
    1 / (1 + N / N50), Michaelis-Menten capacity evaluated at the dose (Ouyang B et al. 2020, Nat
    Mater 19:1362: above ~1e12 particles per mouse Kupffer-cell uptake is overwhelmed)."""
    return 1.0 / (1.0 + max(particles_per_kg, 0.0) / _surface("organs", "mps_half_saturation_particles_per_kg", cal))


def spleen_size_factor(diameter_nm: float, cal: str | None = None) -> float:
    """Red-pulp filtration of particles above ~200 nm (Moghimi SM 1991/2001): a logistic rise to a
    maximum factor (the maximum is derived from whole spleen data of Hirn 2011, which already holds
    every size effect on splenic uptake, so no power law is added)."""
    threshold = _surface("size", "spleen_filtration_threshold_nm", cal)
    width = _surface("size", "spleen_filtration_width_nm", cal)
    fmax = _surface("size", "spleen_filtration_max_factor", cal)
    logistic = 1.0 / (1.0 + math.exp(-(diameter_nm - threshold) / width))
    return 1.0 + (fmax - 1.0) * logistic


def ligand_occupancy(per_particle: float, half_saturation: float) -> float:
    return per_particle / (per_particle + half_saturation)


def ligand_recognition_factor(f: Formulation) -> float:
    """Ligands change MPS uptake in proportion to their occupancy (e.g. antibody Fc raises it)."""
    factor = 1.0
    for lig in f.surface.ligands:
        entry = library.entry("ligands", lig.name)
        theta = ligand_occupancy(lig.per_particle, library.value(entry["half_saturation_per_particle"]))
        factor *= 1.0 + (library.value(entry["phagocytic_uptake_factor"]) - 1.0) * theta
    return factor
