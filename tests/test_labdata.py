"""Lab data import: units, matrices and times at the edge, conversions to %ID, clear errors."""

import math

import numpy as np
import pandas as pd
import pytest

import nanocloak
from nanocloak.lab.labdata import LabDataError, load_lab_data, parse_unit

from conftest import ROOT

RBC_PLGA = ROOT / "examples" / "rbc_plga.yaml"
LAB = ROOT / "examples" / "lab_data"
# the rbc_plga mouse (20 g), from src/nanocloak/data/species.yaml: blood 0.049 L/kg, liver 0.055 of body
# weight, hematocrit 0.45; tumor 100 mm3 at density 1; dose 5 mg/kg x 20 g = 100 ug
BLOOD_ML, LIVER_G, TUMOR_G, HCT, DOSE_UG = 0.049 * 20, 0.055 * 20, 0.1, 0.45, 100.0


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rbc_plga():
    return nanocloak.load(RBC_PLGA)


def row(data, matrix):
    rows = data.frame[data.frame["matrix"] == matrix]
    assert len(rows) == 1
    return rows.iloc[0]


def test_pct_id_per_g_times_the_weighed_organ_mass_gives_pct_id(tmp_path):
    p = write(tmp_path, """
animal,time_h,matrix,value,unit,organ_mass_g,sd
m1,24,liver,10,%ID/g,1.2,2
m1,24,spleen,3,%ID,0.1,
""")
    data = load_lab_data(p)
    liver, spleen = row(data, "liver"), row(data, "spleen")
    assert liver["pct_id"] == pytest.approx(12.0) and liver["pct_id_per_g"] == pytest.approx(10.0)
    assert liver["sd_pct_id"] == pytest.approx(2.4) and math.isnan(liver["conc_per_mL"])
    assert spleen["pct_id"] == pytest.approx(3.0) and spleen["pct_id_per_g"] == pytest.approx(30.0)
    assert math.isnan(spleen["sd_pct_id"])
    assert list(data.frame["row"]) == [2, 3]


def test_mass_units_are_divided_by_the_dose(tmp_path):
    p = write(tmp_path, """
animal,time_h,matrix,value,unit,organ_mass_g,dose_ug
m1,4,tumor,2,ug/g,0.1,50
m1,4,blood,500,ng/mL,1.5,100
m2,4,blood,0.5,mg/L,1.5,100
m2,4,kidney,1.5,ug,0.3,60
""")
    f = load_lab_data(p).frame
    tumor = f.iloc[0]
    assert tumor["pct_id"] == pytest.approx(2 * 0.1 / 50 * 100) and tumor["pct_id_per_g"] == pytest.approx(4.0)
    for i in (1, 2):  # 500 ng/mL = 0.5 mg/L = 0.5 ug/mL = 0.5 %ID/mL of a 100 ug dose, in 1.5 mL of blood
        assert f.iloc[i]["conc_per_mL"] == pytest.approx(0.5) and f.iloc[i]["pct_id"] == pytest.approx(0.75)
    assert f.iloc[3]["pct_id"] == pytest.approx(2.5) and f.iloc[3]["pct_id_per_g"] == pytest.approx(2.5 / 0.3)


def test_the_formulation_supplies_organ_masses_blood_volume_and_dose(tmp_path, rbc_plga):
    p = write(tmp_path, """
animal,time_h,matrix,value,unit
m1,1,blood,10,%ID/mL
m1,1,plasma,10,%ID/mL
m1,1,liver,5,%ID/g
m1,1,tumor,3,%ID/g
m1,1,spleen,2,ug/g
""")
    data = load_lab_data(p, rbc_plga)
    assert row(data, "blood")["pct_id"] == pytest.approx(10 * BLOOD_ML)
    # nanoparticles stay in the plasma: plasma volume = blood volume x (1 - hematocrit)
    assert row(data, "plasma")["pct_id"] == pytest.approx(10 * BLOOD_ML * (1 - HCT))
    assert row(data, "plasma")["conc_per_mL"] == pytest.approx(10.0)
    assert row(data, "liver")["pct_id"] == pytest.approx(5 * LIVER_G)
    assert row(data, "tumor")["pct_id"] == pytest.approx(3 * TUMOR_G)
    assert row(data, "spleen")["pct_id_per_g"] == pytest.approx(2 / DOSE_UG * 100)
    assert row(data, "blood")["organ_mass_g"] == pytest.approx(BLOOD_ML)


