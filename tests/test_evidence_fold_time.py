"""Evidence rules (issue 13): a fold between arms of a whole-curve quantity (half-life, AUC) needs no
sampling time, a fold of a quantity read at a time does; an unnamed cancer membrane line takes the
tumor's line also when that line is itself assumed from the tumor type."""

from __future__ import annotations

import yaml

from nanocloak.evidence import studies


def _arm(arm_id: str, material: str) -> dict:
    return {"id": arm_id, "formulation": {"nanocloak": 1, "name": arm_id,
                                          "core": {"material": material, "diameter_nm": 100},
                                          "dose": {"mg_per_kg": 5}, "subject": {"species": "rat"}}}


def _study(tmp_path, of: str, t_h):
    doc = {"id": "fold_time", "citation": {"year": 2020, "doi": "10.1000/xyz123"}, "url_read": ["x"],
           "arms": [_arm("a", "liposome"), _arm("b", "micelle")],
           "measurements": [{"observable": "fold", "numerator": "a", "denominator": "b", "of": of,
                             "organ": "liver" if of.startswith("organ") else None, "t_h": t_h, "value": 2.0,
                             "locator": "Abstract", "paraphrase": "a over b", "checked_by": "reader-2"}]}
    path = tmp_path / "fold_time.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return studies.read_study(path)


def test_a_fold_of_a_half_life_or_an_auc_is_usable_without_a_time(tmp_path):
    for of in ("t_half_h", "auc"):
        point = _study(tmp_path, of, None).points[0]
        assert point.usable, (of, point.reason)


def test_a_fold_of_a_timed_quantity_without_a_time_is_not_used(tmp_path):
    point = _study(tmp_path, "organ_pct_id", None).points[0]
    assert not point.usable and point.reason == "no time stated"
    assert _study(tmp_path, "organ_pct_id", 4.0).points[0].usable


def test_an_unnamed_cancer_membrane_takes_the_line_the_tumor_type_gives():
    used: list[str] = []
    f = studies.fill_assumed({"core": {"material": "liposome"}, "surface": {"kind": "membrane", "membrane": {
        "sources": [{"cell": "cancer"}]}}, "subject": {"species": "mouse", "tumor": {"type": "brain"}}}, used)
    line = studies.defaults()["tumor_line_by_cancer_type"]["mouse"]["brain"]
    assert f["subject"]["tumor"]["line"] == line
    assert f["surface"]["membrane"]["sources"][0]["line"] == line
    assert any("membrane line not named" in u for u in used)
    # a named membrane line is kept (a heterotypic design stays heterotypic)
    g = studies.fill_assumed({"core": {"material": "liposome"}, "surface": {"kind": "membrane", "membrane": {
        "sources": [{"cell": "cancer", "line": "4T1"}]}}, "subject": {"species": "mouse", "tumor": {"type": "brain"}}})
    assert g["surface"]["membrane"]["sources"][0]["line"] == "4T1"
