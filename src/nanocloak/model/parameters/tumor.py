"""The tumor compartment in Cheng 2020's definitions (QTC, VTC, BVT, PT, PATC, KTRES*), with the
targeting factors of the surface (membranes and ligands)."""

from __future__ import annotations

from nanocloak.model.parameters.body import tumor_site_value
from nanocloak.surface import extravasation, targeting


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
    ps.set("tumor.PATC", patc_src.value * perm * membrane_perm, "fraction of tumor blood flow",
           lambda: f"{patc_src.source} x size x membrane factors" + ("; BBB bypassed (ligand/neutrophil)" if bbb_site else ""),
           "tumor permeability-surface area coefficient")
    membrane_uptake = ps.set("effect.tumor_membrane_uptake_factor", targeting.membrane_tumor_uptake_factor(f, c_main), "x",
                             "membranes.yaml (homotypic / tropism / adhesion, by fraction and coverage)")
    ligand_uptake = ps.set("effect.tumor_ligand_uptake_factor", targeting.ligand_tumor_uptake_factor(f), "x",
                           "ligands.yaml x receptor level (cell_lines.yaml) x occupancy")
    kmax = tumor_site_value(site, "KTRESmax")
    ps.set("tumor.KTRESmax", kmax.value * membrane_uptake * ligand_uptake, "1/h",
           lambda: f"{kmax.source} x targeting factors", "max uptake rate of the tumor's cellular compartment")
    for i, c in enumerate(classes):
        class_tumor_ratio[i] = targeting.membrane_tumor_uptake_factor(f, c.coverage) / membrane_uptake

