"""Sensitivity analysis (SALib): analytic checks on synthetic functions, sample-size rules, a real run."""

import math

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from nanocloak.screen import sensitivity
from nanocloak.cli.screen import register
from nanocloak.screen.space import load_space
from nanocloak.errors import NanocloakError

from test_screen import base, space_dict

runner = CliRunner()


def synthetic_space(ranges: dict, extra: dict | None = None):
    """A space whose fields only serve as factors of a synthetic function (paths must still exist)."""
    return load_space({"base": base(), "vary": {**{p: {"range": list(r)} for p, r in ranges.items()}, **(extra or {})},
                       "sampling": {"method": "lhs", "n": 8}})


def test_sobol_indices_of_the_ishigami_function():
    """Ishigami T, Homma T 1990: f = sin x1 + a sin^2 x2 + b x3^4 sin x1 on [-pi, pi]^3 has analytic
    indices (Sobol' IM, Levitan YL 1999): V1 = b pi^4/5 + b^2 pi^8/50 + 1/2, V2 = a^2/8, V3 = 0,
    V13 = 8 b^2 pi^8 / 225."""
    a, b, pi = 7.0, 0.1, math.pi
    space = synthetic_space({"core.zeta_mV": (-pi, pi), "dose.mg_per_kg": (-pi, pi), "subject.body_weight_g": (-pi, pi)})
    p = sensitivity.plan(space, "sobol", 1024, seed=1)
    assert p.codes.shape == (1024 * (2 * 3 + 2), 3)
    x1, x2, x3 = p.codes.T
    y = np.sin(x1) + a * np.sin(x2) ** 2 + b * x3 ** 4 * np.sin(x1)
    table = sensitivity.analyze(p, y, "ishigami", seed=1)
    v1, v2, v13 = b * pi ** 4 / 5 + b ** 2 * pi ** 8 / 50 + 0.5, a ** 2 / 8, 8 * b ** 2 * pi ** 8 / 225
    v = v1 + v2 + v13
    np.testing.assert_allclose(table["S1"], [v1 / v, v2 / v, 0.0], atol=0.04)
    np.testing.assert_allclose(table["ST"], [(v1 + v13) / v, v2 / v, v13 / v], atol=0.04)
    assert (table["S1_conf"] > 0).all() and (table["S1_conf"] < 0.1).all()


def test_morris_of_a_linear_function():
    """y = 3 u + 0 v + 10 w: every elementary effect of a field is its slope times its range."""
    space = synthetic_space({"core.zeta_mV": (0, 2), "dose.mg_per_kg": (0, 1), "subject.body_weight_g": (5, 6)})
    p = sensitivity.plan(space, "morris", 10, levels=4, seed=3)
    assert p.codes.shape == (10 * 4, 3)
    u, v, w = p.codes.T
    table = sensitivity.analyze(p, 3 * u + 0 * v + 10 * w, "linear").set_index("field")
    np.testing.assert_allclose(table["mu_star"], [6.0, 0.0, 10.0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(table["sigma"], 0.0, atol=1e-9)


def test_discrete_fields():
    choice = {"surface.membrane.method": {"choice": ["coextrusion", "sonication", "microfluidic_electroporation"]}}
    space = synthetic_space({"core.diameter_nm": (50, 200)}, choice)
    morris = sensitivity.plan(space, "morris", 4, levels=4)
    assert morris.problem["names"] == ["core.diameter_nm", "surface.membrane.method"]
    assert set(morris.codes[:, 1]) <= {0.0, 1.0, 2.0}
    sobol = sensitivity.plan(space, "sobol", 16)
    assert sobol.problem["names"] == ["core.diameter_nm"] and "surface.membrane.method (choice) is excluded" in sobol.notes[0]
    assert sobol.codes.shape == (16 * 4, 1)


@pytest.mark.parametrize("method, n, levels, expected", [
    ("sobol", 100, 4, "N a power of 2 (e.g. 64, 128, 256; got 100); it runs N(2D+2) = N x 6"),
    ("morris", 1, 4, "r >= 2 trajectories"),
    ("morris", 8, 3, "even number of grid levels"),
    ("fast", 8, 4, "use morris or sobol"),
])
def test_sample_size_rules(method, n, levels, expected):
    space = synthetic_space({"core.diameter_nm": (50, 200), "dose.mg_per_kg": (1, 10)})
    with pytest.raises(NanocloakError) as exc:
        sensitivity.plan(space, method, n, levels)
    assert expected in str(exc.value)


def test_failed_runs_are_refused():
    space = synthetic_space({"core.diameter_nm": (50, 200)})
    p = sensitivity.plan(space, "morris", 4)
    y = np.ones(len(p.codes))
    y[0] = np.nan
    with pytest.raises(NanocloakError, match="1 of 8 runs have no value"):
        sensitivity.analyze(p, y, "m")


def test_morris_on_the_model(tmp_path):
    """With the macrophages' saturation off (stealth.mps_saturation_factor), %ID is linear in the
    dose (the particle model is linear), so dose has no effect on tumor_pct_id_24h while size has."""
    tracer = base() | {"model": {"overrides": {"dose1.mps_saturation_factor": 1.0}}}
    space = load_space(space_dict(base=tracer, vary={"core.diameter_nm": {"range": [50, 200], "scale": "log"},
                                                     "dose.mg_per_kg": {"range": [1, 20]}}))
    out = tmp_path / "m"
    res = sensitivity.run_sensitivity(space, "morris", out, metrics=["tumor_pct_id_24h"], n=4, serial=True)
    assert res.n_runs == 12
    t = res.table.set_index("field")
    assert t.loc["core.diameter_nm", "mu_star"] > 0.01
    assert t.loc["dose.mg_per_kg", "mu_star"] < 1e-6 * t.loc["core.diameter_nm", "mu_star"]
    saved = pd.read_csv(out / "sensitivity.csv")
    assert list(saved.columns) == ["metric", "field", "mu_star", "mu_star_conf", "mu", "sigma"]
    assert (out / "sensitivity.png").stat().st_size > 0


def test_cli_sensitivity(tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(space_dict(vary={"core.diameter_nm": {"range": [50, 200]}})))
    app = typer.Typer()
    register(app)
    bad = runner.invoke(app, ["sensitivity", str(tmp_path / "s.yaml"), "--method", "sobol", "--n", "100", "--serial"])
    assert bad.exit_code == 2 and "power of 2" in bad.output
    ok = runner.invoke(app, ["sensitivity", str(tmp_path / "s.yaml"), "--method", "sobol", "--n", "8", "--serial",
                             "--metric", "liver_pct_id_24h", "--out", str(tmp_path / "o")])
    assert ok.exit_code == 0, ok.output
    assert "liver_pct_id_24h" in ok.stdout and "core.diameter_nm" in ok.stdout and "32 runs" in ok.stderr
    assert len(pd.read_csv(tmp_path / "o" / "sensitivity.csv")) == 1