def test_dose_argument_replaces_the_formulation_dose(tmp_path, rbc_plga):
    p = write(tmp_path, "animal,time_h,matrix,value,unit\nm1,1,liver,2,ug/g\n")
    assert load_lab_data(p, rbc_plga, dose_ug=40.0).frame["pct_id_per_g"][0] == pytest.approx(5.0)
    assert load_lab_data(p, dose_ug=40.0).frame["pct_id_per_g"][0] == pytest.approx(5.0)


@pytest.mark.parametrize("header,cells,hours", [
    ("time_h", ["0.5", "2"], [0.5, 2.0]),
    ("time_min", ["30", "5"], [0.5, 5 / 60]),
    ("time_d", ["1", "7"], [24.0, 168.0]),
    ("Time (h)", ["1", "3"], [1.0, 3.0]),
    ("time [hours]", ["1", "3"], [1.0, 3.0]),
])
def test_time_units_in_the_header(tmp_path, header, cells, hours):
    text = f"animal,{header},matrix,value,unit\n" + "".join(f"a,{c},blood,1,%ID/mL\n" for c in cells)
    assert load_lab_data(write(tmp_path, text)).frame["time_h"].tolist() == pytest.approx(hours)


def test_time_unit_column_per_row(tmp_path):
    p = write(tmp_path, """
animal,time,time_unit,matrix,value,unit
a,30,min,blood,1,%ID/mL
a,2,h,blood,1,%ID/mL
a,1,d,blood,1,%ID/mL
""")
    assert load_lab_data(p).frame["time_h"].tolist() == pytest.approx([0.5, 2.0, 24.0])


def test_matrix_names_and_units_are_forgiving(tmp_path):
    p = write(tmp_path, """
Animal,Time_h,Organ,Value,Unit
a,1,Tumour,1,%ID/g tissue
a,1,LUNGS,1,% ID/g
a,1,Whole blood,1,µg/mL
a,1,kidneys,1,ng/g
""")
    f = load_lab_data(p, dose_ug=10).frame
    assert f["matrix"].tolist() == ["tumor", "lung", "blood", "kidney"]
    assert f["conc_per_mL"][2] == pytest.approx(10.0) and f["pct_id_per_g"][3] == pytest.approx(0.01)


@pytest.mark.parametrize("text,unit_per,factor", [("%ID/g", "g", 1.0), ("%ID/cc", "mL", 1.0), ("ng/mL", "mL", 1e-3),
                                                   ("mg/kg", "g", 1.0), ("ug/organ", None, 1.0), ("mcg/ml", "mL", 1.0)])
def test_parse_unit(text, unit_per, factor):
    u = parse_unit(text)
    assert u.per == unit_per and u.factor == pytest.approx(factor)


def test_xlsx_reads_like_csv(tmp_path):
    csv = write(tmp_path, "animal,time_h,matrix,value,unit,organ_mass_g\na,1,liver,4,%ID/g,1.0\nb,2,liver,3,%ID/g,1.5\n")
    xlsx = tmp_path / "data.xlsx"
    pd.read_csv(csv).to_excel(xlsx, index=False)
    a, b = load_lab_data(csv).frame, load_lab_data(xlsx).frame
    pd.testing.assert_frame_equal(a.drop(columns="row"), b.drop(columns="row"))
    assert b["pct_id"].tolist() == pytest.approx([4.0, 4.5])


def test_sampling_design_is_detected(tmp_path):
    serial = write(tmp_path, "animal,time_h,matrix,value,unit\na,1,blood,2,%ID/mL\na,2,blood,1,%ID/mL\n", "s.csv")
    sparse = write(tmp_path, "animal,time_h,matrix,value,unit\na,1,blood,2,%ID/mL\na,1,liver,1,%ID/g\n"
                             "b,2,blood,1,%ID/mL\n", "d.csv")
    assert load_lab_data(serial).sampling == "serial"
    assert load_lab_data(sparse).sampling == "sparse"


