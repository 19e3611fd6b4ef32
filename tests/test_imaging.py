"""Imaging (model/imaging.py, docs/imaging.md): tumor-to-muscle contrast for every tumor, and a
mode's signal only where the formulation carries its agent."""

import math

import numpy as np
import pytest

import nanocloak
from nanocloak.library import tables as library
from nanocloak.model import imaging
from nanocloak.spec.formulation import from_dict

from conftest import ROOT, make

TUMOR = {"species": "mouse", "body_weight_g": 20, "tumor": {"line": "4T1", "volume_mm3": 100}}
CALIBRATION = "evidence-2026-12-02-023910d5-b67908"
SHARED_KEYS = {"tumor_to_muscle_max", "best_imaging_time_h", "tumor_pct_id_per_g_at_best", "muscle_pct_id_per_g_at_best"}


def _iron(mg_per_kg):
    d = nanocloak.load(ROOT / "examples" / "iron_oxide_mri.yaml").model_dump(mode="json", exclude_none=True)
    d["dose"]["mg_per_kg"] = mg_per_kg
    # macrophage saturation off (stealth.mps_saturation_factor): then every amount is linear in the dose
    d.setdefault("model", {}).setdefault("overrides", {})["dose1.mps_saturation_factor"] = 1.0
    return from_dict(d)


@pytest.fixture(scope="module")
def results():
    forms = {
        "plga": from_dict(make(subject=TUMOR, end_h=72.0)),
        "plga_no_tumor": from_dict(make(end_h=72.0)),
        "iron": _iron(5.0),
        "iron_2x": _iron(10.0),
        "gold": from_dict(make(core={"material": "gold_sphere", "diameter_nm": 20}, subject=TUMOR, end_h=72.0)),
        "icg": from_dict(make(core={"material": "liposome", "diameter_nm": 100}, subject=TUMOR, end_h=72.0,
                              payloads=[{"drug": "icg", "loading_wt_pct": 5,
                                         "release": {"model": "first_order", "params": {"k_per_h": 0.05}}}])),
    }
    return dict(zip(forms, nanocloak.simulate_many(list(forms.values()))))


def test_no_imaging_signal_without_an_agent(results):
    """A bare PLGA tracer: the contrast every mode shares, and no MRI, CT, NIR or photoacoustic key."""
    assert set(results["plga"].metrics["imaging"]) == SHARED_KEYS
    assert "imaging" not in results["plga_no_tumor"].metrics
    assert "tumor_to_muscle" not in results["plga_no_tumor"].to_dict()["timecourse"]


def test_each_agent_gives_only_its_modes(results):
    modes = {name: {k.split("_")[0] for k in r.metrics["imaging"] if k not in SHARED_KEYS} for name, r in results.items()
             if "imaging" in r.metrics}
    assert modes["iron"] == {"mri", "pa"}         # magnetite: relaxivity, and weak NIR absorption
    assert modes["gold"] == {"ct", "pa"}          # gold: X-ray attenuation, plasmon absorption
    assert modes["icg"] == {"nir", "pa"}          # a dye: fluorescence and absorption, no MRI or CT


def test_delta_r2_is_proportional_to_dose_and_is_r2_times_iron(results):
    one, two = results["iron"].metrics["imaging"], results["iron_2x"].metrics["imaging"]
    assert two["mri_tumor_delta_r2_per_s_max"] == pytest.approx(2.0 * one["mri_tumor_delta_r2_per_s_max"], rel=1e-6)
    assert two["mri_tumor_fe_mM_max"] == pytest.approx(2.0 * one["mri_tumor_fe_mM_max"], rel=1e-6)
    r2 = library.value(library.table("imaging")["mri"]["agents"]["iron_oxide"]["fields"]["3.0"]["r2_per_mM_per_s"])
    assert one["mri_tumor_delta_r2_per_s_max"] == pytest.approx(r2 * one["mri_tumor_fe_mM_max"], rel=1e-12)
    # the phagocytic organs, which hold most of the iron, darken far more than muscle
    organs = one["mri_organ_delta_r2_per_s_24h"]
    assert min(organs["spleen"], organs["liver"]) > 10.0 * organs["muscle"] > 0


@pytest.mark.xfail(strict=True, reason=f"calibration {CALIBRATION} puts the splenic uptake factor on its lower "
                   "bound (docs/calibration.md, findings): the spleen now holds less iron per gram than the liver "
                   "at 24 h (19.5 vs 41 /s); strict, so a model that restores the ordering fails here until the mark goes")
def test_the_spleen_darkens_more_than_the_liver(results):
    organs = results["iron"].metrics["imaging"]["mri_organ_delta_r2_per_s_24h"]
    assert organs["spleen"] > organs["liver"]


@pytest.mark.parametrize("name", ["plga", "iron", "icg"])
def test_tumor_to_muscle_max_is_the_max_of_the_reported_ratio_at_a_grid_time(results, name):
    r = results[name]
    tc = r.to_dict()["timecourse"]
    ratio = [v for v in tc["tumor_to_muscle"] if v is not None]
    m = r.metrics["imaging"]
    assert m["tumor_to_muscle_max"] == max(ratio)
    assert m["best_imaging_time_h"] in tc["t_h"]
    i = tc["t_h"].index(m["best_imaging_time_h"])
    assert tc["tumor_to_muscle"][i] == m["tumor_to_muscle_max"]
    assert m["tumor_pct_id_per_g_at_best"] / m["muscle_pct_id_per_g_at_best"] == pytest.approx(m["tumor_to_muscle_max"])
    assert tc["muscle_pct_id_per_g"][i] == pytest.approx(m["muscle_pct_id_per_g_at_best"])
    assert tc["tumor_to_muscle"][0] is None                 # t = 0: nothing in muscle, no ratio
    assert "muscle" not in tc["pct_id"]                     # the partition keeps muscle inside rest


