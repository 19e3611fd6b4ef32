"""The command line as a user meets it: outputs, files, and clean failures (exit 2, empty stdout)."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from nanocloak.cli.main import app
from nanocloak.cli.simulate import LIBRARY_KINDS

from conftest import EXAMPLES, ROOT

runner = CliRunner()
SPEC_METRICS = {"hydrodynamic_diameter_nm", "zeta_coated_mV", "blood_pct_id_1h", "blood_pct_id_4h", "blood_pct_id_24h",
                "blood_pct_id_72h", "blood_auc_pct_id_h", "blood_t_half_h", "tumor_pct_id_24h", "tumor_pct_id_168h",
                "tumor_pct_id_max", "tumor_pct_id_per_g_24h", "organ_pct_id_24h", "organ_pct_id_per_g_24h",
                "excreted_pct_id_end", "mass_balance_error"}
PARTITION = {"blood", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "rest", "excreted_urine",
             "excreted_feces", "degraded"}


def _cli(*args):
    """Run the installed entry point in a subprocess, to see stdout and stderr apart."""
    return subprocess.run([sys.executable, "-m", "nanocloak.cli.main", *args], capture_output=True, text=True, cwd=ROOT)


def test_simulate_json_follows_the_spec():
    proc = _cli("simulate", str(EXAMPLES[0]), "--json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["nanocloak"] == 1 and doc["version"] and doc["name"]
    assert SPEC_METRICS <= set(doc["metrics"])
    tc = doc["timecourse"]
    assert set(tc["pct_id"]) == PARTITION
    assert len(tc["t_h"]) == len(tc["blood_sample_pct_id"]) == len(tc["pct_id"]["liver"])
    for t in (0.083, 1, 4, 8, 24, 48, 72, 168):
        assert any(abs(x - t) < 1e-9 for x in tc["t_h"])
    assert set(doc["metrics"]["organ_pct_id_24h"]) == {"liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "blood", "rest"}


def test_metrics_beyond_end_or_without_tumor_are_absent(tmp_path):
    f = tmp_path / "short.yaml"
    f.write_text("nanocloak: 1\nname: short\ncore: {material: plga, diameter_nm: 70}\ndose: {mg_per_kg: 5}\nsimulate: {end_h: 12}\n")
    doc = json.loads(_cli("simulate", str(f), "--json").stdout)
    m = doc["metrics"]
    assert "blood_pct_id_24h" not in m and "organ_pct_id_24h" not in m and "blood_pct_id_4h" in m
    assert not any(k.startswith("tumor") for k in m) and "tumor" not in doc["timecourse"]["pct_id"]


def test_simulate_out_writes_every_artifact(tmp_path):
    out = tmp_path / "run"
    proc = _cli("simulate", str(EXAMPLES[0]), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in ("timecourse.csv", "metrics.json", "parameters.csv", "report.html", "blood.png", "organs.png", "tumor.png"):
        assert (out / name).stat().st_size > 0
    import pandas as pd

    tc = pd.read_csv(out / "timecourse.csv")
    assert list(tc.columns) == ["t_h", "compartment", "pct_id", "pct_id_per_g"]
    params = pd.read_csv(out / "parameters.csv")
    assert {"name", "value", "unit", "source"} <= set(params.columns) and params["source"].notna().all()


BAD_FILES = {
    "unknown field": "nanocloak: 1\nname: x\ncore: {material: plga, diameter_nm: 70, colour: red}\ndose: {mg_per_kg: 5}\n",
    "bad yaml": "nanocloak: 1\nname: [x\n",
    "negative size": "nanocloak: 1\nname: x\ncore: {material: plga, diameter_nm: -70}\ndose: {mg_per_kg: 5}\n",
    "unknown override": "nanocloak: 1\nname: x\ncore: {material: plga, diameter_nm: 70}\ndose: {mg_per_kg: 5}\nmodel: {overrides: {nope: 1}}\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_exit_2_with_one_message_and_nothing_on_stdout(tmp_path, kind):
    f = tmp_path / "bad.yaml"
    f.write_text(BAD_FILES[kind])
    out = tmp_path / "out"
    proc = _cli("simulate", str(f), "--json", "--out", str(out))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "error" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()          # nothing half written


def test_missing_file_exits_2():
    proc = _cli("simulate", "no/such/file.yaml", "--json")
    assert proc.returncode == 2 and proc.stdout == "" and "not found" in proc.stderr


def test_params_lists_override_names():
    res = runner.invoke(app, ["params", str(EXAMPLES[0]), "--csv"])
    assert res.exit_code == 0
    assert "tumor.PATC" in res.stdout and "liver.pc_uptake_max_per_h" in res.stdout


@pytest.mark.parametrize("kind", LIBRARY_KINDS)
def test_every_library_lists(kind):
    res = runner.invoke(app, ["library", kind])
    assert res.exit_code == 0 and res.stdout.strip()


def test_unknown_library_exits_2():
    res = runner.invoke(app, ["library", "spells"])
    assert res.exit_code == 2


def test_compare_writes_table_and_figures(tmp_path):
    res = runner.invoke(app, ["compare", str(EXAMPLES[0]), str(EXAMPLES[1]), "--out", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cmp" / "comparison.csv").exists() and (tmp_path / "cmp" / "blood.png").exists()


def test_export_sbml_to_file(tmp_path):
    target = tmp_path / "model.xml"
    res = runner.invoke(app, ["export-sbml", str(EXAMPLES[0]), "-o", str(target)])
    assert res.exit_code == 0 and target.read_text().startswith("<?xml")
