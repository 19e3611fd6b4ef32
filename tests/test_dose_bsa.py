"""dose.mg_per_m2 (issue 13): a dose per body surface area, converted with the species' Km factor
(FDA CDER 2005 guidance, Table 1; data/dose_conversion.yaml), and the mg h/L AUC rows it makes usable."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from nanocloak.errors import FormulationError
from nanocloak.evidence import observables
from nanocloak.evidence.studies import load_base
from nanocloak.spec.dose import km_kg_per_m2, mg_per_kg_from_m2, mg_per_m2_from_kg
from nanocloak.spec.formulation import from_dict

BSA_STUDIES = ("gabizon1994_doxil_human", "gill1995_daunoxome_dose_human", "working1996_caelyx_human",
               "doxil_label_kaposi_human")


def form(dose: dict, species: str = "human", **subject) -> dict:
    return {"nanocloak": 1, "name": "bsa", "core": {"material": "liposome", "diameter_nm": 100},
            "payloads": [{"drug": "doxorubicin", "loading_wt_pct": 10}],
            "dose": {"basis": "drug", **dose}, "subject": {"species": species, **subject}}


def test_km_factors_order_with_body_size():
    # Km = weight / surface area grows with body size: mouse < rat < human
    assert km_kg_per_m2("mouse") < km_kg_per_m2("rat") < km_kg_per_m2("human")
    # so one dose per m2 is the most per kg in the smallest animal
    per_kg = [from_dict(form({"mg_per_m2": 30}, s)).dose.mg_per_kg for s in ("mouse", "rat", "human")]
    assert per_kg[0] > per_kg[1] > per_kg[2]
    # and one dose per kg is the least per m2 in the smallest animal
    per_m2 = [mg_per_m2_from_kg(5.0, s) for s in ("mouse", "rat", "human")]
    assert per_m2[0] < per_m2[1] < per_m2[2]


@pytest.mark.parametrize("species", ["mouse", "rat", "human"])
def test_round_trip_m2_kg_mg(species):
    f = from_dict(form({"mg_per_m2": 25}, species))
    km = km_kg_per_m2(species)
    assert f.dose.mg_per_m2 == 25
    assert f.dose.mg_per_kg == pytest.approx(25 / km, rel=1e-12)
    assert mg_per_m2_from_kg(f.dose.mg_per_kg, species) == pytest.approx(25, rel=1e-12)
    # the mass given: mg/kg x body weight = mg/m2 x (weight / Km)
    weight_kg = f.subject.body_weight_g / 1000.0
    assert f.dose.first_dose_mg(f.subject.body_weight_g) == pytest.approx(25 * weight_kg / km, rel=1e-12)


def test_human_dose_in_mg():
    # 37 mg/m2 in a 60 kg adult (the guidance's reference adult, Km 37) is 1 mg/kg, 60 mg
    f = from_dict(form({"mg_per_m2": 37}, body_weight_g=60_000))
    assert f.dose.mg_per_kg == pytest.approx(1.0)
    assert f.dose.first_dose_mg(f.subject.body_weight_g) == pytest.approx(60.0)
    assert mg_per_kg_from_m2(74, "human") == pytest.approx(2.0)


def test_unit_and_species_spelling():
    f = from_dict(form({"mg_per_m2": "30 mg/m**2"}, "Mouse"))
    assert f.dose.mg_per_kg == pytest.approx(30 / km_kg_per_m2("mouse"))


def test_dump_reloads():
    f = from_dict(form({"mg_per_m2": 50}))
    for dump in (f.model_dump(), f.model_dump(mode="json", exclude_none=True)):
        g = from_dict(dump)
        assert g.dose.mg_per_kg == f.dose.mg_per_kg and g.dose.mg_per_m2 == 50
    assert from_dict(form({"mg_per_kg": 2})).dose.mg_per_m2 is None


def message(dose: dict, species: str = "human") -> str:
    with pytest.raises(FormulationError) as exc:
        from_dict(form(dose, species))
    return str(exc.value)


def test_both_given_is_refused():
    text = message({"mg_per_m2": 25, "mg_per_kg": 2})
    assert "mg_per_kg or mg_per_m2, not both" in text and "Km 37" in text


def test_neither_given_is_refused():
    text = message({"times_h": [0]})
    assert "dose" in text and "mg_per_kg" in text and "mg_per_m2" in text


@pytest.mark.parametrize("bad, expected", [
    (0, "greater than 0"),
    (-5, "greater than 0"),
    (float("nan"), "finite"),
    (True, "expected a number"),
    ("25 mg/kg", "wrong unit"),
    (1e6, "above the 1000 mg/kg allowed"),
])
def test_impossible_values_name_the_field(bad, expected):
    text = message({"mg_per_m2": bad})
    assert "dose.mg_per_m2" in text and expected in text


def test_too_large_depends_on_species():
    # 5000 mg/m2 is 135 mg/kg in a human but 1667 mg/kg in a mouse (over the spec's 1000)
    assert from_dict(form({"mg_per_m2": 5000})).dose.mg_per_kg == pytest.approx(5000 / 37)
    assert "above the 1000 mg/kg" in message({"mg_per_m2": 5000}, "mouse")


def test_not_with_a_schedule():
    text = message({"mg_per_m2": 25, "schedule": [{"at_h": 0, "mg_per_kg": 1}]})
    assert "dose.mg_per_m2" in text and "schedule" in text


def test_bsa_auc_rows_are_usable():
    studies = {s.id: s for s in load_base() if s.id in BSA_STUDIES}
    assert set(studies) == set(BSA_STUDIES)
    auc = [(s, p) for s in studies.values() for p in s.points if p.m.observable == "auc" and p.m.unit == "mg_h_per_L"]
    assert len(auc) == 12
    bad = [(s.id, p.index, p.reason) for s, p in auc if not p.usable]
    assert not bad
    for s, p in auc:      # each arm's dose is the paper's, per m2
        assert s.formulations[p.m.arm].dose.mg_per_m2 is not None


def fake_result(auc_pct_id_h: float, blood_L: float, hct: float):
    physiology = SimpleNamespace(blood_volume_L=blood_L, hematocrit=hct)
    return SimpleNamespace(metrics={"blood_auc_pct_id_h": auc_pct_id_h}, resolved=SimpleNamespace(physiology=physiology))


def test_auc_in_mg_h_per_L_from_the_dose_mass():
    study = next(s for s in load_base() if s.id == "gill1995_daunoxome_dose_human")
    rows = {p.m.arm: p for p in study.points if p.m.observable == "auc"}
    results = {observables.ArmKey(study.id, arm): fake_result(100.0, 5.0, 0.4) for arm in rows}
    got = {arm: observables.value(study, p, results) for arm, p in rows.items()}
    for arm, v in got.items():
        f = study.formulations[arm]
        mg = f.dose.mg_per_m2 * f.subject.body_weight_g / 1000.0 / km_kg_per_m2("human")
        # 100 %ID h = the whole dose in 3 L of plasma for one hour
        assert v == pytest.approx(mg / (5.0 * 0.6), rel=1e-9)
    # same curve in %ID: the mg h/L AUC scales with the dose per m2 (80 vs 10 mg/m2)
    assert got["dnx80"] / got["dnx10"] == pytest.approx(8.0, rel=1e-9)