def test_ct_contrast_is_linear_in_gold_and_within_the_linear_range(results):
    m = results["gold"].metrics["imaging"]
    k = library.value(library.table("imaging")["ct"]["elements"]["gold"]["hu_per_mg_per_mL"])
    assert m["ct_tumor_delta_hu_max"] == pytest.approx(k * m["ct_tumor_gold_mg_per_mL_max"], rel=1e-12)
    assert m["ct_within_linear_range"] is True


def _inputs(**kw):
    t = np.array([0.0, 1.0, 24.0])
    base = dict(t_h=t, tumor_pct_id_per_g=np.array([0.0, 2.0, 4.0]), muscle_pct_id_per_g=np.array([0.0, 1.0, 0.5]),
                core_mg_per_dose=0.2, material="plga")
    base.update(kw)
    return imaging.ImagingInputs(**base)


def test_fluorescence_fades_with_depth_and_scales_with_dye():
    dye = {"icg": np.array([0.0, 1.0, 2.0])}
    skin = imaging.nir_metrics(_inputs(dyes_uM=dye, tumor_site="subcutaneous"))
    deep = imaging.nir_metrics(_inputs(dyes_uM=dye, tumor_site="lung_metastasis"))
    assert deep["nir_tumor_signal_per_cm_max"] < skin["nir_tumor_signal_per_cm_max"]
    assert deep["nir_depth_mm"] > skin["nir_depth_mm"]
    double = imaging.nir_metrics(_inputs(dyes_uM={"icg": 2 * dye["icg"]}))
    assert double["nir_tumor_signal_per_cm_max"] == pytest.approx(2 * skin["nir_tumor_signal_per_cm_max"])
    assert skin["nir_best_time_h"] == 24.0
    assert imaging.nir_metrics(_inputs(dyes_uM={"doxorubicin": dye["icg"]})) == {}   # no emission data: no key


def test_photoacoustic_contrast_needs_an_absorber_and_is_one_plus_heat_over_tissue():
    assert imaging.pa_metrics(_inputs()) == {}                   # PLGA absorbs at no tabulated wavelength
    m = imaging.pa_metrics(_inputs(material="gold_nanorod"))
    assert m["pa_tumor_contrast_max"] > 1.0
    # ICG absorbs at 780 nm: the scanner is tuned to the nearest tabulated wavelength, 808 nm; a
    # photosensitiser without a photothermal efficiency (chlorin e6) deposits no heat: no signal
    icg = imaging.pa_metrics(_inputs(dyes_uM={"icg": np.array([0.0, 1.0, 1.0])}))
    assert icg["pa_wavelength_nm"] == 808.0
    assert imaging.pa_metrics(_inputs(dyes_uM={"chlorin_e6": np.array([0.0, 1.0, 1.0])})) == {}
    from nanocloak.model.therapy import photothermal
    mua = photothermal.tissue_optics(m["pa_wavelength_nm"])[0]
    assert m["pa_tumor_contrast_max"] == pytest.approx(1.0 + m["pa_tumor_added_mua_per_cm_max"] / mua)


def test_element_concentration_units():
    # 1 %ID/g of 1 mg Fe3O4 at mass fraction 0.7236: 7.236 ug Fe per g = 0.1296 mM
    assert imaging.element_mM(1.0, 1.0, 0.7236, 55.845) == pytest.approx(7.236e-3 / 55.845 * 1000.0)
    ratio = imaging.tumor_to_muscle(np.array([0.0, 3.0]), np.array([0.0, 1.5]))
    assert math.isnan(ratio[0]) and ratio[1] == 2.0


def test_every_imaging_agent_is_a_library_material_or_drug():
    t = library.table("imaging")
    for mode in ("mri", "ct"):
        for material in t[mode]["agents"]:
            library.entry("materials", material)
    for drug in t["nir_fluorescence"]["dyes"]:
        assert "absorption_peak_nm" in library.entry("drugs", drug)


def test_report_shows_the_imaging_panel_only_with_a_tumor(results):
    from nanocloak.io.report import html_report

    page = html_report(results["iron"], {})
    assert "<h2>Imaging</h2>" in page and "mri_tumor_delta_r2_per_s_max" in page
    assert "<h2>Imaging</h2>" not in html_report(results["plga_no_tumor"], {})


def test_imaging_metrics_flatten_under_their_own_names_for_screens(results):
    from nanocloak.screen.evaluation import flatten_metrics

    flat = flatten_metrics(results["iron"].metrics)
    m = results["iron"].metrics["imaging"]
    assert flat["tumor_to_muscle_max"] == m["tumor_to_muscle_max"]
    assert flat["mri_tumor_delta_r2_per_s_max"] == m["mri_tumor_delta_r2_per_s_max"]
