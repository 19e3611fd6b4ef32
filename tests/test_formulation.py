"""The formulation contract: every example parses, bad files give one clear error naming the field."""

import copy

import pytest

import nanocloak
from nanocloak.errors import FormulationError
from nanocloak.spec.formulation import from_dict, load

from conftest import EXAMPLES, make


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_loads(path):
    f = load(path)
    assert f.name and f.core.material


def test_spec_example_with_all_blocks():
    f = from_dict(make(
        surface={"kind": "membrane", "membrane": {"sources": [{"cell": "RBC", "fraction": 1.0, "line": None, "donor": "Syngeneic"}],
                                                  "method": "Coextrusion", "membrane_to_core_mass_ratio": 1.0},
                 "ligands": [{"name": "Folate", "per_particle": 500}]},
        payloads=[{"drug": "Doxorubicin", "loading_wt_pct": 5,
                   "release": {"model": "first_order", "params": {"k_per_h": 0.02},
                               "triggers": [{"kind": "pH", "threshold": 6.8, "factor": 3.0}]}}],
        subject={"species": "mouse", "body_weight_g": 20, "host": "immunocompetent",
                 "tumor": {"line": "4t1", "type": "breast", "site": "subcutaneous", "model": "allograft", "volume_mm3": 100}},
        treatment={"lasers": [{"at_h": 24, "wavelength_nm": 808, "power_W_per_cm2": 1.0, "duration_min": 5}]},
        model={"overrides": {}}, simulate={"end_h": 168, "output_times_h": [0.5, 2]}))
    assert f.surface.membrane.sources[0].cell == "rbc"          # enumerations case-insensitive
    assert f.subject.tumor.line == "4T1"                          # library keys resolve to canonical
    assert f.payloads[0].drug == "doxorubicin"


def test_defaults_follow_the_spec():
    f = from_dict(make(subject={"species": "mouse", "tumor": {"line": "MCF-7"}}))
    assert f.surface.kind == "none"
    assert f.subject.tumor.model == "xenograft" and f.subject.host == "nude"   # a human line in a mouse
    assert f.subject.body_weight_g == 20
    assert f.simulate.end_h == 168 and f.dose.times_h == [0.0]


def test_values_with_explicit_compatible_units_are_converted():
    f = from_dict(make(core={"material": "plga", "diameter_nm": "0.07 um"}, subject={"species": "mouse", "body_weight_g": "0.025 kg"}))
    assert f.core.diameter_nm == pytest.approx(70.0)
    assert f.subject.body_weight_g == pytest.approx(25.0)


def test_round_trip_through_yaml(tmp_path):
    f = load(EXAMPLES[0])
    p = tmp_path / "again.yaml"
    p.write_text(f.to_yaml())
    g = load(p)
    assert g.model_dump() == f.model_dump()


def _set(d, path, value):
    keys = path.split(".")
    node = d
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value


