"""Notebook-native results: HTML views, plot(), simulate_many's collection and its tables."""

import sys

import numpy as np
import pytest

import nanocloak
from nanocloak.errors import MissingExtraError, NanocloakError
from nanocloak.spec.formulation import from_dict

from conftest import ROOT, make

TUMOR = {"species": "mouse", "body_weight_g": 20, "tumor": {"line": "4T1", "volume_mm3": 100}}


@pytest.fixture(scope="module")
def pair():
    """A tumor-bearing design to 168 h and a tumor-free one to 48 h: different grids and compartments."""
    a = from_dict(make(subject=TUMOR, name="with tumor"))
    b = from_dict(make(surface={"kind": "peg"}, end_h=48.0, name="no tumor"))
    return a, b, nanocloak.simulate_many([a, b])


def test_formulation_html_shows_the_design_and_escapes_names():
    f = from_dict(make(name="<script>x</script>", surface={"kind": "peg", "peg": {"mw_kDa": 5}}))
    html = f._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "70 nm" in html and "PEG 5 kDa" in html and "5 mg/kg" in html
    assert "<details>" in html and "mw_kDa: 5" in html          # the YAML, folded


def test_result_html_has_the_metrics_and_an_inline_svg(pair):
    r = pair[2][0]
    html = r._repr_html_()
    assert "<svg" in html and "<?xml" not in html
    assert f"{r.metrics['blood_t_half_h']:.4g}" in html
    assert f"{r.metrics['tumor_pct_id_24h']:.4g}" in html
    assert len(html) < 200_000                                   # a small figure, not a page


def test_plot_draws_the_timecourse(pair):
    r = pair[2][0]
    ax = r.plot(["blood_sample", "liver"])
    assert ax.figure is not None and ax.get_yscale() == "log"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"blood_sample", "liver"}
    tc = r.timecourse
    liver = tc[(tc["compartment"] == "liver") & (tc["pct_id"] > 0)]
    np.testing.assert_array_equal(lines["liver"].get_xdata(), liver["t_h"].to_numpy())
    np.testing.assert_array_equal(lines["liver"].get_ydata(), liver["pct_id"].to_numpy())
    linear = r.plot("tumor", per_g=True, log=False)
    tumor = tc[tc["compartment"] == "tumor"]
    np.testing.assert_allclose(linear.get_lines()[0].get_ydata(), tumor["pct_id_per_g"].to_numpy())
    import matplotlib.pyplot as plt

    plt.close("all")


def test_plot_names_an_unknown_compartment(pair):
    with pytest.raises(NanocloakError, match="'tumor' is not in this result"):
        pair[2][1].plot("tumor")                                   # the second design has no tumor


def test_simulate_many_returns_a_list_equal_to_single_runs(pair):
    a, b, rs = pair
    assert isinstance(rs, list) and len(rs) == 2
    for f, r in zip((a, b), rs):
        one = nanocloak.simulate(f)
        np.testing.assert_allclose(r.series["liver"], one.series["liver"], rtol=1e-12)
    assert nanocloak.simulate_many([]) == [] and hasattr(nanocloak.simulate_many([]), "to_frame")


def test_to_frame_equals_each_timecourse(pair):
    _, _, rs = pair
    frame = rs.to_frame()
    assert list(frame.columns) == ["design", "compartment", "t_h", "pct_id", "pct_id_per_g"]
    assert list(dict.fromkeys(frame["design"])) == ["with tumor", "no tumor"]
    for label, r in zip(rs.designs, rs):
        mine = frame[frame["design"] == label].drop(columns="design").reset_index(drop=True)
        tc = r.timecourse[["compartment", "t_h", "pct_id", "pct_id_per_g"]]
        assert mine.equals(tc)
    assert "tumor" not in set(frame[frame["design"] == "no tumor"]["compartment"])


def test_to_xarray_has_design_compartment_time(pair):
    _, _, rs = pair
    ds = rs.to_xarray()
    assert ds["pct_id"].dims == ("design", "compartment", "t_h")
    assert list(ds["design"].values) == ["with tumor", "no tumor"]
    times = np.union1d(rs[0].t_h, rs[1].t_h)
    np.testing.assert_array_equal(ds["t_h"].values, times)
    assert ds["pct_id"].shape == (2, ds.sizes["compartment"], len(times))
    liver = ds["pct_id"].sel(design="with tumor", compartment="liver").sel(t_h=rs[0].t_h)
    np.testing.assert_array_equal(liver.values, rs[0].series["liver"])
    # no interpolation: the 48 h design is NaN after 48 h and has no tumor at all
    late = ds["pct_id"].sel(design="no tumor", compartment="liver").where(ds["t_h"] > 48.0, drop=True)
    assert late.size > 0 and bool(np.isnan(late).all())
    assert bool(np.isnan(ds["pct_id"].sel(design="no tumor", compartment="tumor")).all())
    # the partition of the 168 h design still holds one dose at every time
    parts = ["blood", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "rest",
             "excreted_urine", "excreted_feces", "degraded"]
    total = ds["pct_id"].sel(design="with tumor", compartment=parts).sel(t_h=rs[0].t_h[1:]).sum("compartment")
    np.testing.assert_allclose(total.values, 100.0, atol=0.05)


def test_to_xarray_without_xarray_names_the_extra(pair, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)             # import xarray now raises ImportError
    with pytest.raises(MissingExtraError, match=r"nanocloak\[notebook\]"):
        pair[2].to_xarray()


def test_repeated_names_get_distinct_design_labels():
    f = nanocloak.load(ROOT / "examples" / "bare_plga.yaml")
    rs = nanocloak.simulate_many([f, f])
    assert rs.designs == [f.name, f"{f.name} #2"]
    assert rs.to_xarray().sizes["design"] == 2
    html = rs._repr_html_()
    assert html.count("<svg") == 1 and f"{f.name} #2" in html


def test_formulation_html_lists_each_dose_of_an_unequal_schedule():
    f = from_dict(make(dose={"schedule": [{"at_h": 0, "mg_per_kg": 5}, {"at_h": 24, "mg_per_kg": 2}]}))
    html = f._repr_html_()
    assert "5 mg/kg at 0 h, 2 mg/kg at 24 h" in html
