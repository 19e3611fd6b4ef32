"""The NTD delivery model: API contract, cleaning, grouped folds, learning a known law, the
simulator's learned tumor option, and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import nanocloak
from nanocloak.learn import ntd
from nanocloak.cli.main import app
from nanocloak.errors import FormulationError, NanocloakError
from nanocloak.learn import DeliveryModel, cross_validate, descriptors_of, tumor_overrides
from nanocloak.learn.cross_validation import grouped_folds, scores
from nanocloak.learn.delivery_model import _outcomes

from conftest import make

runner = CliRunner()
HAVE_NTD = (ntd.default_directory() / "datasets.csv").exists()
needs_ntd = pytest.mark.skipif(not HAVE_NTD, reason="Nano-Tumor Database (../shared/data/ntd) not present")


def synthetic_ntd(n_studies=40, per_study=5, seed=0, study_sd=0.3):
    """NTD-shaped rows with a known law: log10 DE24 = 0.5 log10(TW/BW) + 0.3 active - 0.4 (log10 HD - 2)^2
    + a study effect (same lab, same mouse) + small noise; DE168 and Demax follow DE24."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_studies):
        study = {"TM": rng.choice(["Allograft Heterotopic", "Xenograft Heterotopic", "Allograft Orthotopic"]),
                 "CT": rng.choice(["breast", "liver", "skin", "colon"]), "TW": round(float(10 ** rng.uniform(-1.3, 0)), 3),
                 "BW": float(rng.choice([18, 20, 22, 25])), "Dose": float(rng.choice([1, 5, 10, 20])),
                 "effect": rng.normal(0, study_sd)}
        for _ in range(per_study):
            active = rng.random() < 0.4
            hd = float(10 ** rng.uniform(1.3, 2.6))
            log_de24 = (0.5 * np.log10(study["TW"] / study["BW"]) + 1.3 + 0.3 * active - 0.4 * (np.log10(hd) - 2) ** 2
                        + study["effect"] + rng.normal(0, 0.05))
            rows.append({"ID": len(rows) + 1, "Type": rng.choice(["Organic", "Inorganic"]), "TS": "Active" if active else "Passive",
                         "HD": hd, "Zeta": float(rng.uniform(0, 40)), "Charge": float(rng.choice([0, 1, 2])),
                         "Shape": "Spherical", "TM": study["TM"], "CT": study["CT"], "TSz": study["TW"] / 1.2,
                         "TW": study["TW"], "Dose": study["Dose"], "BW": study["BW"], "DE24": 10 ** log_de24,
                         "DE168": 10 ** (log_de24 - 0.3), "Demax": 10 ** (log_de24 + 0.1),
                         **{p: 0.02 if p in ("QTC", "BVT") else float(10 ** rng.uniform(-2, 0)) for p in ntd.TUMOR_PARAMETERS}})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_ntd()


@pytest.fixture(scope="module")
def synthetic_model(synthetic):
    return DeliveryModel().fit(synthetic, None)


# ------------------------------------------------------------------------------------------------
# API contract
# ------------------------------------------------------------------------------------------------
def test_predict_keeps_the_index_and_reads_only_descriptors(synthetic, synthetic_model):
    rows = synthetic.iloc[:7].copy()
    rows.index = [f"design-{i}" for i in range(7)]
    pred = synthetic_model.predict(rows[ntd.DESCRIPTORS])
    assert list(pred.columns) == ["DE24", "DE168", "Demax"]
    assert list(pred.index) == list(rows.index)
    assert np.all(np.isfinite(pred.to_numpy())) and np.all(pred.to_numpy() > 0)
    # outcome and parameter columns, when present, change nothing
    scrambled = rows.assign(DE24=1e6, DE168=1e-6, KTRESmax=99.0)
    pd.testing.assert_frame_equal(synthetic_model.predict(scrambled), pred)


def test_missing_values_unseen_levels_and_absent_columns_are_allowed(synthetic_model):
    odd = pd.DataFrame({"Type": ["Plasma-polymer", None], "TS": [None, "active"], "HD": [np.nan, 3000.0],
                        "TM": ["Syngeneic Intracranial", np.nan], "CT": ["pancreas", "BREAST "], "BW": [20.0, np.nan]})
    pred = synthetic_model.predict(odd)
    assert pred.shape == (2, 3) and np.all(np.isfinite(pred.to_numpy())) and np.all(pred.to_numpy() > 0)


