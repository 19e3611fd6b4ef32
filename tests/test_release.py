"""Release kinetics: model library, fitting, profile comparison, in vitro prediction, bad data."""

import math

import numpy as np
import pytest

from nanocloak.library import release_laws as release_models
from nanocloak.spec.formulation import Release
from nanocloak.lab.release_fit import InVitroConditions, ReleaseData, ReleaseDataError, compare, f1, f2, fit_all, fit_model, read_release_data, simulate_in_vitro
from nanocloak.model.release_in_body import release_rate


def test_library_has_about_forty_models_each_with_equation_and_source():
    assert len(release_models.RELEASE_MODELS) >= 34
    for m in release_models.RELEASE_MODELS.values():
        assert m.equation and m.source and m.parameters


@pytest.mark.parametrize("model,truth", [
    ("first_order", {"k_per_h": 0.12}),
    ("weibull", {"td_h": 8.0, "beta": 0.7}),
    ("higuchi", {"kh_pct_per_sqrt_h": 11.0}),
    ("korsmeyer_peppas", {"kkp_pct_per_h_n": 9.0, "n": 0.55}),
    ("first_order_fmax", {"k_per_h": 0.2, "fmax_pct": 70.0}),
])
def test_parameters_are_recovered_from_noisy_synthetic_curves(model, truth):
    rng = np.random.default_rng(7)
    t = np.array([0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 24, 48])
    law = release_models.get(model)
    y = law.cumulative_pct(t, truth) + rng.normal(0, 1.0, t.size)
    fit = fit_model(model, t, np.clip(y, 0, 100))
    for k, v in truth.items():
        lo, hi = fit.ci95[k]
        assert abs(fit.params[k] - v) <= 0.1 * abs(v) or lo <= v <= hi, (k, fit.params[k], v)
    assert fit.r2 > 0.98


def test_ranking_prefers_the_generating_model_family():
    rng = np.random.default_rng(1)
    t = np.array([0.5, 1, 2, 4, 6, 8, 12, 24, 36, 48, 72])
    y = 100 * (1 - np.exp(-0.08 * t)) + rng.normal(0, 0.8, t.size)
    fits, _ = fit_all(ReleaseData("x", t, y, None, None), ["zero_order", "higuchi", "first_order", "hixson_crowell", "weibull"])
    assert fits[0].model in ("first_order", "weibull")
    assert all(math.isfinite(f.aic) for f in fits)


def test_f1_f2_equal_a_hand_computed_example():
    ref = np.array([20.0, 40.0, 60.0, 80.0])
    test = np.array([25.0, 45.0, 65.0, 85.0])
    assert f1(ref, test) == pytest.approx(100 * 20 / 200)                         # 10.0
    assert f2(ref, test) == pytest.approx(50 * math.log10(100 / math.sqrt(1 + 25)))  # 64.62


def test_compare_uses_points_up_to_85_percent_and_bootstraps_replicates():
    t = np.array([1.0, 2, 4, 8, 12, 24])
    ref = np.array([20.0, 40, 60, 86, 95, 99])
    reps = np.stack([ref + d for d in (-1.0, 0.0, 1.0)], axis=1)
    c = compare(ReleaseData("r", t, ref, None, reps), ReleaseData("t", t, ref + 2, None, reps + 2))
    assert c.n_points == 4
    assert c.bootstrap_f2_ci90 is not None and c.verdict.startswith("similar")


def test_rate_form_reproduces_the_cumulative_law():
    """Integrating dF/dt = F'(F^-1(F)) without triggers gives back F(t): first order exactly k(1-F)."""
    rel = Release(model="first_order", params={"k_per_h": 0.1})
    rate = release_rate(rel)
    assert rate.rate(0.3) == pytest.approx(0.1 * 0.7, rel=1e-3)
    for model, params in (("weibull", {"td_h": 5.0, "beta": 0.6}), ("higuchi", {"kh_pct_per_sqrt_h": 12.0})):
        t, pct = simulate_in_vitro(Release(model=model, params=params), InVitroConditions(), 24.0)
        law = release_models.get(model).cumulative_pct(t, params)
        assert np.max(np.abs(pct - law)[t > 0.2]) < 1.0


def test_triggers_speed_release_only_where_active():
    rel = Release(model="first_order", params={"k_per_h": 0.05},
                  triggers=[{"kind": "ph", "threshold": 6.0, "factor": 4.0}, {"kind": "nir", "factor": 10.0}])
    _, neutral = simulate_in_vitro(rel, InVitroConditions(ph=7.4), 8.0)
    _, acid = simulate_in_vitro(rel, InVitroConditions(ph=5.0), 8.0)
    _, lit = simulate_in_vitro(rel, InVitroConditions(light_windows_h=((1.0, 2.0),)), 8.0)
    assert acid[-1] > 1.8 * neutral[-1]
    assert lit[-1] > 1.5 * neutral[-1]


def test_sun2017_gold_nanocage_lands_near_75_vs_38_percent():
    """Sun H et al. 2017 Adv Funct Mater 27:1604300: 75% vs 38% DOX released in 8 h with / without
    808 nm light. Assumed in vitro schedule: 5 min of light every hour (docs/payload.md)."""
    import nanocloak

    from conftest import ROOT
    f = nanocloak.load(ROOT / "examples" / "gold_nanocage_4t1_nir.yaml")
    rel = f.payloads[0].release
    windows = tuple((h, h + 5 / 60) for h in range(8))
    _, dark = simulate_in_vitro(rel, InVitroConditions(), 8.0)
    _, light = simulate_in_vitro(rel, InVitroConditions(light_windows_h=windows), 8.0)
    assert dark[-1] == pytest.approx(38, abs=5)
    assert light[-1] == pytest.approx(75, abs=8)


@pytest.mark.parametrize("content,message", [
    ("time_h,released\n0,0\n2,10\n1,20\n4,30\n", "time must increase"),
    ("time_h,released\n0,0\n1,50\n2,130\n4,140\n", "above 100%"),
    ("time,released\n0,0\n1,10\n2,20\n", "does not say its unit"),
    ("time_h,released\n0,0\n1,abc\n2,20\n", "must be a number"),
    ("time_h\n0\n1\n", "needs a time column"),
])
def test_bad_release_data_gives_a_clear_error(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(ReleaseDataError, match=message):
        read_release_data(p)


def test_too_few_points_for_a_model(tmp_path):
    p = tmp_path / "short.csv"
    p.write_text("time_h,released\n1,10\n2,20\n")
    data = read_release_data(p)
    with pytest.raises(ReleaseDataError, match="at least"):
        fit_model("weibull_tlag_fmax", data.t_h, data.mean_pct)


def test_xlsx_and_time_units(tmp_path):
    import pandas as pd

    p = tmp_path / "data.xlsx"
    pd.DataFrame({"time (min)": [30, 60, 120, 240], "released": [10, 19, 34, 56]}).to_excel(p, index=False)
    data = read_release_data(p)
    assert data.t_h.tolist() == [0.5, 1.0, 2.0, 4.0]


def test_release_cli_fit_and_bad_file_exit_codes(tmp_path):
    from typer.testing import CliRunner

    from conftest import ROOT
    from nanocloak.cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["release", "fit", str(ROOT / "examples/release_data/rbc_plga_dox_release.csv"), "--out", str(tmp_path)])
    assert res.exit_code == 0 and "release:" in res.stdout
    assert (tmp_path / "fit.png").exists() and (tmp_path / "release_block.yaml").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("time_h,released\n0,0\n2,10\n1,20\n")
    assert runner.invoke(app, ["release", "fit", str(bad)]).exit_code == 2
