"""Non-compartmental analysis against hand-computed and analytic examples, Bailer's SE, and the CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import typer
from scipy import stats
from typer.testing import CliRunner

import nanocloak
from nanocloak.cli.lab import register
from nanocloak.lab.labdata import load_lab_data
from nanocloak.lab.nca import NCAError, analyse, bailer, bailer_from_frame, fit_lambda_z, interval_areas, nca, serial_nca, trapezoid_weights

from conftest import ROOT

LAB = ROOT / "examples" / "lab_data"
RBC_PLGA = ROOT / "examples" / "rbc_plga.yaml"


# ------------------------------------------------------------------------------------------------
# AUC, AUMC, C0
# ------------------------------------------------------------------------------------------------
def test_linear_trapezoid_with_back_extrapolated_c0_by_hand():
    t = [0.5, 1, 2, 4, 8]
    c = [10, 8, 6, 3, 1]
    r = nca(t, c, dose=100)
    # C0 = 10 x (10/8)^(0.5/0.5) = 12.5; AUC = (12.5+10)/2*0.5 + (10+8)/2*0.5 + (8+6)/2 + (6+3)/2*2 + (3+1)/2*4
    assert r.c0 == pytest.approx(12.5)
    assert r.auc_0_t == pytest.approx(5.625 + 4.5 + 7 + 9 + 8)
    # AUMC = 0.5*(0 + 5)/2 + 0.5*(5 + 8)/2 + (8 + 12)/2 + 2*(12 + 12)/2 + 4*(12 + 8)/2
    assert r.aumc_0_t == pytest.approx(1.25 + 3.25 + 10 + 24 + 40)
    assert (r.cmax, r.tmax_h, r.tlast_h, r.clast) == (10, 0.5, 8, 1)


def test_c0_falls_back_to_the_first_point_when_the_first_two_do_not_fall():
    assert nca([1, 2, 4, 6], [5, 6, 3, 1]).c0 == 5.0
    # a pre-dose 0 at t = 0 before an IV bolus is replaced; a tissue starts at 0
    assert nca([0, 1, 2, 4, 6], [0, 8, 4, 2, 1]).c0 == pytest.approx(16.0)
    assert nca([1, 2, 4], [4, 2, 1], iv_bolus=False).auc_0_t == pytest.approx(2 + 3 + 3)


def test_linear_up_log_down_by_hand():
    t, c = [0, 1, 2], [0, 4, 2]
    assert interval_areas(t, c, "linear")[0].sum() == pytest.approx(2 + 3)
    # rising segment linear; falling one (4 - 2)/ln(4/2)
    assert interval_areas(t, c, "linear-up/log-down")[0].sum() == pytest.approx(2 + 2 / math.log(2))
    assert interval_areas(t, c, "linear")[1].sum() == pytest.approx(2 + 4)


def test_monoexponential_gives_the_analytic_values():
    """C = 100 e^(-0.3 t), dose 100: AUC = C0/k, MRT = 1/k, CL = 0.3, Vss = dose/C0 = 1 (exact with log-down)."""
    k, c0 = 0.3, 100.0
    t = np.array([0, 1, 2, 4, 8, 12])
    r = nca(t, c0 * np.exp(-k * t), dose=100, method="linear-up/log-down")
    assert r.lambda_z_per_h == pytest.approx(k) and r.t_half_h == pytest.approx(math.log(2) / k)
    assert r.auc_0_t == pytest.approx(c0 / k * (1 - math.exp(-k * 12)))
    assert r.aumc_0_t == pytest.approx(c0 / k**2 * (1 - math.exp(-k * 12) * (1 + k * 12)))
    assert r.auc_0_inf == pytest.approx(c0 / k)
    assert r.mrt_h == pytest.approx(1 / k)
    assert r.cl == pytest.approx(100 / (c0 / k)) and r.vss == pytest.approx(1.0)
    assert r.auc_pct_extrapolated == pytest.approx(100 * math.exp(-k * 12))
    assert r.lambda_z_n_points == 5          # all points after Tmax (t = 0 is Cmax)
    assert r.units["cl"] == "mL/h" and r.units["vss"] == "mL" and r.units["auc_0_t"] == "%ID*h/mL"


def test_trailing_zeros_end_the_profile_at_tlast():
    r = nca([0, 1, 2, 4, 8], [10, 5, 2.5, 1.25, 0])
    assert r.tlast_h == 4 and r.clast == 1.25
    assert r.auc_0_t == pytest.approx(7.5 + 3.75 + 3.75)


# ------------------------------------------------------------------------------------------------
# lambda_z selection
# ------------------------------------------------------------------------------------------------
def test_lambda_z_takes_the_exact_terminal_line_and_not_the_distribution_phase():
    t = np.array([0.25, 0.5, 1, 2, 4, 6, 8])
    c = 5 * np.exp(-0.1 * t)
    c[:3] = [40, 20, 10]                     # a fast early phase above the terminal line
    lz = fit_lambda_z(t, c)
    assert lz.n_points == 4 and lz.lambda_z == pytest.approx(0.1) and lz.t_first == 2
    assert lz.used.tolist() == [False, False, False, True, True, True, True]


def _adjusted_r2(t, c, n):
    fit = stats.linregress(t[-n:], np.log(c[-n:]))
    return 1 - (1 - fit.rvalue**2) * (n - 1) / (n - 2)


@pytest.mark.parametrize("bump,expected_n", [(1.0002, 5), (1.05, 4)])
def test_lambda_z_keeps_more_points_when_adjusted_r2_is_within_1e_4(bump, expected_n):
    """Points t = 1..5 after Tmax on an exact line except a small bump at t = 1: a bump of 0.02% costs less
    than 1e-4 of adjusted R2, so all 5 points are kept; a 5% bump does not."""
    t = np.array([0.0, 1, 2, 3, 4, 5])
    c = 10 * np.exp(-0.2 * t)
    c[1] *= bump
    best = max(_adjusted_r2(t, c, n) for n in (3, 4, 5))
    assert (best - _adjusted_r2(t, c, 5) < 1e-4) == (expected_n == 5)   # the rule, computed independently
    assert fit_lambda_z(t, c).n_points == expected_n


def test_too_few_terminal_points_leave_lambda_z_undefined():
    r = nca([1, 2, 4], [3, 2, 1])
    assert math.isnan(r.lambda_z_per_h) and math.isnan(r.auc_0_inf) and math.isnan(r.cl)
    assert "fewer than 3" in r.note and r.auc_0_t > 0


def test_bad_profiles_raise():
    with pytest.raises(NCAError, match="at least 2"):
        nca([1], [1])
    with pytest.raises(NCAError, match="appears twice"):
        nca([1, 1, 2], [3, 2, 1])
    with pytest.raises(NCAError, match="method"):
        nca([1, 2], [2, 1], method="spline")


# ------------------------------------------------------------------------------------------------
# serial and sparse designs
# ------------------------------------------------------------------------------------------------
def test_serial_nca_runs_each_animal_and_the_mean_curve():
    t = [1, 2, 4, 8]
    frame = pd.DataFrame({"animal": ["a"] * 4 + ["b"] * 4, "time_h": t * 2,
                          "conc": [8, 4, 2, 1] + [12, 6, 3, 1.5]})
    s = serial_nca(frame, "conc", dose=100)
    assert [r.label for r in s.animals] == ["a", "b"]
    assert s.mean_curve["mean"].tolist() == [10, 5, 2.5, 1.25]
    assert s.mean.auc_0_t == pytest.approx((s.animals[0].auc_0_t + s.animals[1].auc_0_t) / 2)  # linear in C
    assert len(s.to_frame()) == 3 and s.summary().loc["auc_0_t", "mean"] == pytest.approx(s.mean.auc_0_t)


def test_bailer_auc_and_se_by_hand():
    """Bailer 1988: w = (0.5, 1.5, 1); AUC = 0.5*12 + 1.5*8 + 1*3 = 21;
    Var = 0.5^2*2^2/3 + 1.5^2*2^2/3 + 1^2*1^2/3 = 11/3."""
    b = bailer([1, 2, 4], [12, 8, 3], [2, 2, 1], [3, 3, 3])
    assert b.weights.tolist() == [0.5, 1.5, 1.0]
    assert b.auc_0_tlast == pytest.approx(21.0)
    assert b.variance == pytest.approx(11 / 3) and b.se == pytest.approx(math.sqrt(11 / 3))
    assert b.ci95_low == pytest.approx(21 - 1.959964 * math.sqrt(11 / 3), rel=1e-6)
    # a tissue: C(0) = 0 is added with no variance; w = (0.5, 1, 1.5, 1)
    z = bailer([1, 2, 4], [12, 8, 3], [2, 2, 1], [3, 3, 3], zero_at_start=True)
    assert z.starts_at_zero and z.auc_0_tlast == pytest.approx(0.5 * 0 + 1 * 12 + 1.5 * 8 + 1 * 3)
    assert z.variance == pytest.approx(1 * 4 / 3 + 2.25 * 4 / 3 + 1 / 3)


def test_bailer_from_individual_animals_uses_sample_sd():
    values = {1.0: [10, 12, 14], 2.0: [6, 8, 10], 4.0: [2, 3, 4]}
    frame = pd.DataFrame([{"animal": f"{t}-{i}", "time_h": t, "conc": v}
                          for t, vs in values.items() for i, v in enumerate(vs)])
    b = bailer_from_frame(frame, "conc")
    w = trapezoid_weights(np.array([1.0, 2.0, 4.0]))
    var = sum(w[i] ** 2 * np.var(v, ddof=1) / len(v) for i, v in enumerate(values.values()))
    assert b.auc_0_tlast == pytest.approx(21.0) and b.se == pytest.approx(math.sqrt(var))
    assert len(b.to_frame()) == 3


def test_group_means_with_sd_and_n_use_bailer(tmp_path):
    p = tmp_path / "means.csv"
    p.write_text("group,animal,time_h,matrix,value,sd,n,unit\nA,mean,1,blood,12,2,3,%ID/mL\n"
                 "A,mean,2,blood,8,2,3,%ID/mL\nA,mean,4,blood,3,1,3,%ID/mL\n", encoding="utf-8")
    (result,) = analyse(load_lab_data(p))
    assert result.design == "summary" and result.group == "A"
    assert result.result.bailer.se == pytest.approx(math.sqrt(11 / 3))


@pytest.mark.xfail(strict=True, reason="with the early-capture phase the blood curve has three phases; the spec's bi-exponential half-life no longer equals the NCA terminal half-life within 30% (the mechanisms issue adds blood_t_half_nca_h); strict")
def test_the_synthetic_examples_give_back_the_model_blood_auc():
    """The examples are the model plus 15% noise: their blood AUC0-168h is the model's within 15%."""
    f = nanocloak.load(RBC_PLGA)
    r = nanocloak.simulate(f)
    blood_mL = 0.049 * f.subject.body_weight_g
    model_auc = np.trapezoid(r.series["blood_sample"], r.t_h) / blood_mL    # %ID*h/mL
    (serial,) = analyse(load_lab_data(LAB / "rbc_plga_serial.csv", f))
    (sparse,) = analyse(load_lab_data(LAB / "rbc_plga_sparse.csv", f))
    assert serial.design == "serial" and len(serial.result.animals) == 4
    assert sparse.design == "sparse"
    assert serial.result.mean.auc_0_t == pytest.approx(model_auc, rel=0.15)
    assert sparse.result.bailer.auc_0_tlast == pytest.approx(model_auc, rel=0.15)
    assert serial.result.mean.t_half_h == pytest.approx(r.metrics["blood_t_half_h"], rel=0.3)


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
runner = CliRunner()


