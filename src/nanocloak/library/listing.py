"""Tables for `nanocloak library KIND`: what each library holds, in a line per entry."""

from __future__ import annotations

from nanocloak.library import release_laws as release_models
from nanocloak.library import tables as library


def _v(node) -> str:
    if isinstance(node, dict) and "value" in node:
        s = library.sourced(node)
        return f"{s.value:g}" + ("*" if s.source.startswith("assumption") else "")
    return "" if node is None else str(node)


def listing(kind: str) -> tuple[str, list[str], list[list]]:
    """(title, columns, rows); '*' marks a value that is an assumption (see its source)."""
    if kind == "release-models":
        rows = [[m.name, ", ".join(f"{p.name} ({p.unit})" for p in m.parameters), m.equation, m.source]
                for m in release_models.RELEASE_MODELS.values()]
        return "release models (params: name (unit))", ["model", "params", "equation", "source"], rows
    if kind == "hosts":
        hosts = library.table("immunology")["hosts"]
        rows = [[h, _v(v["anti_peg_response_factor"]), _v(v["anti_donor_response_factor"])] for h, v in hosts.items()]
        return "hosts", ["host", "anti-PEG response", "anti-donor response"], rows
    if kind == "species":
        rows = []
        for k, v in library.entries("species").items():
            rows.append([k, _v(v["body_weight_g"]), _v(v["cardiac_output_L_per_h_per_kg075"]), _v(v["blood_volume_fraction"]),
                         ", ".join(v["organs"])])
        return "species (* = assumption)", ["species", "body weight g", "cardiac output L/h/kg^0.75", "blood fraction", "organs"], rows
    table, columns, fields = {
        "materials": ("materials", ["key", "label", "category", "density g/cm3", "zeta mV", "degradation t1/2 h", "PCE", "ext 808 L/g/cm"],
                      ["label", "category", "density_g_per_cm3", "zeta_mV", "degradation_half_life_h",
                       "photothermal_conversion_efficiency", "mass_extinction_coefficient_808_L_per_g_cm"]),
        "membranes": ("membranes", ["key", "label", "targeting", "MPS uptake x bare", "tumor uptake x", "zeta mV", "coat nm"],
                      ["label", "targeting", "phagocytic_uptake_factor", "tumor_uptake_factor", "membrane_zeta_mV", "coat_thickness_nm"]),
        "ligands": ("ligands", ["key", "label", "receptor", "max tumor uptake x", "half-saturation /particle", "added nm"],
                    ["label", "receptor", "max_tumor_uptake_factor", "half_saturation_per_particle", "added_thickness_nm"]),
        "drugs": ("drugs", ["key", "label", "kind", "MW g/mol", "fu plasma", "hepatic CL L/h/kg"],
                  ["label", "kind", "molecular_weight_g_per_mol", "fraction_unbound_plasma", "hepatic_clearance_L_per_h_per_kg"]),
        "cell-lines": ("cell_lines", ["key", "species", "cancer type", "strain", "doubling time d"],
                       ["species", "cancer_type", "strain", "tumor_doubling_time_days"]),
        "coating-methods": ("coating_methods", ["key", "label", "mean coverage", "PDI", "protein integrity", "yield"],
                            ["label", "mean_coverage_fraction", "pdi", "protein_integrity_fraction", "yield_fraction"]),
    }[kind]
    rows = [[key] + [_v(entry.get(f)) for f in fields] for key, entry in library.entries(table).items()]
    return f"{kind} (* = assumption; sources: `src/nanocloak/data/{table}.yaml`)", columns, rows


_TABLE_OF_KIND = {"materials": "materials", "membranes": "membranes", "ligands": "ligands", "drugs": "drugs",
                  "cell-lines": "cell_lines", "coating-methods": "coating_methods", "species": "species"}


def entries_json(kind: str) -> list[dict]:
    """Every key of a library with all its fields as stored (values with their sources)."""
    if kind == "release-models":
        return [{"key": m.name, "equation": m.equation, "source": m.source,
                 "params": [{"name": p.name, "unit": p.unit, "lower": p.lower, "upper": p.upper} for p in m.parameters]}
                for m in release_models.RELEASE_MODELS.values()]
    if kind == "hosts":
        return [{"key": h, **v} for h, v in library.table("immunology")["hosts"].items()]
    return [{"key": key, **entry} for key, entry in library.entries(_TABLE_OF_KIND[kind]).items()]
