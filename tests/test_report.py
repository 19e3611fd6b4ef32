"""The report shows what timecourse.csv and metrics.json say (issue 11): the plotted numbers are the
result's own, every stacked series has its own colour, figures have captions, tables carry units."""

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from nanocloak.io import report
from nanocloak.spec.formulation import load
from nanocloak.simulation.core import simulate

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-6


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """rbc_plga (a growing 4T1 tumor) written with write_outputs; the Figure objects it saved."""
    r = simulate(load(ROOT / "examples" / "rbc_plga.yaml"))
    captured = {}
    original = report.report_figures

    def capture(result):
        captured.update(original(result))
        return captured

    mp = pytest.MonkeyPatch()
    mp.setattr(report, "report_figures", capture)
    try:
        out = report.write_outputs(r, tmp_path_factory.mktemp("report") / "out")
    finally:
        mp.undo()
    tc = pd.read_csv(out / "timecourse.csv")
    series = {name: g.sort_values("t_h") for name, g in tc.groupby("compartment")}
    return r, out, captured, series


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_the_tumor_grows_enough_to_tell_the_masses_apart(written):
    r, _, _, series = written
    tumor = series["tumor"]
    initial = tumor["pct_id"].to_numpy() / r.resolved.formulation.subject.tumor.volume_mm3 * 1000.0
    late = tumor["t_h"].to_numpy() >= 100
    # per gram of the grown tumor differs from per gram of the initial one: the check below can fail
    assert np.all(tumor["pct_id_per_g"].to_numpy()[late] < 0.5 * initial[late])


def test_blood_figure_plots_timecourse_blood_sample(written):
    _, _, figs, series = written
    (line,) = figs["blood.png"].axes[0].get_lines()
    t, y = line.get_data()
    blood = series["blood_sample"]
    keep = (blood["t_h"] > 0) & (blood["pct_id"] > 0)
    np.testing.assert_allclose(t, blood["t_h"][keep], rtol=RTOL)
    np.testing.assert_allclose(y, blood["pct_id"][keep], rtol=RTOL)


def test_tumor_figure_plots_timecourse_pct_id_and_per_gram(written):
    r, _, figs, series = written
    a1, a2 = figs["tumor.png"].axes
    tumor = series["tumor"]
    t, y = _lines(a1)[r.name].get_data()
    np.testing.assert_allclose(t, tumor["t_h"], rtol=RTOL)
    np.testing.assert_allclose(y, tumor["pct_id"], rtol=RTOL)
    t, y = _lines(a2)[r.name].get_data()
    np.testing.assert_allclose(t, tumor["t_h"], rtol=RTOL)
    np.testing.assert_allclose(y, tumor["pct_id_per_g"], rtol=RTOL)


def test_organ_bars_are_timecourse_values(written):
    _, out, figs, series = written
    a1, a2 = figs["organs.png"].axes
    names = [t.get_text() for t in a2.get_xticklabels()]
    assert "tumor" in names
    times = report.BAR_TIMES_H
    per_g = a2.containers
    assert len(per_g) == len(times)
    for bars, t in zip(per_g, times):
        for name, bar in zip(names, bars):
            s = series[name]
            expected = np.interp(t, s["t_h"], s["pct_id_per_g"])
            assert bar.get_height() == pytest.approx(expected, rel=RTOL), (name, t)
    whole = [t.get_text() for t in a1.get_xticklabels()]
    for bars, t in zip(a1.containers, times):
        for name, bar in zip(whole, bars):
            s = series[name]
            assert bar.get_height() == pytest.approx(np.interp(t, s["t_h"], s["pct_id"]), rel=RTOL), (name, t)
    # and metrics.json's 24 h tumor per gram is the same number
    m = json.loads((out / "metrics.json").read_text())
    s = series["tumor"]
    assert m["tumor_pct_id_per_g_24h"] == pytest.approx(np.interp(24.0, s["t_h"], s["pct_id_per_g"]), rel=RTOL)


def test_stacked_mass_balance_colours_are_distinct(written):
    r, _, figs, _ = written
    ax = figs["partition.png"].axes[0]
    polys = ax.collections
    assert len(polys) == len([k for k in report.PARTITION_ORDER if k in r.series]) == 12
    colours = [tuple(np.round(p.get_facecolor()[0], 6)) for p in polys]
    assert len(set(colours)) == len(colours)