def test_the_synthetic_examples_load_and_say_so(rbc_plga):
    serial = load_lab_data(LAB / "rbc_plga_serial.csv", rbc_plga)
    sparse = load_lab_data(LAB / "rbc_plga_sparse.csv", rbc_plga, require_pct_id=True)
    assert serial.sampling == "serial" and serial.frame["animal"].nunique() == 4
    assert sparse.sampling == "sparse" and sparse.frame.groupby("time_h")["animal"].nunique().eq(3).all()
    assert set(sparse.matrices) == {"blood", "liver", "spleen", "lung", "kidney", "heart", "tumor"}
    for name in ("rbc_plga_serial.csv", "rbc_plga_sparse.csv"):
        assert "SYNTHETIC" in (LAB / name).read_text().splitlines()[0]
    assert "SYNTHETIC" in (LAB / "README.md").read_text()


# ------------------------------------------------------------------------------------------------
# errors: one message naming the file, the row (file line) and the column
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("anmial,time_h,matrix,value,unit\na,1,blood,1,%ID/mL", ["missing column(s) animal", "did you mean 'anmial'"]),
    ("animal,matrix,value,unit\na,blood,1,%ID/mL", ["no time column", "time_h"]),
    ("animal,time,matrix,value,unit\na,1,blood,1,%ID/mL", ["does not say its unit"]),
    ("animal,time_furlongs,matrix,value,unit\na,1,blood,1,%ID/mL", ["time unit 'furlongs' not understood"]),
    ("animal,time_h,matrix,value,unit\na,1,blood,1,%ID/mL\na,2h,blood,1,%ID/mL", ["row 3", "'time_h'", "not a number", "'2h'"]),
    ("animal,time_h,matrix,value,unit\na,1,livr,1,%ID/g", ["row 2", "unknown matrix 'livr'", "did you mean 'liver'"]),
    ("animal,time_h,matrix,value,unit\na,1,liver,1,%ID/gg", ["row 2", "'unit'", "'%ID/gg' not understood",
                                                            "did you mean '%ID/g'"]),
    ("animal,time_h,matrix,value,unit\na,1,liver,1,%ID/g\na,2,liver,-3,%ID/g", ["row 3", "'value'", ">= 0"]),
    ("animal,time_h,matrix,value,unit\na,1,liver,,%ID/g", ["row 2", "'value'", "empty"]),
    ("animal,time_h,matrix,value,unit\na,1,liver,1,%ID/g\n,2,liver,1,%ID/g", ["row 3", "'animal'", "empty"]),
    ("animal,time_h,matrix,value,unit\na,1,liver,2,ug/g", ["row 2", "needs the dose", "dose_ug", "--formulation"]),
    ("animal,time_h,matrix,value,unit,organ_mass_g\na,1,liver,2,%ID/g,0", ["row 2", "'organ_mass_g'", "> 0"]),
    ("animal,time_h,matrix,value,unit\na,1,liver,2,%ID/g\na,1,Liver,3,%ID/g", ["rows 2, 3", "more than once"]),
])
def test_bad_files_get_one_clear_message(tmp_path, text, expected):
    p = write(tmp_path, text)
    with pytest.raises(LabDataError) as exc:
        load_lab_data(p)
    message = str(exc.value)
    assert str(p) in message
    for part in expected:
        assert part in message, (part, message)


def test_rows_are_file_lines_even_after_comments(tmp_path):
    p = write(tmp_path, "# a comment\nanimal,time_h,matrix,value,unit\n\na,1,blood,1,%ID/mL\na,x,blood,1,%ID/mL\n")
    with pytest.raises(LabDataError, match="row 5"):
        load_lab_data(p)


def test_required_pct_id_needs_an_organ_mass(tmp_path, rbc_plga):
    p = write(tmp_path, "animal,time_h,matrix,value,unit\na,1,bone,2,%ID/g\n")
    assert math.isnan(load_lab_data(p, rbc_plga).frame["pct_id"][0])
    with pytest.raises(LabDataError, match=r"row 2: bone in %ID/g: .*organ_mass_g"):
        load_lab_data(p, rbc_plga, require_pct_id=True)


def test_missing_file_and_bad_dose(tmp_path):
    with pytest.raises(LabDataError, match="file not found"):
        load_lab_data(tmp_path / "nope.csv")
    p = write(tmp_path, "animal,time_h,matrix,value,unit\na,1,liver,2,ug/g\n")
    with pytest.raises(LabDataError, match="dose_ug must be a positive"):
        load_lab_data(p, dose_ug=-1.0)
    assert np.isfinite(load_lab_data(p, dose_ug=1.0).frame["pct_id_per_g"]).all()