def test_learns_a_known_law_on_held_out_studies():
    train, test = synthetic_ntd(seed=1, study_sd=0.1), synthetic_ntd(n_studies=30, seed=2, study_sd=0.1)
    # held-out rows share no study with training: only the law transfers (study effects, sd 0.1 log10,
    # cannot; the law's own spread is ~0.2)
    model = DeliveryModel().fit(train, None)
    pred = model.predict(test[ntd.DESCRIPTORS])
    law = 0.5 * np.log10(test["TW"] / test["BW"]) + 0.3 * (test["TS"] == "Active") - 0.4 * (np.log10(test["HD"]) - 2) ** 2
    assert np.corrcoef(np.log10(pred["DE24"]), law)[0, 1] > 0.9
    s = scores(test["DE24"], pred["DE24"])
    median_s = scores(test["DE24"], np.full(len(test), train["DE24"].median()))
    assert s["r2_log10"] > 0.5 > median_s["r2_log10"]
    # and the targeting contrast inside a study is found with the right sign and about the right size
    row = test.iloc[[0]][ntd.DESCRIPTORS]
    active = model.predict(pd.concat([row.assign(TS="Active"), row.assign(TS="Passive")]))
    ratio = active["DE24"].iloc[0] / active["DE24"].iloc[1]
    assert 1.3 < ratio < 3.0  # truth 10^0.3 = 2.0


def test_study_mates_inform_a_new_row(synthetic):
    """A held-out row of a study seen in training is predicted better than one of an unseen study."""
    held = synthetic.iloc[::5]
    model = DeliveryModel().fit(synthetic.drop(held.index), None)
    err_seen = np.abs(np.log10(model.predict(held[ntd.DESCRIPTORS])["DE24"] / held["DE24"])).median()
    unseen = synthetic_ntd(n_studies=8, seed=7)
    err_unseen = np.abs(np.log10(model.predict(unseen[ntd.DESCRIPTORS])["DE24"] / unseen["DE24"])).median()
    assert err_seen < 0.15 < err_unseen


def test_predicted_tumor_parameters_are_positive_and_vtc_follows_the_tumor(synthetic, synthetic_model):
    params = synthetic_model.predict_tumor_parameters(synthetic.iloc[:4][ntd.DESCRIPTORS])
    assert set(params.columns) >= {"QTC", "BVT", "PT", "PATC", "KTRESmax", "KTRES50", "KTRESn", "KTRESrelease", "VTC"}
    assert np.all(params.to_numpy() > 0)
    np.testing.assert_allclose(params["VTC"], synthetic.iloc[:4]["TW"] / synthetic.iloc[:4]["BW"])
    np.testing.assert_allclose(params["QTC"], 0.02, rtol=1e-6)  # constant in training -> constant out


# ------------------------------------------------------------------------------------------------
# errors and cleaning
# ------------------------------------------------------------------------------------------------
def test_blanks_na_words_infinities_and_case_are_read_as_the_database_means_them(synthetic, synthetic_model):
    rows = synthetic.iloc[:3][ntd.DESCRIPTORS].reset_index(drop=True)
    base = synthetic_model.predict(rows.assign(HD=np.nan, TW=np.nan))
    odd = rows.astype({"HD": object, "TW": float}).assign(HD=["", " NA", "nan"], TW=[np.inf, -np.inf, np.nan])
    pd.testing.assert_frame_equal(synthetic_model.predict(odd), base)
    shouted = rows.assign(Type=rows["Type"].str.lower(), TM=rows["TM"].str.lower(), Shape=rows["Shape"].str.upper())
    pd.testing.assert_frame_equal(synthetic_model.predict(shouted), synthetic_model.predict(rows))


def test_demax_is_never_below_de24_or_de168(synthetic, synthetic_model):
    pred = synthetic_model.predict(synthetic[ntd.DESCRIPTORS])
    assert (pred["Demax"] >= pred[["DE24", "DE168"]].max(axis=1)).all()


def test_clear_errors(synthetic):
    with pytest.raises(NanocloakError, match="not fitted"):
        DeliveryModel().predict(synthetic[ntd.DESCRIPTORS])
    with pytest.raises(NanocloakError, match="missing column.*DE24"):
        DeliveryModel().fit(synthetic.drop(columns=["DE24"]), None)
    with pytest.raises(NanocloakError, match="column HD, row 3"):
        DeliveryModel().fit(synthetic.assign(HD=synthetic["HD"].astype(object).where(synthetic.index != 3, "90 nm")), None)
    with pytest.raises(NanocloakError, match="DataFrame"):
        DeliveryModel().fit(synthetic.to_dict(), None)


def test_cleaning_rules():
    raw = pd.DataFrame({"Zeta": [274.2, -30.0], "Dose": [1.35e-9, 5.0], "TSz": [0.02, 0.1], "TW": [0.24, 0.12],
                        "CT": [" Breast", "liver"], "TS": ["negtive", "active"]})
    clean = ntd.clean_datasets(raw)
    assert np.isnan(clean["Zeta"][0]) and clean["Zeta"][1] == -30.0
    assert np.isnan(clean["Dose"][0]) and clean["Dose"][1] == 5.0
    assert np.isnan(clean["TSz"][0]) and clean["TSz"][1] == 0.1 and clean["TW"][0] == 0.24
    assert list(clean["CT"]) == ["breast", "liver"]
    assert pd.isna(clean["TS"][0]) and clean["TS"][1] == "Active"


