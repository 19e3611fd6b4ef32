"""Design screening: space files, sampling, Pareto fronts, top designs, resume, DuckDB, CLI."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

import nanocloak
from nanocloak.screen import distributed
from nanocloak.screen import screening
from nanocloak.cli.screen import register
from nanocloak.screen.space import SpaceError, compositions, load_space, parse_path
from nanocloak.errors import NanocloakError

from conftest import ROOT, make

runner = CliRunner()
TUMOR_MOUSE = {"species": "mouse", "body_weight_g": 20, "tumor": {"line": "4T1", "volume_mm3": 100}}
RBC = {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc"}]}}


def base(**kw):
    return make(surface=copy.deepcopy(RBC), subject=copy.deepcopy(TUMOR_MOUSE), **kw)


def space_dict(**over):
    d = {"base": base(),
         "vary": {"core.diameter_nm": {"range": [50, 200], "scale": "log"},
                  "surface.membrane.method": {"choice": ["coextrusion", "sonication", "microfluidic_electroporation"]},
                  "surface.membrane.sources": {"hybrid": ["rbc", "platelet"], "fraction_step": 0.25},
                  "dose.mg_per_kg": {"range": [1, 20]}},
         "sampling": {"method": "sobol", "n": 32, "seed": 1},
         "objectives": [{"maximize": "tumor_pct_id_24h"}, {"minimize": "liver_pct_id_24h"}],
         "constraints": [{"metric": "spleen_pct_id_24h", "max": 30}],
         "top": 4}
    d.update(over)
    return d


def error_of(d) -> str:
    with pytest.raises(SpaceError) as exc:
        load_space(d)
    return str(exc.value)


# ---------------------------------------------------------------------------------------------
# space files
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vary, expected", [
    ({"core.diam_nm": {"range": [1, 2]}}, "core has no field 'diam_nm'"),
    ({"core.diameter_nm": {"range": [200, 50]}}, "low < high"),
    ({"core.diameter_nm": {"range": [0, 50], "scale": "log"}}, "scale log needs a positive range"),
    ({"core.material": {"range": [1, 2]}}, "a range needs a number field"),
    ({"core.diameter_nm": {"rnage": [1, 2]}}, "give exactly one of range"),
    ({"treatment.lasers[0].at_h": {"range": [4, 48]}}, "the base has no treatment.lasers[0]"),
    ({"treatment.lasers.at_h": {"range": [4, 48]}}, "treatment.lasers is a list; name an item with [i]"),
    ({"surface.membrane.sources": {"hybrid": ["rbc", "platelet"], "fraction_step": 0.3}}, "must divide 1"),
    ({"core.diameter_nm": {"hybrid": ["rbc", "platelet"], "fraction_step": 0.5}}, "hybrid applies to a list of membrane sources"),
    ({"model.overrides.liver.volum_L": {"range": [0.001, 0.002]}}, "'liver.volum_L' is not a model parameter"),
    ({"core..x": {"range": [1, 2]}}, "not a field path"),
])
def test_bad_fields_are_named(vary, expected):
    msg = error_of(space_dict(vary=vary))
    assert expected in msg
    assert "vary[" in msg


@pytest.mark.parametrize("sampling, expected", [
    ({"method": "sobol", "n": 100}, "power of 2 (e.g. 64 or 128)"),
    ({"method": "lhs"}, "lhs sampling needs the number of designs"),
    ({"method": "grid", "n": 10}, "not used by grid"),
    ({"method": "random", "n": 10}, "sampling.method"),
])
def test_bad_sampling_is_named(sampling, expected):
    msg = error_of(space_dict(sampling=sampling))
    assert expected in msg and "sampling" in msg


def test_other_space_errors():
    assert "objective is {maximize: METRIC}" in error_of(space_dict(objectives=[{"maximize": "a", "minimize": "b"}]))
    assert "give min, max or both" in error_of(space_dict(constraints=[{"metric": "liver_pct_id_24h"}]))
    assert "unknown field" in error_of({**space_dict(), "vray": {}})
    bad_base = base()
    bad_base["core"]["diameter_nm"] = -5
    assert "base: invalid formulation: core.diameter_nm" in error_of(space_dict(base=bad_base))
    assert "base formulation not found" in error_of(space_dict(base="nope.yaml"))


def test_unknown_metric_lists_the_available_ones(tmp_path):
    space = load_space(space_dict(objectives=[{"maximize": "tumor_pct_id_42h"}]))
    with pytest.raises(SpaceError) as exc:
        screening.run_screen(space, tmp_path / "out", serial=True)
    msg = str(exc.value)
    assert "objectives[0]: unknown metric 'tumor_pct_id_42h'" in msg and "available:" in msg
    assert "liver_pct_id_24h" in msg and "tumor_pct_id_24h" in msg
    assert not (tmp_path / "out").exists()            # nothing simulated, nothing written


def test_space_file_with_relative_base(tmp_path):
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "b.yaml").write_text(yaml.safe_dump(base()))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(space_dict(base="forms/b.yaml")))
    space = load_space(tmp_path / "s.yaml")
    assert space.base["core"]["diameter_nm"] == 70
    (tmp_path / "bad.yaml").write_text("base: [unclosed\n")
    with pytest.raises(SpaceError, match="not valid YAML"):
        load_space(tmp_path / "bad.yaml")


def test_paths_parse():
    assert parse_path("treatment.lasers[0].at_h") == ["treatment", "lasers", 0, "at_h"]
    assert parse_path("surface.ligands[1].per_particle") == ["surface", "ligands", 1, "per_particle"]


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------
def test_hybrid_compositions():
    assert compositions(2, 0.25) == [(1.0, 0.0), (0.75, 0.25), (0.5, 0.5), (0.25, 0.75), (0.0, 1.0)]
    three = compositions(3, 0.5)
    assert len(three) == 6 and all(abs(sum(c) - 1) < 1e-12 for c in three)   # C(2 + 2, 2)


def test_grid_is_the_full_product_with_endpoints():
    space = load_space(space_dict(sampling={"method": "grid", "levels": 3},
                                  vary={**space_dict()["vary"], "dose.mg_per_kg": {"range": [1, 20], "levels": 2}}))
    m = space.design_matrix()
    assert m.shape == (3 * 3 * 5 * 2, 4)           # diameter 3 levels, 3 methods, 5 compositions, dose 2
    assert sorted(set(np.round(m[:, 0], 9))) == pytest.approx([50, 100, 200])   # log scale: geometric middle
    assert sorted(set(m[:, 3])) == [1, 20]
    assert len({tuple(r) for r in m}) == len(m)     # no design twice


@pytest.mark.parametrize("method", ["lhs", "sobol"])
def test_random_designs_cover_their_bounds(method):
    n = 64
    space = load_space(space_dict(sampling={"method": method, "n": n, "seed": 7}))
    m = space.design_matrix()
    assert m.shape == (n, 4)
    d, method_code, hybrid_code, dose = m.T
    assert ((d >= 50) & (d <= 200)).all() and ((dose >= 1) & (dose <= 20)).all()
    assert set(method_code) == {0, 1, 2} and set(hybrid_code) == {0, 1, 2, 3, 4}
    # stratified in every dimension: one point per 1/n slice of the (log) range
    strata = np.floor(np.log(d / 50) / np.log(200 / 50) * n).astype(int)
    assert sorted(strata) == list(range(n))
    np.testing.assert_array_equal(m, space.design_matrix())                      # reproducible
    assert not np.array_equal(m, space.with_sampling(seed=8).design_matrix())    # the seed matters


def test_design_formulations_carry_their_values():
    d = space_dict(base=base(treatment={"lasers": [{"at_h": 24, "wavelength_nm": 808, "power_W_per_cm2": 1,
                                                     "duration_min": 5}]}),
                   vary={"treatment.lasers[0].at_h": {"range": [4, 48]},
                         "surface.membrane.sources": {"hybrid": ["rbc", {"cell": "cancer", "line": "4T1"}],
                                                      "fraction_step": 0.5}})
    space = load_space(d)
    doc = space.formulation_dict([10.0, 1.0], 3)      # at 10 h; 50:50 hybrid
    assert doc["treatment"]["lasers"][0]["at_h"] == 10.0
    assert doc["surface"]["membrane"]["sources"] == [{"cell": "rbc", "fraction": 0.5},
                                                     {"cell": "cancer", "line": "4T1", "fraction": 0.5}]
    pure = space.formulation_dict([10.0, 2.0], 4)["surface"]["membrane"]["sources"]
    assert pure == [{"cell": "cancer", "line": "4T1", "fraction": 1.0}]   # a zero share drops the source
    assert space.base["treatment"]["lasers"][0]["at_h"] == 24             # the base is untouched
    assert space.display([10.0, 1.0]) == [10.0, "rbc:0.5+cancer_4T1:0.5", 0.5, 0.5]


# ---------------------------------------------------------------------------------------------
# metrics and Pareto fronts
# ---------------------------------------------------------------------------------------------
def test_flatten_metrics():
    m = {"tumor_pct_id_24h": 1.0, "organ_pct_id_24h": {"liver": 30.0, "tumor": 1.0},
         "organ_pct_id_per_g_24h": {"liver": 27.0}, "days_to_2x_volume": None, "label": "x",
         "payloads": {"icg": {"released_pct_24h": 5.0}}}
    flat = screening.flatten_metrics(m)
    assert flat["liver_pct_id_24h"] == 30 and flat["liver_pct_id_per_g_24h"] == 27 and flat["tumor_pct_id_24h"] == 1
    assert flat["icg_released_pct_24h"] == 5 and math.isnan(flat["days_to_2x_volume"]) and "label" not in flat


def test_payload_metrics_are_flattened_from_a_real_result():
    r = nanocloak.simulate(nanocloak.load(ROOT / "examples" / "doxil_like_liposome.yaml"))
    flat = screening.flatten_metrics(r.metrics)
    assert flat["heart_drug_auc_ug_h_per_g"] == r.metrics["heart_drug_auc_ug_h_per_g"]
    assert flat["spleen_pct_id_24h"] == r.metrics["organ_pct_id_24h"]["spleen"]


def test_non_dominated_hand_example():
    costs = np.array([[1, 5], [2, 3], [3, 4], [4, 1], [2, 3], [5, 5], [1, 6]], dtype=float)
    # (3,4) is dominated by (2,3); (5,5) by all but (1,6); (1,6) by (1,5); the two (2,3) tie: both stay
    assert screening.non_dominated(costs).tolist() == [True, True, False, True, True, False, False]
    assert screening.front_ranks(costs).tolist() == [1, 1, 2, 1, 1, 3, 2]
    assert screening.front_ranks(costs, needed=4).tolist() == [1, 1, 0, 1, 1, 0, 0]


def test_non_dominated_matches_brute_force():
    rng = np.random.default_rng(0)
    for d in (1, 2, 3):
        costs = rng.integers(0, 6, size=(300, d)).astype(float)     # many ties
        brute = [not any(np.all(o <= c) and np.any(o < c) for o in costs) for c in costs]
        assert screening.non_dominated(costs).tolist() == brute


def test_ranking_with_senses_and_constraints():
    designs = pd.DataFrame({"design_id": range(5), "status": ["ok", "ok", "ok", "failed", "ok"],
                            "a": [1.0, 3.0, 2.0, 9.0, 3.0], "b": [1.0, 2.0, 0.5, 0.0, 9.0]})
    g = screening.Goals([("a", "maximize"), ("b", "minimize")], [("b", None, 5.0)])
    r = screening.rank_designs(designs, g, top=3)
    assert r.designs["feasible"].tolist() == [True, True, True, False, False]
    assert r.designs["pareto"].tolist() == [False, True, True, False, False]     # (1,1) is beaten by (2,0.5)
    assert r.top["design_id"].tolist() == [1, 2, 0]                               # front 1 by a, then front 2


# ---------------------------------------------------------------------------------------------
# a whole screen
# ---------------------------------------------------------------------------------------------
def test_screen_writes_every_output(tmp_path):
    vary = {**space_dict()["vary"], "surface.kind": {"choice": ["membrane", "peg"]}}
    space = load_space(space_dict(vary=vary))
    out = tmp_path / "screen"
    outcome = screening.run_screen(space, out, serial=True, chunk_size=10)
    rows = distributed.read_results(out)
    assert sorted(rows["design_id"]) == list(range(32)) and (rows["animal"] == 0).all()
    peg = rows["surface.kind"] == "peg"
    assert peg.any() and (rows.loc[peg, "status"] == "failed").all()             # peg + membrane block
    assert rows.loc[peg, "error"].str.contains("membrane: only allowed with kind: membrane").all()
    assert (rows.loc[~peg, "status"] == "ok").all() and outcome.n_failed == int(peg.sum())
    for name in ("pareto.csv", "pareto.png", "parallel_coordinates.png", "manifest.json"):
        assert (out / name).stat().st_size > 0
    front = pd.read_csv(out / "pareto.csv")
    assert front["feasible"].all() and (front["spleen_pct_id_24h"] <= 30).all()
    ok = rows[rows["status"] == "ok"].set_index("design_id")
    costs = np.column_stack([-ok["tumor_pct_id_24h"], ok["liver_pct_id_24h"]])[(ok["spleen_pct_id_24h"] <= 30).to_numpy()]
    assert len(front) == screening.non_dominated(costs).sum()
    tops = sorted((out / "top").glob("*.yaml"))
    assert [p.name[:4] for p in tops] == ["001_", "002_", "003_", "004_"]
    for path, (_, row) in zip(tops, outcome.ranking.top.iterrows()):
        f = nanocloak.load(path)                                # a valid formulation file
        assert f.core.diameter_nm == pytest.approx(row["core.diameter_nm"])
        assert f.dose.mg_per_kg == pytest.approx(row["dose.mg_per_kg"])
        assert nanocloak.simulate(f).metrics["tumor_pct_id_24h"] == pytest.approx(row["tumor_pct_id_24h"], rel=1e-4)


def test_resume_recomputes_only_missing_chunks(tmp_path):
    space = load_space(space_dict(sampling={"method": "lhs", "n": 40, "seed": 2}))
    out = tmp_path / "r"
    first = screening.run_screen(space, out, serial=True, chunk_size=8)
    assert first.run.n_chunks == 5 and sorted(first.run.computed) == [0, 1, 2, 3, 4]
    before = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.parquet")}
    reference = distributed.read_results(out)
    (out / "results" / "chunk-000002.parquet").unlink()
    (out / "results" / ".chunk-000003.parquet.dead.tmp").write_bytes(b"half")    # a crashed write
    again = screening.run_screen(space, out, serial=True, chunk_size=3)         # the size on disk wins
    assert again.run.computed == [2] and again.run.skipped == 4 and again.run.chunk_size == 8
    after = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.parquet")}
    assert all(after[k] == v for k, v in before.items() if k != "chunk-000002.parquet")
    assert not list((out / "results").glob(".*.tmp"))
    rows = distributed.read_results(out)
    assert rows["design_id"].tolist() == list(range(40))                          # each design exactly once
    pd.testing.assert_frame_equal(rows, reference)
    # nothing left: a rerun only re-ranks (objectives may change)
    third = screening.run_screen(load_space(space_dict(sampling={"method": "lhs", "n": 40, "seed": 2},
                                                       objectives=[{"minimize": "spleen_pct_id_24h"}])), out, serial=True)
    assert third.run.computed == [] and third.ranking.top["spleen_pct_id_24h"].is_monotonic_increasing
    with pytest.raises(NanocloakError, match="different screen"):
        screening.run_screen(space.with_sampling(seed=3), out, serial=True)


def test_query_runs_sql_over_the_results(tmp_path):
    space = load_space(space_dict(sampling={"method": "lhs", "n": 12, "seed": 1}))
    out = tmp_path / "q"
    screening.run_screen(space, out, serial=True, chunk_size=5)
    got = distributed.query(out, "SELECT design_id, tumor_pct_id_24h FROM results ORDER BY 2 DESC LIMIT 5")
    rows = distributed.read_results(out).sort_values("tumor_pct_id_24h", ascending=False).head(5)
    assert got["design_id"].tolist() == rows["design_id"].tolist()
    n = distributed.query(out, 'SELECT count(*) AS n, max("core.diameter_nm") AS dmax FROM results')
    assert n["n"][0] == 12 and n["dmax"][0] <= 200
    with pytest.raises(NanocloakError, match="(?s)query:.*quote column names"):
        distributed.query(out, "SELECT nope FROM results")
    with pytest.raises(NanocloakError, match="no results yet"):
        distributed.query(tmp_path / "empty", "SELECT 1")
    app = typer.Typer()
    register(app)
    res = runner.invoke(app, ["screen", "query", str(out), "SELECT design_id FROM results ORDER BY 1 LIMIT 3", "--csv"])
    assert res.exit_code == 0 and res.stdout.splitlines() == ["design_id", "0", "1", "2"]


def fake_population(f, n, seed):
    """Stand-in for nanocloak.simulation.virtual_animals.population: animals differ in body weight."""
    rng = np.random.default_rng(seed)
    out = []
    for w in rng.uniform(18, 24, n):
        d = f.model_dump(mode="json", exclude_none=True)
        d["subject"]["body_weight_g"] = float(w)
        out.append(nanocloak.Formulation.model_validate(d))
    return out


def test_population_statistics(tmp_path, monkeypatch):
    import nanocloak.simulation.virtual_animals as va

    monkeypatch.setattr(va, "population", fake_population)
    space = load_space(space_dict(sampling={"method": "lhs", "n": 6, "seed": 1},
                                  population={"animals": 4, "seed": 5, "quantiles": [0.1]},
                                  objectives=[{"maximize": "tumor_pct_id_24h_p10"}, {"minimize": "liver_pct_id_24h"}]))
    out = tmp_path / "pop"
    outcome = screening.run_screen(space, out, serial=True)
    rows = distributed.read_results(out)
    assert len(rows) == 24 and sorted(set(rows["animal"])) == [0, 1, 2, 3]
    assert rows.groupby("design_id").size().eq(4).all()
    d = outcome.ranking.designs.set_index("design_id")
    per = rows[rows["design_id"] == 2]["tumor_pct_id_24h"]
    assert d.loc[2, "tumor_pct_id_24h_mean"] == pytest.approx(per.mean())
    assert d.loc[2, "tumor_pct_id_24h_p10"] == pytest.approx(np.quantile(per, 0.1))
    assert d.loc[2, "tumor_pct_id_24h_sd"] == pytest.approx(per.std(ddof=1))
    assert outcome.ranking.goals.objectives == [("tumor_pct_id_24h_p10", "maximize"), ("liver_pct_id_24h_mean", "minimize")]
    with pytest.raises(SpaceError, match="METRIC_mean/_sd/_pNN"):
        screening.run_screen(load_space({**space_dict(population={"animals": 2}),
                                         "objectives": [{"maximize": "tumor_pct_id_24h_p50"}]}), tmp_path / "x", serial=True)


def test_cli_screen_run(tmp_path):
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space_dict(sampling={"method": "grid", "levels": 2},
                                                                   vary={"core.diameter_nm": {"range": [60, 180]},
                                                                         "dose.mg_per_kg": {"range": [2, 8]}})))
    app = typer.Typer()
    register(app)
    res = runner.invoke(app, ["screen", "run", str(tmp_path / "space.yaml"), "--out", str(tmp_path / "o"), "--serial"])
    assert res.exit_code == 0, res.output
    assert "top designs" in res.stdout and len(list((tmp_path / "o" / "top").glob("*.yaml"))) == 4
    assert "4 designs in 1 chunks: 1 simulated now" in res.stderr
    bad = runner.invoke(app, ["screen", "run", str(tmp_path / "space.yaml"), "--samples", "8", "--serial"])
    assert bad.exit_code == 2 and "not used by grid" in bad.output
    missing = runner.invoke(app, ["screen", "run", str(tmp_path / "none.yaml"), "--serial"])
    assert missing.exit_code == 2 and "space file not found" in missing.output


def test_example_spaces_are_valid():
    paths = sorted((ROOT / "examples" / "spaces").glob("*.yaml"))
    assert len(paths) >= 2
    for p in paths:
        space = load_space(p)
        names = screening.base_metric_names(space) if space.objectives else []
        screening.goals(space, names)
        assert len(space.design_matrix()) > 0
