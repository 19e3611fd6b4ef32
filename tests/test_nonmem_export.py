"""`nanocloak export nonmem`: doses and observations round-trip, EVID/MDV rules, CMT numbers as
documented, and the output-safety rule (never replace a file nanocloak did not write)."""

import io

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import nanocloak
from nanocloak.cli.main import app
from nanocloak.io.nonmem import CMT_NUMBERS, from_lab_data, from_results
from nanocloak.lab.labdata import load_lab_data
from nanocloak.lab.send import load_send

from conftest import ROOT, make

runner = CliRunner()
RBC_PLGA = ROOT / "examples" / "rbc_plga.yaml"
SERIAL = ROOT / "examples" / "lab_data" / "rbc_plga_serial.csv"
STUDY = ROOT / "tests" / "data" / "send_study"


def read(text_or_path) -> pd.DataFrame:
    source = io.StringIO(text_or_path) if isinstance(text_or_path, str) else text_or_path
    return pd.read_csv(source, comment="#")


def check_rules(ds: pd.DataFrame) -> None:
    """The dataset conventions every export keeps."""
    doses, obs = ds[ds["EVID"] == 1], ds[ds["EVID"] == 0]
    assert set(ds["EVID"]) <= {0, 1}
    assert (doses["AMT"] > 0).all() and (doses["MDV"] == 1).all() and (doses["CMT"] == 1).all()
    assert (obs["AMT"] == 0).all() and set(obs["MDV"]) <= {0, 1}
    for _, rows in ds.groupby("ID"):
        assert (np.diff(rows["TIME"].to_numpy()) >= 0).all()               # sorted by time
        first = rows.groupby("TIME")["EVID"].first()
        both = rows.groupby("TIME")["EVID"].nunique() == 2
        assert (first[both] == 1).all()                                    # a dose before an observation at its time
    assert all(CMT_NUMBERS[n] == c for n, c in zip(ds["CMTNAME"], ds["CMT"]))
    assert not ds["DVUNIT"].str.contains(",").any()


def test_simulation_round_trip(tmp_path):
    d = make(subject={"species": "mouse", "body_weight_g": 25}, dose={"mg_per_kg": 4, "times_h": [0, 24]}, name="two doses")
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(d))
    out = tmp_path / "sim.csv"
    res = runner.invoke(app, ["export", "nonmem", str(path), "--times", "1,4,30", "--out", str(out)])
    assert res.exit_code == 0, res.output
    ds = read(out)
    check_rules(ds)
    doses = ds[ds["EVID"] == 1]
    assert doses["TIME"].tolist() == [0.0, 24.0] and doses["AMT"].tolist() == [100.0, 100.0]    # 4 mg/kg x 25 g
    obs = ds[ds["EVID"] == 0]
    assert sorted(set(obs["TIME"])) == [1.0, 4.0, 30.0] and (obs["MDV"] == 0).all()
    f = nanocloak.spec.formulation.from_dict({**d, "simulate": {"end_h": 168.0, "output_times_h": [1, 4, 30]}})
    r = nanocloak.simulate(f)
    for name, series in (("liver", "liver"), ("blood", "blood_sample")):
        mine = obs[obs["CMTNAME"] == name]
        expected = [r.series[series][np.searchsorted(r.t_h, t)] for t in mine["TIME"]]
        np.testing.assert_allclose(mine["DV"], expected, rtol=1e-9)
    assert "tumor" not in set(obs["CMTNAME"])                               # no tumor, no tumor rows


def test_simulation_dv_in_ug_is_pct_id_of_the_dose(tmp_path):
    f = nanocloak.spec.formulation.from_dict(make(subject={"species": "mouse", "body_weight_g": 25}))
    r = nanocloak.simulate(f)
    pct, ug = from_results([r], "pct_id"), from_results([r], "ug")
    obs = pct["EVID"] == 0
    assert (ug["AMT"][~obs] == 125.0).all()                                    # 5 mg/kg x 25 g
    np.testing.assert_allclose(ug["DV"][obs], pct["DV"][obs] / 100.0 * 125.0)
    per_g = from_results([r], "pct_id_per_g", compartments=["liver"])
    liver = r.timecourse[(r.timecourse["compartment"] == "liver") & (r.timecourse["t_h"] > 0)]
    np.testing.assert_allclose(per_g[per_g["EVID"] == 0]["DV"], liver["pct_id_per_g"])
    assert set(per_g[per_g["EVID"] == 0]["DVUNIT"]) == {"%ID/g"}