DELETE = object()
MEMBRANE = {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc"}]}}
BAD = [
    # (what, modification, field path expected in the message)
    ("unknown top-level field", ("colour", "red"), "colour"),
    ("unknown core field (wrong unit in name)", ("core.diameter_um", 0.07), "core.diameter_um"),
    ("missing version", ("nanocloak", DELETE), "nanocloak"),
    ("wrong version", ("nanocloak", 2), "nanocloak"),
    ("missing name", ("name", DELETE), "name"),
    ("unknown material", ("core.material", "unobtainium"), "core.material"),
    ("negative size", ("core.diameter_nm", -5), "core.diameter_nm"),
    ("size too large", ("core.diameter_nm", 5000), "core.diameter_nm"),
    ("diameter missing", ("core.diameter_nm", DELETE), "core"),
    ("size is text", ("core.diameter_nm", "big"), "core.diameter_nm"),
    ("wrong unit dimension", ("core.diameter_nm", "70 mV"), "core.diameter_nm"),
    ("unknown shape", ("core.shape", "star"), "core.shape"),
    ("aspect ratio on a sphere", ("core.aspect_ratio", 3), "core"),
    ("unknown surface kind", ("surface.kind", "gold"), "surface.kind"),
    ("zero dose", ("dose.mg_per_kg", 0), "dose.mg_per_kg"),
    ("negative dose time", ("dose.times_h", [-1]), "dose.times_h"),
    ("oral route", ("dose.route", "oral"), "dose.route"),
    ("unknown species", ("subject.species", "dog"), "subject.species"),
    ("implausible mouse weight", ("subject.body_weight_g", 2000), "subject.body_weight_g"),
    ("unknown host", ("subject.host", "athymic"), "subject.host"),
    ("end time zero", ("simulate.end_h", 0), "simulate.end_h"),
    ("output time after end", ("simulate.output_times_h", [500]), "simulate.output_times_h"),
    ("dose after end", ("dose.times_h", [0, 500]), "dose.times_h"),
    ("override not a number", ("model.overrides", {"liver.pa_L_per_h": "fast"}), "model.overrides"),
]


@pytest.mark.parametrize("what,change,path", BAD, ids=[b[0] for b in BAD])
def test_bad_values_are_rejected_with_the_field_path(what, change, path):
    d = make()
    _set(d, change[0], change[1])
    with pytest.raises(FormulationError) as exc:
        from_dict(d)
    assert path in str(exc.value)


BAD_SURFACES = [
    ("membrane block without kind membrane", {"kind": "none", "membrane": {"sources": [{"cell": "rbc"}]}}, "surface"),
    ("kind membrane without membrane", {"kind": "membrane"}, "surface"),
    ("unknown membrane source", {"kind": "membrane", "membrane": {"sources": [{"cell": "fibroblast"}]}}, "surface.membrane.sources[0].cell"),
    ("cancer membrane without line", {"kind": "membrane", "membrane": {"sources": [{"cell": "cancer"}]}}, "surface.membrane.sources[0]"),
    ("unknown cancer line", {"kind": "membrane", "membrane": {"sources": [{"cell": "cancer", "line": "XYZ-9"}]}}, "surface.membrane.sources[0].line"),
    ("fractions not summing to 1", {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc", "fraction": 0.5},
                                                                             {"cell": "platelet", "fraction": 0.4}]}}, "surface.membrane"),
    ("hybrid fraction missing", {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc", "fraction": 0.5}, {"cell": "platelet"}]}},
     "surface.membrane"),
    ("unknown method", {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc"}], "method": "blender"}}, "surface.membrane.method"),
    ("unknown donor", {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc", "donor": "alien"}]}}, "surface.membrane.sources[0].donor"),
    ("peg block on a membrane", dict(MEMBRANE, peg={"mw_kDa": 2}), "surface"),
    ("unknown ligand", {"kind": "peg", "ligands": [{"name": "biotin", "per_particle": 10}]}, "surface.ligands[0].name"),
    ("PEG MW out of range", {"kind": "peg", "peg": {"mw_kDa": 500}}, "surface.peg.mw_kDa"),
]


@pytest.mark.parametrize("what,surface,path", BAD_SURFACES, ids=[b[0] for b in BAD_SURFACES])
def test_bad_surfaces_are_rejected(what, surface, path):
    with pytest.raises(FormulationError) as exc:
        from_dict(make(surface=surface))
    assert path in str(exc.value)


BAD_PAYLOADS = [
    ("unknown drug", [{"drug": "aspirin2", "loading_wt_pct": 5}], "payloads[0].drug"),
    ("loading over 100", [{"drug": "doxorubicin", "loading_wt_pct": 120}], "payloads[0].loading_wt_pct"),
    ("unknown release model", [{"drug": "doxorubicin", "loading_wt_pct": 5, "release": {"model": "magic", "params": {}}}],
     "payloads[0].release.model"),
    ("wrong release parameter", [{"drug": "doxorubicin", "loading_wt_pct": 5, "release": {"model": "first_order", "params": {"k": 1}}}],
     "payloads[0].release"),
    ("pH trigger without threshold", [{"drug": "doxorubicin", "loading_wt_pct": 5, "release": {
        "model": "first_order", "params": {"k_per_h": 0.1}, "triggers": [{"kind": "ph", "factor": 2}]}}], "payloads[0].release.triggers[0]"),
]


@pytest.mark.parametrize("what,payloads,path", BAD_PAYLOADS, ids=[b[0] for b in BAD_PAYLOADS])
def test_bad_payloads_are_rejected(what, payloads, path):
    with pytest.raises(FormulationError) as exc:
        from_dict(make(payloads=payloads))
    assert path in str(exc.value)


def test_xenograft_in_immunocompetent_host_is_rejected():
    with pytest.raises(FormulationError) as exc:
        from_dict(make(subject={"species": "mouse", "host": "immunocompetent", "tumor": {"line": "MDA-MB-231"}}))
    assert "subject" in str(exc.value) and "nude" in str(exc.value)


def test_free_drug_rules():
    free = make(core={"material": "free"}, payloads=[{"drug": "doxorubicin", "loading_wt_pct": 99}], dose={"basis": "drug", "mg_per_kg": 5})
    assert from_dict(free).core.is_free_drug
    bad = copy.deepcopy(free)
    bad["core"]["diameter_nm"] = 50
    with pytest.raises(FormulationError, match="core"):
        from_dict(bad)


def test_unknown_override_names_the_field():
    f = from_dict(make(model={"overrides": {"liver.pa_per_h": 1.0}}))
    with pytest.raises(FormulationError) as exc:
        nanocloak.simulate(f)
    assert "model.overrides.liver.pa_per_h" in str(exc.value) and "liver.pa_L_per_h" in str(exc.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(FormulationError, match="not found"):
        load(tmp_path / "missing.yaml")
    p = tmp_path / "broken.yaml"
    p.write_text("nanocloak: 1\nname: [unclosed\n")
    with pytest.raises(FormulationError, match="not valid YAML"):
        load(p)
    p.write_text("- just\n- a list\n")
    with pytest.raises(FormulationError, match="mapping"):
        load(p)
