"""Vehicle-control rows (issue 14, task W): a measurement with `untreated: true` is the arm's untreated
twin (same subject and tumor, no dose), so a saline arm's median survival or tumor volume tests the
growth law alone; it exists only for survival and tumor volume."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from nanocloak.evidence import observables, studies


def _arm(arm_id: str, material: str, mg_per_kg: float) -> dict:
    core = {"material": material} if material == "free" else {"material": material, "diameter_nm": 100}
    return {"id": arm_id, "formulation": {
        "nanocloak": 1, "name": arm_id, "core": core,
        "payloads": [{"drug": "doxorubicin", "loading_wt_pct": 100 if material == "free" else 10}],
        "dose": {"mg_per_kg": mg_per_kg, "basis": "drug"},
        "subject": {"species": "mouse", "tumor": {"line": "4T1", "volume_mm3": 100}}}}


def _row(arm: str, observable: str, untreated: bool, t_h=None) -> dict:
    return {"arm": arm, "observable": observable, "untreated": untreated, "t_h": t_h, "value": 20.0,
            "locator": "Table 1", "paraphrase": "median survival", "checked_by": "reader-2"}


def _study(tmp_path, rows: list[dict]) -> studies.Study:
    doc = {"id": "untreated_rows", "citation": {"year": 2020, "doi": "10.1000/xyz123"}, "url_read": ["x"],
           "arms": [_arm("lipo", "liposome", 5), _arm("free", "free", 2)], "measurements": rows}
    path = tmp_path / "untreated_rows.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return studies.read_study(path)


def test_untreated_is_refused_for_an_observable_a_control_arm_lacks(tmp_path):
    with pytest.raises(studies.EvidenceError, match=r"measurements\.0\.untreated: allowed only with observable"):
        _study(tmp_path, [_row("lipo", "tgi_pct", True, 240.0)])
    # allowed, and usable, for survival and tumor volume
    s = _study(tmp_path, [_row("lipo", "survival_median_d", True), _row("lipo", "tumor_volume_mm3", True, 120.0)])
    assert all(p.usable for p in s.points), [p.reason for p in s.points]


def test_an_untreated_row_reads_the_untreated_twin_whatever_the_arm(tmp_path):
    rows = [_row("lipo", "survival_median_d", False), _row("lipo", "survival_median_d", True),
            _row("free", "survival_median_d", True), _row("lipo", "tumor_volume_mm3", True, 120.0),
            _row("lipo", "tumor_volume_mm3", False, 120.0), _row("free", "tumor_volume_mm3", True, 120.0)]
    s = _study(tmp_path, rows)
    pairs = [(s, p) for p in s.points]
    results = observables.simulate_arms(observables.needed_arms(pairs), {s.id: s})
    v = {p.index: observables.value(s, p, results) for p in s.points}
    lipo = results[observables.ArmKey(s.id, "lipo")]
    assert v[0] == lipo.metrics["survival_median_d"]
    assert v[1] == lipo.metrics["survival_median_untreated_d"] is not None
    # the control is the growth law alone: the same whichever drug arm carries the row
    assert v[2] == pytest.approx(v[1], rel=1e-9)
    assert v[5] == pytest.approx(v[3], rel=1e-9)
    th = lipo.therapy
    assert v[3] == pytest.approx(float(np.interp(120.0, np.asarray(th.t_h), np.asarray(th.control_mm3))), rel=1e-9)
    # a drug only slows growth: the treated tumor is smaller and its animals live at least as long
    assert v[4] < v[3] and v[0] >= v[1]