def test_a_compartment_has_one_colour_in_every_figure(written):
    _, _, figs, _ = written
    stacked = dict(zip(report.PARTITION_ORDER, (tuple(p.get_facecolor()[0]) for p in figs["partition.png"].axes[0].collections)))
    assert to_rgba(_lines(figs["tumor.png"].axes[0])["RBC-PLGA-DOX"].get_color()) == pytest.approx(stacked["tumor"])
    assert to_rgba(figs["blood.png"].axes[0].get_lines()[0].get_color()) == pytest.approx(stacked["blood"])
    for organ, line in _lines(figs["drug.png"].axes[1]).items():
        assert to_rgba(line.get_color()) == pytest.approx(stacked[organ]), organ


def test_every_figure_has_a_caption_not_a_file_name(written):
    _, out, _, _ = written
    page = (out / "report.html").read_text(encoding="utf-8")
    figures = re.findall(r"<figure>(.*?)</figure>", page, flags=re.S)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(figures) == len(pngs) >= 5
    for fig in figures:
        (caption,) = re.findall(r"<figcaption>(.*?)</figcaption>", fig, flags=re.S)
        caption = html.unescape(caption).strip()
        assert caption not in pngs and not re.fullmatch(r"[\w.-]+\.(png|svg|pdf)", caption)
        assert len(caption.split()) >= 5
        assert re.search(r"%ID|mm3|ug/g|%", caption), caption
    assert "Blood (lab sample, %ID" in page and "after a 5 mg/kg dose" in page


def test_metrics_table_carries_units(written):
    r, out, _, _ = written
    page = (out / "report.html").read_text(encoding="utf-8")
    table = re.search(r"<h2>Metrics</h2><table>(.*?)</table>", page, flags=re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    assert [html.unescape(c) for c in re.findall(r"<th>(.*?)</th>", rows[0])] == ["metric", "value", "unit"]
    units = {}
    for row in rows[1:]:
        name, _, unit = (html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row))
        units[name] = unit
    flat = [k for k, v in r.metrics.items() if not isinstance(v, dict)]
    assert set(units) == set(flat)
    assert all(units.values()), [k for k, u in units.items() if not u]
    expected = {"blood_pct_id_24h": "%ID", "tumor_pct_id_per_g_24h": "%ID/g", "blood_t_half_h": "h",
                "hydrodynamic_diameter_nm": "nm", "zeta_coated_mV": "mV", "tumor_volume_mm3_end": "mm3",
                "tgi_pct": "%", "blood_auc_pct_id_h": "%ID h", "tumor_drug_auc_ug_h_per_g": "ug h/g"}
    assert {k: units[k] for k in expected} == expected
    organs = re.search(r"<h2>Organs at 24 h</h2><table>(.*?)</table>", page, flags=re.S).group(1)
    assert "(%ID)" in organs and "(%ID/g)" in organs


@pytest.mark.parametrize("name, unit", [
    ("tumor_temperature_max_C", "C"), ("thermal_dose_cem43_min", "CEM43 min"), ("days_to_2x_volume", "days"),
    ("tumor_pct_id_168h", "%ID"), ("tumor_pct_id_max", "%ID"), ("released_pct_24h", "% of drug given"),
    ("mass_balance_error", "fraction of dose"), ("tumor_drug_cmax_ug_per_g", "ug/g"), ("singlet_oxygen_dose_mM", "mM"),
])
def test_metric_units(name, unit):
    assert report.metric_unit(name) == unit


def test_names_are_escaped_in_every_html_page(tmp_path):
    """The templates autoescape: a formulation name with markup appears as text, never as a tag."""
    import jinja2

    from nanocloak.io.templates import render
    from nanocloak.lab.fabrication import batch_sheet_html, coating_plan

    f = load(ROOT / "examples" / "rbc_plga.yaml")
    evil = f.model_copy(update={"name": "<script>alert(1)</script>"})
    sheet = batch_sheet_html(evil, coating_plan(evil))
    assert "<script>" not in sheet and "&lt;script&gt;alert(1)&lt;/script&gt;" in sheet
    page = render("comparison.html.j2", table="<b>x</b>", figures=[{"file": "a.png", "caption": "a < b"}])
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "a &lt; b" in page     # plain strings are escaped too
    with pytest.raises(jinja2.exceptions.UndefinedError, match="figures"):
        render("comparison.html.j2", table="")                       # a missing value is an error, not a blank
