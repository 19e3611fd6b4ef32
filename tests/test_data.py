"""The data rule: every number in every table carries its source."""

import math

import pytest

from nanocloak.library import tables as library

TABLES = list(library.TABLES)


@pytest.mark.parametrize("name", TABLES)
def test_every_number_is_sourced(name):
    bare = []
    for path, leaf in library.iter_sourced(library.table(name)):
        if not isinstance(leaf, dict):
            bare.append(path)
            continue
        s = library.sourced(leaf, path)
        assert s.source.strip(), path
        assert not math.isnan(s.value) or "null" in s.source.lower() or s.note, path
    assert not bare, f"bare numbers without a source in {name}.yaml: {bare[:5]}"


def test_every_spec_material_and_membrane_exists():
    materials = {"plga", "pcl", "chitosan", "liposome", "albumin", "gelatin_nanogel", "micelle", "pamam", "msn", "silica",
                 "gold_nanocage", "gold_nanoshell", "gold_nanorod", "gold_sphere", "silver", "iron_oxide", "cus", "melanin",
                 "polydopamine", "zif8", "porphyrinic_mof", "ucnp", "graphene_oxide", "hydroxyapatite", "drug_nanocrystal",
                 "ag2s_qd", "free"}
    assert materials <= set(library.entries("materials"))
    cells = {"rbc", "platelet", "cancer", "cancer_stem", "mesenchymal_stem", "macrophage", "neutrophil", "t_cell", "nk_cell",
             "leukocyte", "exosome", "bacterial_omv"}
    assert cells <= set(library.entries("membranes"))
    for line in ("4T1", "B16F10", "CT26", "MCF-7", "MDA-MB-231", "U87", "HeLa", "A549", "H22"):
        assert library.resolve_key("cell_lines", line)


@pytest.mark.parametrize("species", ["mouse", "rat", "human"])
def test_blood_budget_closes(species):
    from nanocloak.body import species as physiology

    phys = physiology.build(species, library.value(library.entry("species", species)["body_weight_g"]))
    physiology.check_blood_budget(phys)
    assert phys.organs["rest"].volume_L > 0 and phys.organs["rest"].flow_L_per_h > 0
