"""surface.blocks: the spec's optional blocks handed back where validation guarantees them, and a
clear error (naming the field) where a caller reaches for a block the formulation's kind lacks."""

from __future__ import annotations

import pytest

from nanocloak.errors import FormulationError
from nanocloak.lab.fabrication import infer_coverage
from nanocloak.spec.formulation import from_dict
from nanocloak.surface import coating
from nanocloak.surface.blocks import core_diameter_nm, membrane_of, peg_of, source_fraction


def _doc(**parts) -> dict:
    return {"nanocloak": 1, "name": "t", "core": {"material": "plga", "diameter_nm": 80}, "dose": {"mg_per_kg": 5}, **parts}


def test_validated_blocks_come_back_as_written():
    hybrid = from_dict(_doc(surface={"kind": "membrane", "membrane": {
        "sources": [{"cell": "rbc", "fraction": 0.3}, {"cell": "platelet", "fraction": 0.7}]}}))
    m = membrane_of(hybrid)
    assert m is hybrid.surface.membrane
    assert [source_fraction(s) for s in m.sources] == [0.3, 0.7]
    single = from_dict(_doc(surface={"kind": "membrane", "membrane": {"sources": [{"cell": "rbc"}]}}))
    assert source_fraction(membrane_of(single).sources[0]) == 1.0      # the validator fills a lone source's share
    peg = from_dict(_doc(surface={"kind": "peg"}))
    assert peg_of(peg).mw_kDa == 2.0                                    # Peg() filled in by the validator
    assert core_diameter_nm(peg.core) == 80.0


def test_a_missing_block_is_a_clear_error_naming_the_field():
    peg = from_dict(_doc(surface={"kind": "peg"}))
    with pytest.raises(FormulationError, match=r"surface\.membrane: needs kind: membrane.*kind: peg"):
        membrane_of(peg)
    bare = from_dict(_doc())
    with pytest.raises(FormulationError, match=r"surface\.peg: needs kind: peg.*kind: none"):
        peg_of(bare)
    free = from_dict(_doc(core={"material": "free"}, payloads=[{"drug": "doxorubicin", "loading_wt_pct": 99}],
                          dose={"basis": "drug", "mg_per_kg": 5}))
    with pytest.raises(FormulationError, match=r"core\.diameter_nm: required"):
        core_diameter_nm(free.core)
    with pytest.raises(FormulationError, match=r"core\.diameter_nm"):
        coating.core_surface_area_m2_per_mg(free)      # was a TypeError from float(None)


def test_qc_inference_on_a_coat_without_membrane_says_so():
    """infer_coverage read f.surface.membrane.sources unchecked: a PEG formulation gave an AttributeError."""
    peg = from_dict(_doc(surface={"kind": "peg"}))
    with pytest.raises(FormulationError, match=r"surface\.membrane"):
        infer_coverage(peg, 80, 90, -30, -20)


def test_an_unvalidated_source_without_fraction_is_named():
    f = from_dict(_doc(surface={"kind": "membrane", "membrane": {"sources": [{"cell": "rbc"}]}}))
    src = membrane_of(f).sources[0]
    src.fraction = None          # changed after validation
    with pytest.raises(FormulationError, match=r"sources\[\]\.fraction: the rbc source has no fraction"):
        coating.coat_thickness_nm(f)
