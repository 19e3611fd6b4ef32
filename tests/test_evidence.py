"""The evidence base (issue 13): record fields, the assumed-field rule, the NTD mapping, the
model's observables, the scorecard's measures, calibrations by id."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import nanocloak
import nanocloak.library.calibrations
from conftest import ROOT
from nanocloak.cli.main import app
from nanocloak.evidence import load_base, ntd_source, observables, scorecard, studies
from nanocloak.evidence import calibrate as evcal

RUNNER = CliRunner()
BASE = load_base()


def test_every_usable_row_carries_its_record_fields():
    usable = [(s, p) for s in BASE for p in s.usable_points]
    assert len(usable) >= 80
    for s, p in usable:
        assert s.citable, s.id          # a DOI / PMID / PMC id read, or volume:pages confirmed by the second reader
        assert s.data.url_read, s.id
        assert p.m.locator and p.m.paraphrase and p.m.checked_by, (s.id, p.index)
        assert s.data.citation.year, s.id


def test_rows_without_a_second_reader_are_never_used():
    for s in BASE:
        for p in s.points:
            if not p.m.checked_by:
                assert not p.usable and "second reader" in p.reason


def test_assumed_fields_are_never_written_and_required_ones_are_covered():
    for s in BASE:
        for arm in s.data.arms:
            for path in arm.assumed:
                assert not studies.has_path(arm.formulation, path), (s.id, arm.id, path)
            f = arm.formulation
            if str(f.get("core", {}).get("material")) != "free":
                assert "diameter_nm" in f.get("core", {}) or "core.diameter_nm" in arm.assumed, (s.id, arm.id)
            dose = f.get("dose", {})      # a dose per body surface area counts as written (dose.mg_per_m2, issue 13)
            assert "mg_per_kg" in dose or "mg_per_m2" in dose or "dose.mg_per_kg" in arm.assumed, (s.id, arm.id)


def test_assumed_fields_take_the_documented_defaults():
    filled = studies.fill_assumed({"core": {"material": "plga"}, "dose": {}, "subject": {"species": "mouse",
                                   "tumor": {"type": "melanoma"}}, "payloads": [{"drug": "did"}]})
    d = studies.defaults()
    assert filled["core"]["diameter_nm"] == d["core_diameter_nm"]["value"]
    assert filled["dose"]["mg_per_kg"] == d["dose_mg_per_kg"]["value"]
    assert filled["payloads"][0]["loading_wt_pct"] == d["tracer_loading_wt_pct"]["value"]
    assert filled["subject"]["tumor"]["line"] == "B16F10"


def test_a_stand_in_is_named_and_drug_effects_of_it_are_not_scored():
    used: list[str] = []
    f = studies.fill_assumed({"core": {"material": "pla", "diameter_nm": 100}, "dose": {"mg_per_kg": 5},
                              "payloads": [{"drug": "unobtainium"}]}, used)
    assert f["core"]["material"] == "plga" and f["payloads"][0]["drug"] == "did"
    assert any("pla" in u for u in used) and any("unobtainium" in u for u in used)


def test_ntd_arms_are_valid_formulations_without_the_data_sets_own_fitted_parameters():
    ntd = ntd_source.load()
    assert len(ntd.studies) >= 300
    for s in ntd.studies[:50]:
        f = s.formulations["ntd"]
        assert not any(k.startswith("tumor.") for k in f.model.overrides)
        assert f.subject.tumor is not None and all(p.observable == "tumor_pct_id" for p in s.points)


def _two_arm_study(times=(0.0, 168.0)):
    doc = {"id": "synthetic", "citation": {"year": 2020, "doi": "10.1000/x"}, "url_read": ["x"],
           "arms": [{"id": "a", "formulation": {"nanocloak": 1, "name": "a", "core": {"material": "liposome",
                                                  "diameter_nm": 100}, "surface": {"kind": "peg"},
                                                  "dose": {"mg_per_kg": 5, "times_h": list(times)}}},
                    {"id": "b", "formulation": {"nanocloak": 1, "name": "b", "core": {"material": "liposome",
                                                  "diameter_nm": 100}, "dose": {"mg_per_kg": 5}}}],
           "measurements": [
               {"observable": "blood_pct_id", "arm": "a", "t_h": 172.0, "dose_index": 2, "value": 1.0},
               {"observable": "blood_retention_pct", "arm": "b", "t_h": 24.0, "reference_t_h": 0.083, "value": 10.0},
               {"observable": "fold", "numerator": "a", "denominator": "b", "of": "organ_pct_id", "organ": "liver",
                "t_h": 4.0, "value": 1.0},
               {"observable": "blood_pct_id", "arm": "b", "t_h": 4.0, "value": 1.0}]}
    data = studies.StudyFile.model_validate(doc)
    forms = {a.id: nanocloak.spec.formulation.from_dict(a.formulation) for a in data.arms}
    s = studies.Study("synthetic", "paper", data, forms, {}, {"a": [], "b": []})
    s.points = [studies.Point("synthetic", i, m, True) for i, m in enumerate(data.measurements)]
    return s


def test_observables_follow_their_definitions():
    s = _two_arm_study()
    pairs = [(s, p) for p in s.points]
    results = observables.simulate_arms(observables.needed_arms(pairs), {"synthetic": s})
    values = {p.index: observables.value(s, p, results) for p in s.points}
    b = results[observables.ArmKey("synthetic", "b")]
    t, blood = np.asarray(b.t_h), np.asarray(b.series["blood_sample"])
    assert values[1] == pytest.approx(100 * np.interp(24, t, blood) / np.interp(0.083, t, blood), rel=1e-9)
    a = results[observables.ArmKey("synthetic", "a")]
    liver = lambda r: np.interp(4.0, np.asarray(r.t_h), np.asarray(r.series["liver"]))  # noqa: E731
    assert values[2] == pytest.approx(liver(a) / liver(b), rel=1e-9)
    # the second dose's own curve = the schedule minus its first dose alone
    first = results[observables.ArmKey("synthetic", "a", 1)]
    both = np.interp(172.0, np.asarray(a.t_h), np.asarray(a.series["blood_sample"]))
    one = np.interp(172.0, np.asarray(first.t_h), np.asarray(first.series["blood_sample"]))
    assert values[0] == pytest.approx(both - one, rel=1e-9) and values[0] > 0


def _scored(measured, model, arm="a", **kw):
    base = dict(study="s", source="paper", index=0, observable="blood_pct_id", organ=None, arm=arm, t_h=4.0,
                membrane="peg")
    base.update(kw)
    return scorecard.Scored(measured=measured, model=model, **base)


def test_fold_errors_and_the_tie_rule():
    assert _scored(10, 20).fold_error == pytest.approx(2.0)
    assert _scored(20, 10).fold_error == pytest.approx(2.0)
    s = scorecard.summary([_scored(10, 15), _scored(10, 35)])
    assert s["within_2fold_pct"] == 50.0 and s["within_3fold_pct"] == 50.0
    assert s["gmfe"]["blood"] == pytest.approx(math.exp((math.log(1.5) + math.log(3.5)) / 2), rel=1e-3)
    # two arms: measured a > b; a model ratio of 1.05 is a tie, which never agrees
    rows = [_scored(20, 10.5, "a"), _scored(10, 10.0, "b")]
    assert scorecard.directions(rows) == [False]
    rows = [_scored(20, 30, "a"), _scored(10, 10.0, "b")]
    assert scorecard.directions(rows) == [True]


def test_study_random_effects_are_profiled_exactly():
    s = _two_arm_study()
    p = [s.points[3], s.points[1]]
    pairs = [(s, q) for q in p]
    values = {("synthetic", 3): 2.0, ("synthetic", 1): 20.0}          # both 2x the measurement
    r, offsets = evcal.residuals(pairs, values)
    w = 1 / evcal.MODEL_LOG_SD ** 2
    expected = 2 * w * math.log(2) / (2 * w + 1 / evcal.STUDY_EFFECT_SD ** 2)
    assert offsets["synthetic"] == pytest.approx(expected)
    assert len(r) == 3


def test_a_calibration_is_named_in_results_and_selectable_by_id(tmp_path):
    f = nanocloak.load(ROOT / "examples" / "peg_plga.yaml")
    default = nanocloak.simulate(f)
    assert json.loads(default.to_json())["calibration"] == nanocloak.library.calibrations.calibration_id()
    old = f.model_copy(deep=True)
    old.model.calibration = "hu2011-half-lives-2026-11-21"
    r = nanocloak.simulate(old)
    assert json.loads(r.to_json())["calibration"] == "hu2011-half-lives-2026-11-21"
    doc = evcal.calibration_doc({"mps_uptake_scale": 50.0}, "test-cal")
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(doc))
    fast = f.model_copy(deep=True)
    fast.model.calibration = str(path)
    assert nanocloak.simulate(fast).metrics["blood_auc_pct_id_h"] < default.metrics["blood_auc_pct_id_h"]


def test_an_unknown_calibration_is_a_clear_error(tmp_path):
    doc = yaml.safe_load((ROOT / "examples" / "peg_plga.yaml").read_text())
    doc["model"] = {"calibration": "no-such-calibration"}
    p = tmp_path / "f.yaml"
    p.write_text(yaml.safe_dump(doc))
    result = RUNNER.invoke(app, ["simulate", str(p)])
    assert result.exit_code == 2 and "model.calibration" in result.stderr


def test_evidence_list_json_has_the_fields_of_the_contract():
    result = RUNNER.invoke(app, ["evidence", "list", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    keys = {"id", "source", "citation", "year", "membranes", "observables", "repeat_dose", "points"}
    assert all(keys <= set(r) for r in rows)
    assert {r["source"] for r in rows} == {"paper", "ntd"}


def test_evidence_show_names_stand_ins_and_unused_points():
    result = RUNNER.invoke(app, ["evidence", "show", "dams2000_abc_pegliposome_rat", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["points"] and doc["arms"]["second"]["assumed"]
    bad = RUNNER.invoke(app, ["evidence", "show", "no_such_study"])
    assert bad.exit_code == 2 and "evidence list" in bad.stderr


def test_uncertainty_bands_bracket_the_calibrated_result():
    from nanocloak.evidence.uncertainty import metric_bands

    f = nanocloak.load(ROOT / "examples" / "peg_plga.yaml")
    lo, hi = metric_bands(f, n=16, seed=1)
    r = nanocloak.simulate(f)
    for key in ("blood_t_half_h", "blood_auc_pct_id_h"):
        assert lo[key] < hi[key]
        assert lo[key] * 0.8 <= r.metrics[key] <= hi[key] * 1.25
    old = f.model_copy(deep=True)
    old.model.calibration = "hu2011-half-lives-2026-11-21"
    with pytest.raises(nanocloak.NanocloakError, match="covariance"):
        metric_bands(old, n=8)