def test_time_courses_fill_a_missing_outcome():
    ds = pd.DataFrame({"ID": [1, 2], "DE24": [np.nan, 2.0], "DE168": [np.nan, 1.0], "Demax": [np.nan, 3.0]})
    tc = pd.DataFrame({"id": [1, 1, 1], "time_h": [4.0, 48.0, 168.0], "tumor_pct_id": [1.0, 4.0, 2.0]})
    out = _outcomes(ds, tc)
    repeated = _outcomes(ds.set_axis([7, 7]), tc)  # a repeated index is fine
    np.testing.assert_array_equal(repeated.to_numpy(), out.to_numpy())
    assert out.at[0, "DE24"] == pytest.approx(10 ** (np.log10(1.0) + (24 - 4) / 44 * np.log10(4.0)))
    assert out.at[0, "DE168"] == pytest.approx(2.0) and out.at[0, "Demax"] == 4.0
    assert out.loc[1].tolist() == [2.0, 1.0, 3.0]


def test_scores_by_hand():
    obs = np.array([1.0, 2.0, 4.0, 8.0])
    assert scores(obs, obs) == {"r2_log10": 1.0, "r2_linear": 1.0, "within_2fold": 1.0, "within_3fold": 1.0}
    s = scores(obs, obs * np.array([1.0, 2.5, 1 / 2.5, 1.5]))
    assert s["within_2fold"] == 0.5 and s["within_3fold"] == 1.0


def test_identical_descriptors_share_a_fold(synthetic):
    doubled = pd.concat([synthetic, synthetic.assign(ID=synthetic["ID"] + 1000, DE24=synthetic["DE24"] * 2)], ignore_index=True)
    split = grouped_folds(doubled, 5, seed=3)
    test_of = np.empty(len(doubled), dtype=int)
    for k, (train, test) in enumerate(split):
        assert not set(train) & set(test)
        test_of[test] = k
    assert sorted(np.concatenate([t for _, t in split]).tolist()) == list(range(len(doubled)))
    n = len(synthetic)
    assert np.array_equal(test_of[:n], test_of[n:])
    with pytest.raises(NanocloakError, match="--folds"):
        grouped_folds(doubled, 1, seed=0)


# ------------------------------------------------------------------------------------------------
# the real database
# ------------------------------------------------------------------------------------------------
@needs_ntd
def test_cross_validation_beats_both_baselines_on_the_ntd():
    cv = cross_validate(folds=5, seed=11)
    s = cv.scores
    assert cv.n_rows == 378 and cv.n_groups < cv.n_rows
    for outcome in ("DE24", "DE168", "Demax"):
        assert s.loc[("nanocloak", outcome), "r2_log10"] > s.loc[("random_forest", outcome), "r2_log10"]
        assert s.loc[("random_forest", outcome), "r2_log10"] > s.loc[("median", outcome), "r2_log10"]
        assert s.loc[("median", outcome), "r2_log10"] <= 0.0 + 1e-9
    assert s.loc[("nanocloak", "DE24"), "within_3fold"] > s.loc[("random_forest", "DE24"), "within_3fold"]
    assert cv.predictions["fold"].between(1, 5).all()


@needs_ntd
def test_learned_tumor_parameters_in_the_simulator():
    import nanocloak.model.parameters
    import nanocloak.simulation.core  # noqa: F401  (attribute access below; no other test need run first)

    base = make(subject={"species": "mouse", "body_weight_g": 20,
                         "tumor": {"line": "4T1", "site": "subcutaneous", "volume_mm3": 150}})
    f = nanocloak.Formulation.model_validate({**base, "model": {"tumor_parameters": "learned"}})
    desc = descriptors_of(f).iloc[0]
    assert (desc["Type"], desc["TS"], desc["TM"], desc["CT"], desc["Shape"]) == (
        "Organic", "Passive", "Allograft Heterotopic", "breast", "Spherical")
    assert desc["TW"] == pytest.approx(0.15) and desc["BW"] == 20 and desc["Dose"] == 5
    learned = tumor_overrides(f)
    table = nanocloak.simulation.core.resolve_formulation(f).parameter_table()
    labelled = table[table["name"].isin(learned)]
    assert len(labelled) == len(learned) and labelled["source"].str.contains("learned").all()
    r_learned, r_library = nanocloak.simulate(f), nanocloak.simulate(nanocloak.Formulation.model_validate(base))
    assert r_learned.resolved.params["tumor.VTC"] == pytest.approx(r_library.resolved.params["tumor.VTC"])
    assert r_learned.metrics["tumor_pct_id_24h"] != pytest.approx(r_library.metrics["tumor_pct_id_24h"], rel=1e-3)
    assert 0.01 < r_learned.metrics["tumor_pct_id_24h"] < 20
    # an override still wins over the learned value
    pinned = nanocloak.Formulation.model_validate({**base, "model": {"tumor_parameters": "learned",
                                                                     "overrides": {"tumor.KTRESmax": 0.5}}})
    assert nanocloak.model.parameters.resolve(pinned).params["tumor.KTRESmax"] == 0.5


