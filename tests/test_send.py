"""CDISC SEND import (PC with EX, DM, BW): times from ISO 8601, doses from EX and body weights,
the same LabData as the CSV reader, clear errors for missing domains and columns."""

import shutil

import numpy as np
import pandas as pd
import pytest

from nanocloak.lab.labdata import LabDataError, load_lab_data
from nanocloak.lab.send import iso_duration_h, load_send, read_lab_data

from conftest import ROOT

STUDY = ROOT / "tests" / "data" / "send_study"


@pytest.fixture(scope="module")
def lab():
    return load_send(STUDY)


@pytest.mark.parametrize("text,hours", [("PT2H", 2.0), ("PT30M", 0.5), ("P1D", 24.0), ("P1DT6H", 30.0), ("PT5M", 5 / 60),
                                        ("-PT1H", -1.0), ("P1W", 168.0), ("PT0.5H", 0.5), ("PT90S", 0.025)])
def test_iso_durations(text, hours):
    assert iso_duration_h(text) == pytest.approx(hours)


@pytest.mark.parametrize("text", ["P1M", "P1Y", "2H", "PT", "P", "PTH", ""])
def test_iso_durations_without_fixed_length_or_malformed_are_refused(text):
    with pytest.raises(ValueError):
        iso_duration_h(text)


def test_send_reads_times_doses_and_values(lab):
    f = lab.frame
    a = f[f["animal"] == "NC1-101"]
    np.testing.assert_allclose(a["time_h"], [5 / 60, 1.0, 4.0])            # PCELTM alone: one dose
    b = f[f["animal"] == "NC1-102"]
    np.testing.assert_allclose(b["time_h"], [5 / 60, 2.0, 24.0])           # PCDTC - EXSTDTC (08:10)
    c = f[f["animal"] == "NC1-201"]
    np.testing.assert_allclose(c["time_h"], [1.0, 25.0, 48.0])             # PCRFTDTC + PCELTM after the 2nd dose
    # dose: EXDOSE mg/kg x the last body weight at or before the first dose (101: 20 g, not 19 or TERMBW 21)
    assert dict(zip(f["animal"], f["dose_ug"])) == {"NC1-101": 100.0, "NC1-102": 125.0, "NC1-201": 220.0}
    # ng/mL over ug of dose: 2000 ng/mL of a 100 ug dose is 2 %ID/mL; 12 ug/g liver of 220 ug is 5.45 %ID/g
    assert a["pct_id_per_g"].iloc[0] == pytest.approx(2.0)
    assert c[c["matrix"] == "liver"]["pct_id_per_g"].iloc[0] == pytest.approx(1200 / 220)
    assert b["value"].iloc[-1] == 0.0                                     # <LLOQ is 0, the CSV rule
    assert list(lab.groups) == ["1", "2"] and lab.sampling == "serial"
    doses = lab.doses[lab.doses["animal"] == "NC1-201"]
    np.testing.assert_allclose(doses["time_h"], [0.0, 24.0])
    assert len(lab.notes) == 2 and any("NOT DONE" in n for n in lab.notes) and any("pre-dose" in n for n in lab.notes)


def test_send_gives_the_same_lab_data_as_the_csv_reader(lab, tmp_path):
    """The same records written in the CSV format read back to the same converted frame."""
    f = lab.frame
    csv = tmp_path / "same.csv"
    f[["group", "animal", "time_h", "matrix", "value", "unit", "dose_ug"]].to_csv(csv, index=False)
    other = load_lab_data(csv)
    columns = ["group", "animal", "time_h", "matrix", "value", "pct_id_per_g", "conc_per_mL", "dose_ug"]
    pd.testing.assert_frame_equal(f[columns].reset_index(drop=True), other.frame[columns].reset_index(drop=True),
                                  check_dtype=False)
    assert type(other) is type(lab)


def test_read_lab_data_takes_a_folder_or_a_file(tmp_path):
    assert read_lab_data(STUDY).doses is not None
    assert read_lab_data(ROOT / "examples" / "lab_data" / "rbc_plga_serial.csv").doses is None
    with pytest.raises(LabDataError, match="--dose-ug does not apply"):
        read_lab_data(STUDY, dose_ug=10.0)


def _copy(tmp_path):
    target = tmp_path / "study"
    shutil.copytree(STUDY, target)
    return target