def test_lab_csv_round_trip():
    lab = load_lab_data(SERIAL, nanocloak.load(RBC_PLGA))
    ds = from_lab_data(lab)
    check_rules(ds)
    assert ds["ID"].nunique() == lab.frame.groupby(["group", "animal"]).ngroups
    doses = ds[ds["EVID"] == 1]
    assert (doses["TIME"] == 0).all() and (doses["AMT"] == 100.0).all() and len(doses) == ds["ID"].nunique()
    obs = ds[ds["EVID"] == 0].sort_values(["ANIMAL", "CMTNAME", "TIME"]).reset_index(drop=True)
    f = lab.frame.sort_values(["animal", "matrix", "time_h"]).reset_index(drop=True)
    np.testing.assert_allclose(obs["TIME"], f["time_h"])
    np.testing.assert_allclose(obs["DV"], f["pct_id"], rtol=1e-9)
    assert (obs["CMT"] == f["matrix"].map(CMT_NUMBERS)).all()


def test_values_that_cannot_be_expressed_are_missing_not_zero():
    """Without organ masses %ID/g rows have no %ID: MDV 1 (and DV 0), never a made-up value."""
    lab = load_lab_data(ROOT / "examples" / "lab_data" / "rbc_plga_sparse.csv", dose_ug=100.0)
    ds = from_lab_data(lab, "pct_id")
    check_rules(ds)
    obs = ds[ds["EVID"] == 0]
    missing = lab.frame["pct_id"].isna().sum()
    assert missing > 0 and (obs["MDV"] == 1).sum() == missing and (obs[obs["MDV"] == 1]["DV"] == 0).all()


def test_send_round_trip_doses_and_measurements():
    ds = from_lab_data(load_send(STUDY), "ug_per_g")
    check_rules(ds)
    doses = ds[ds["EVID"] == 1]
    assert doses.groupby("ANIMAL")["AMT"].apply(list).to_dict() == {"NC1-101": [100.0], "NC1-102": [125.0],
                                                                   "NC1-201": [220.0, 220.0]}
    assert doses[doses["ANIMAL"] == "NC1-201"]["TIME"].tolist() == [0.0, 24.0]
    obs = ds[ds["EVID"] == 0]
    pc = pd.read_csv(STUDY / "pc.csv")
    kept = pc[(pc["PCSTAT"] != "NOT DONE") & (pc["PCELTM"] != "-PT1H")]
    # ug/mL and ug/g back from %ID: the measurement itself (ng/mL / 1000, ug/g), BLQ as 0
    expected = np.where(kept["PCSTRESU"] == "ng/mL", kept["PCSTRESN"].fillna(0) / 1000.0, kept["PCSTRESN"].fillna(0))
    np.testing.assert_allclose(obs.sort_values(["ANIMAL", "TIME"])["DV"], expected, rtol=1e-9)
    assert set(obs["CMTNAME"]) == {"plasma", "liver"} and set(obs["DVUNIT"]) == {"ug/mL", "ug/g"}


def test_cli_refuses_to_replace_a_users_file(tmp_path):
    mine = tmp_path / "data.csv"
    mine.write_text("ID,TIME\n1,0\n")
    res = runner.invoke(app, ["export", "nonmem", str(STUDY), "--out", str(mine)])
    assert res.exit_code == 2 and "not written by nanocloak" in res.output
    assert mine.read_text() == "ID,TIME\n1,0\n"
    ours = tmp_path / "ours.csv"
    for _ in range(2):                                                     # its own file it may replace
        res = runner.invoke(app, ["export", "nonmem", str(STUDY), "--out", str(ours)])
        assert res.exit_code == 0, res.output
    assert "nanocloak-generated" in ours.read_text().splitlines()[0]
    res = runner.invoke(app, ["export", "nonmem", str(STUDY), "--out", str(mine), "--force"])
    assert res.exit_code == 0 and read(mine)["ID"].nunique() == 3


@pytest.mark.parametrize("args,message", [
    (["--dv", "molar"], "--dv 'molar': choose one of"),
    (["--compartments", "liver,gut"], "'gut' is not simulated"),
    (["--times", "1,abc"], "give hours separated by commas"),
    (["--times", "500"], "after"),
    (["--dose-ug", "10"], "apply to lab data"),
])
def test_cli_bad_options_exit_2_with_a_message(args, message):
    res = runner.invoke(app, ["export", "nonmem", str(RBC_PLGA), *args])
    assert res.exit_code == 2 and message in res.output, res.output


def test_lab_data_without_a_dose_is_refused():
    res = runner.invoke(app, ["export", "nonmem", str(ROOT / "examples" / "lab_data" / "rbc_plga_sparse.csv")])
    assert res.exit_code == 2 and "needs the dose" in res.output, res.output
