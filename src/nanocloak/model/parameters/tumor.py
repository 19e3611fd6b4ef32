"""The tumor compartment in Cheng 2020's definitions (QTC, VTC, BVT, PT, PATC, KTRES*), with the
targeting factors of the surface (membranes and ligands)."""

from __future__ import annotations

from nanocloak.model.parameters.body import tumor_site_value
from nanocloak.spec.brain import is_brain_tumor
from nanocloak.surface import brain, extravasation, targeting


def resolve_tumor(f, ps, classes, main, d_h, site, class_tumor_ratio):
    """Tumor compartment in Cheng 2020's definitions (QTC, VTC, BVT, PT, PATC, KTRES*)."""
    for key, unit, desc in (("BVT", "fraction", "tumor capillary blood fraction"),
                            ("PT", "-", "tumor:blood partition coefficient"),
                            ("KTRES50", "h", "time of half-maximal tumor cellular uptake"),
                            ("KTRESn", "-", "Hill coefficient of tumor uptake"),
                            ("KTRESrelease", "1/h", "release from tumor cellular compartment")):
        s = tumor_site_value(site, key)
        ps.set(f"tumor.{key}", s.value, unit, s.source, desc)
    ref = tumor_site_value(site, "median_hydrodynamic_diameter_nm")
    perm = ps.set("effect.tumor.permeability_factor", extravasation.permeability_factor(d_h, "tumor", ref.value), "x",
                  lambda: f"pore theory, vascular bed 'tumor', relative to the NTD median particle ({ref.value:g} nm)")
    bbb_site = site == "brain" and targeting.crosses_blood_brain_barrier(f)
    patc_src = tumor_site_value("subcutaneous" if bbb_site else site, "PATC")
    c_main = classes[main].coverage
    membrane_perm = ps.set("effect.tumor_membrane_permeability_factor", targeting.membrane_tumor_permeability_factor(f, c_main),
                           "x", "membranes.yaml tumor_permeability_factor")
    barrier = _brain_factors(f, ps, d_h, c_main, bbb_site)
    ps.set("tumor.PATC", patc_src.value * perm * membrane_perm * barrier, "fraction of tumor blood flow",
           lambda: f"{patc_src.source} x size x membrane factors" + ("; BBB bypassed (ligand)" if bbb_site else "")
           + ("; x BBB factor" if barrier != 1.0 else ""),
           "tumor permeability-surface area coefficient")
    membrane_uptake = ps.set("effect.tumor_membrane_uptake_factor", targeting.membrane_tumor_uptake_factor(f, c_main), "x",
                             "membranes.yaml (homotypic / tropism / adhesion, by fraction and coverage)")
    ligand_uptake = ps.set("effect.tumor_ligand_uptake_factor", targeting.ligand_tumor_uptake_factor(f), "x",
                           "ligands.yaml x receptor level (cell_lines.yaml) x occupancy")
    inflamed = 1.0
    if f.subject.tumor.post_surgical:
        inflamed = ps.set("effect.tumor.inflamed_brain_factor", brain.inflamed_tumor_factor(f, c_main), "x",
                          "membranes.yaml inflamed_brain_tumor_factor (subject.tumor.post_surgical; Xue 2017)",
                          "uptake of neutrophil-membrane particles into a resected, inflamed brain tumor")
    kmax = tumor_site_value(site, "KTRESmax")
    ps.set("tumor.KTRESmax", kmax.value * membrane_uptake * ligand_uptake * inflamed, "1/h",
           lambda: f"{kmax.source} x targeting factors", "max uptake rate of the tumor's cellular compartment")
    for i, c in enumerate(classes):
        class_tumor_ratio[i] = (targeting.membrane_tumor_uptake_factor(f, c.coverage) * brain.inflamed_tumor_factor(f, c.coverage)
                                / (membrane_uptake * inflamed))



def _brain_factors(f, ps, d_h, c_main, ligand_crosses: bool) -> float:
    """A brain tumor's BBB factor on PATC (intact: brain capillaries in place of the leaky tumor bed,
    unless a ligand crosses; surface/brain.py)."""
    if f.subject.tumor is None or not is_brain_tumor(f.subject.tumor):
        return 1.0
    intact = brain.bbb_intact(f) and not ligand_crosses
    bbb = ps.set("effect.tumor.bbb_factor", brain.intact_bbb_factor(d_h) if intact else 1.0, "x",
                 lambda: (f"subject.tumor.bbb: {f.subject.tumor.bbb}; pore theory, vascular bed 'brain' over 'tumor' "
                          "(Sarin 2010)" if intact else f"subject.tumor.bbb: {f.subject.tumor.bbb} (the tumor's own bed)"),
                 "tumor vessels' blood-brain barrier")
    return bbb