def test_missing_domain_is_named(tmp_path):
    study = _copy(tmp_path)
    (study / "ex.csv").unlink()
    with pytest.raises(LabDataError, match=r"SEND domain\(s\) EX not found"):
        load_send(study)


def test_missing_column_is_named(tmp_path):
    study = _copy(tmp_path)
    pc = pd.read_csv(study / "pc.csv", dtype=str).drop(columns="PCSTRESU")
    pc.to_csv(study / "pc.csv", index=False)
    with pytest.raises(LabDataError, match="PC domain lacks PCSTRESU"):
        load_send(study)


def test_dose_per_kg_without_body_weights_is_refused(tmp_path):
    study = _copy(tmp_path)
    (study / "bw.csv").unlink()
    with pytest.raises(LabDataError, match="needs its body weight: add the BW domain"):
        load_send(study)


def test_several_doses_without_reference_times_are_refused(tmp_path):
    study = _copy(tmp_path)
    pc = pd.read_csv(study / "pc.csv", dtype=str)
    pc["PCRFTDTC"] = np.nan
    pc.to_csv(study / "pc.csv", index=False)
    with pytest.raises(LabDataError, match="NC1-201.*2 doses; PCELTM alone"):
        load_send(study)


def test_unknown_specimen_and_bad_duration_name_the_row(tmp_path):
    study = _copy(tmp_path)
    pc = pd.read_csv(study / "pc.csv", dtype=str)
    pc.loc[2, "PCSPEC"] = "CEREBROSPINAL GOO"
    pc.to_csv(study / "pc.csv", index=False)
    with pytest.raises(LabDataError, match=r"row 4, column 'PCSPEC'"):
        load_send(study)
    pc.loc[2, "PCSPEC"] = "PLASMA"
    pc.loc[2, "PCELTM"] = "P1M"
    pc.to_csv(study / "pc.csv", index=False)
    with pytest.raises(LabDataError, match=r"row 4, column 'PCELTM'.*not an ISO 8601 duration"):
        load_send(study)


def test_an_animal_missing_from_dm_is_named(tmp_path):
    study = _copy(tmp_path)
    dm = pd.read_csv(study / "dm.csv", dtype=str)
    dm[dm["USUBJID"] != "NC1-102"].to_csv(study / "dm.csv", index=False)
    with pytest.raises(LabDataError, match="'NC1-102' is not in the DM domain"):
        load_send(study)


def test_several_analytes_need_a_choice(tmp_path):
    study = _copy(tmp_path)
    pc = pd.read_csv(study / "pc.csv", dtype=str)
    extra = pc.iloc[[1]].assign(PCTESTCD="DOXOL", PCSTRESN="50")
    pd.concat([pc, extra]).to_csv(study / "pc.csv", index=False)
    with pytest.raises(LabDataError, match=r"several analytes in PCTESTCD \(DOX, DOXOL\)"):
        load_send(study)
    only = load_send(study, analyte="DOXOL")
    assert len(only.frame) == 1 and only.frame["value"].iloc[0] == 50.0
    assert len(load_send(study, analyte="DOX").frame) == 9
    with pytest.raises(LabDataError, match="'NONE' not in PCTESTCD"):
        load_send(study, analyte="NONE")


NUMERIC = ("PCSTRESN", "PCLLOQ", "PCDY", "PCTPTNUM", "PCSEQ", "EXDOSE", "EXSEQ", "EXSTDY", "BWSTRESN", "BWSEQ", "BWDY")


def test_sas_transport_files_read_as_the_csv_files(tmp_path, lab):
    """The same study as .xpt (SAS XPORT, as SEND is submitted): the same records, times and doses."""
    from xport_writer import write_xport

    study = tmp_path / "xpt"
    study.mkdir()
    for domain in ("pc", "ex", "dm", "bw"):
        df = pd.read_csv(STUDY / f"{domain}.csv", dtype=str)
        for c in df.columns:
            if c in NUMERIC:
                df[c] = pd.to_numeric(df[c])
        write_xport(study / f"{domain.upper()}.XPT", df, domain)
    other = load_send(study)
    columns = ["group", "animal", "time_h", "matrix", "value", "dose_ug", "pct_id_per_g"]
    pd.testing.assert_frame_equal(other.frame[columns], lab.frame[columns], check_dtype=False)
    pd.testing.assert_frame_equal(other.doses, lab.doses, check_dtype=False)
    assert other.notes == lab.notes