@pytest.fixture(scope="module")
def app():
    a = typer.Typer()

    @a.callback()
    def main():
        """test app"""

    register(a)
    return a


def test_cli_serial_table_json_and_files(app, tmp_path):
    data = str(LAB / "rbc_plga_serial.csv")
    shown = runner.invoke(app, ["nca", data])
    assert shown.exit_code == 0, shown.output
    assert "serial sampling" in shown.output and "curve" in shown.output and "M4" in shown.output
    doc = json.loads(runner.invoke(app, ["nca", data, "--json", "--method", "linear-up/log-down"]).stdout)
    group = doc["groups"][0]
    assert doc["sampling"] == "serial" and group["design"] == "serial" and len(group["animals"]) == 4
    assert group["units"]["cl"] == "mL/h" and group["mean_curve"]["method"] == "linear-up/log-down"
    out = tmp_path / "out"
    assert runner.invoke(app, ["nca", data, "--formulation", str(RBC_PLGA), "--out", str(out)]).exit_code == 0
    table = pd.read_csv(out / "nca.csv")
    assert table["label"].tolist() == ["M1", "M2", "M3", "M4", "mean"]
    assert (out / "nca.png").stat().st_size > 10_000


def test_cli_sparse_is_detected_and_reports_bailer(app):
    result = runner.invoke(app, ["nca", str(LAB / "rbc_plga_sparse.csv"), "--matrix", "Tumour", "--json"])
    assert result.exit_code == 0, result.output
    group = json.loads(result.stdout)["groups"][0]
    assert group["design"] == "sparse" and group["matrix"] == "tumor" and group["conc_unit"] == "%ID/g"
    assert group["bailer"]["se"] > 0 and group["bailer"]["starts_at_zero"] is True
    assert group["mean_curve"]["cl"] is None          # no clearance for a tissue


@pytest.mark.parametrize("args,message", [
    (["--matrix", "livr"], "did you mean 'liver'"),
    (["--matrix", "brain"], "no rows for matrix 'brain'"),
    (["--dose-ug", "-5"], "dose_ug must be a positive"),
])
def test_cli_user_errors_exit_2(app, args, message):
    result = runner.invoke(app, ["nca", str(LAB / "rbc_plga_sparse.csv"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