def test_learned_tumor_parameters_refuse_other_species():
    f = nanocloak.Formulation.model_validate(make(subject={"species": "rat", "body_weight_g": 250,
                                                           "tumor": {"line": "4T1", "volume_mm3": 300}},
                                                  model={"tumor_parameters": "learned"}))
    with pytest.raises(FormulationError, match="model.tumor_parameters.*mouse"):
        tumor_overrides(f)


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def test_cli_learn_cv_json_and_outputs(tmp_path, synthetic):
    d = tmp_path / "ntd"
    d.mkdir()
    synthetic.to_csv(d / "datasets.csv", index=False)
    pd.DataFrame({"id": [1], "time_h": [24.0], "tumor_pct_id": [1.0], "tumor_pct_id_per_g": [5.0]}).to_csv(
        d / "timecourse.csv", index=False)
    res = runner.invoke(app, ["learn", "cv", "--folds", "3", "--seed", "2", "--ntd", str(d), "--json", "--out", str(tmp_path / "cv")])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["folds"] == 3 and set(report["scores"]) == {"nanocloak", "random_forest", "median"}
    assert report["scores"]["nanocloak"]["DE24"]["r2_log10"] > report["scores"]["median"]["DE24"]["r2_log10"]
    assert {p.name for p in (tmp_path / "cv").iterdir()} == {"scores.csv", "predictions.csv", "cv.png", "nanocloak-manifest.json"}
    bad = runner.invoke(app, ["learn", "cv", "--folds", "1", "--ntd", str(d)])
    assert bad.exit_code == 2 and "--folds" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["learn", "cv", "--ntd", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "not found" in missing.output


def test_cli_learn_predict_descriptor_csv(tmp_path, synthetic):
    d = tmp_path / "ntd"
    d.mkdir()
    synthetic.to_csv(d / "datasets.csv", index=False)
    pd.DataFrame(columns=["id", "time_h", "tumor_pct_id"]).to_csv(d / "timecourse.csv", index=False)
    synthetic.iloc[:2].to_csv(tmp_path / "designs.csv", index=False)  # full rows: only descriptors are read
    res = runner.invoke(app, ["learn", "predict", str(tmp_path / "designs.csv"), "--ntd", str(d), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 2 and all(r["DE24"] > 0 and r["KTRESmax"] > 0 for r in rows)
    assert rows[0]["DE24"] != pytest.approx(synthetic["DE24"].iloc[0], rel=1e-9)  # predicted, not echoed
    table = runner.invoke(app, ["learn", "predict", str(tmp_path / "designs.csv"), "--ntd", str(d)])
    assert table.exit_code == 0 and "KTRESmax" in table.output


def test_learn_predict_from_the_cache_fits_nothing(tmp_path, synthetic, monkeypatch):
    """The cached model carries both GPs, so a later `learn predict` (a new process: the in-memory
    cache cleared) reads it and fits no GP (issue 15: predict retrained the tumor GP every call)."""
    from nanocloak.learn import formulation_descriptors
    from nanocloak.learn.matching_gp import MatchingGP

    d = tmp_path / "ntd"
    d.mkdir()
    synthetic.to_csv(d / "datasets.csv", index=False)
    pd.DataFrame(columns=["id", "time_h", "tumor_pct_id"]).to_csv(d / "timecourse.csv", index=False)
    synthetic.iloc[:2].to_csv(tmp_path / "designs.csv", index=False)
    monkeypatch.setenv("NANOCLOAK_CACHE_DIR", str(tmp_path / "cache"))
    args = ["learn", "predict", str(tmp_path / "designs.csv"), "--ntd", str(d), "--json"]
    formulation_descriptors.pretrained.cache_clear()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    fits = []
    original = MatchingGP.fit
    monkeypatch.setattr(MatchingGP, "fit", lambda self, *a, **k: fits.append(1) or original(self, *a, **k))
    formulation_descriptors.pretrained.cache_clear()
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert fits == [] and json.loads(again.stdout) == json.loads(first.stdout)
    formulation_descriptors.pretrained.cache_clear()

