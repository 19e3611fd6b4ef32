"""Plotly figures of results, comparisons, screens, lab data and evidence.

Every trace holds the result's own numbers as plain lists (no binary encoding), so what the page
draws is exactly what the API returned: curves come from `result.timecourse` (t_h, compartment,
pct_id, pct_id_per_g), organ bars from the same rows at grid times, drug from `result.payloads`,
temperature and tumor volume from `result.therapy`. Each trace's `meta` names what it shows.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import plotly.graph_objects as go

#: one colour per compartment, as in the package's static report
COLORS = {
    "blood_sample": "#d62728", "blood": "#ff9896", "liver": "#8c564b", "spleen": "#9467bd", "lung": "#17becf",
    "kidney": "#ff7f0e", "heart": "#e377c2", "brain": "#bcbd22", "tumor": "#2ca02c", "rest": "#c7c7c7",
    "excreted_urine": "#ffbb78", "excreted_feces": "#c49c94", "degraded": "#7f7f7f",
}
LABELS = {"blood_sample": "blood (lab sample)", "blood": "blood (vascular pools)", "excreted_urine": "excreted (urine)",
          "excreted_feces": "excreted (feces)"}
ORGANS = ("blood", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "rest")
CURVE_COMPARTMENTS = ("blood_sample", "liver", "spleen", "lung", "kidney", "heart", "brain", "tumor", "rest")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), legend=dict(font=dict(size=11)),
              hovermode="closest")


def label(compartment: str) -> str:
    return LABELS.get(compartment, compartment)


def empty(message: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**LAYOUT, xaxis=dict(visible=False), yaxis=dict(visible=False),
                      annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")] if message else [])
    return fig


def _finite(values) -> list:
    return [float(v) if v is not None and math.isfinite(float(v)) else None for v in values]


def tidy(result) -> dict[str, dict[str, list]]:
    """compartment -> {t_h, pct_id, pct_id_per_g} as lists, from result.timecourse."""
    out: dict[str, dict[str, list]] = {}
    for name, g in result.timecourse.groupby("compartment", sort=False):
        out[str(name)] = {"t_h": g["t_h"].astype(float).tolist(), "pct_id": _finite(g["pct_id"].tolist()),
                          "pct_id_per_g": _finite(g["pct_id_per_g"].tolist())}
    return out


def _yaxis(measure: str, log: bool) -> dict:
    title = "%ID per g" if measure == "pct_id_per_g" else "%ID (percent of one dose)"
    return dict(title=title, type="log" if log else "linear")


def curves(result, compartments: Sequence[str], measure: str = "pct_id", log: bool = True) -> go.Figure:
    """Time courses of the chosen compartments (%ID or %ID/g)."""
    data = tidy(result)
    fig = go.Figure()
    for c in compartments:
        if c not in data:
            continue
        y = data[c][measure]
        if all(v is None for v in y):
            continue
        fig.add_trace(go.Scatter(x=data[c]["t_h"], y=y, mode="lines", name=label(c), meta=c,
                                 line=dict(color=COLORS.get(c), width=2.5 if c in ("blood_sample", "tumor") else 1.8)))
    fig.update_layout(**LAYOUT, title=f"{result.name}: particles in blood and organs",
                      xaxis=dict(title="time after first dose (h)"), yaxis=_yaxis(measure, log))
    return fig


def default_bar_times(t_h: Sequence[float]) -> list[float]:
    end = float(t_h[-1])
    return [t for t in (1.0, 24.0, 168.0) if t <= end + 1e-9] or [end]


def _at(t: list, y: list, when: float):
    for ti, yi in zip(t, y):
        if abs(ti - when) <= 1e-9 * max(1.0, abs(when)):
            return yi
    return None


def organ_bars(result, times: Sequence[float], measure: str = "pct_id", log: bool = False) -> go.Figure:
    """Organs at the chosen output times (values of the time course at those grid times)."""
    data = tidy(result)
    organs = [o for o in ORGANS if o in data and (measure == "pct_id" or any(v is not None for v in data[o][measure]))]
    fig = go.Figure()
    for k, when in enumerate(times):
        ys = [_at(data[o]["t_h"], data[o][measure], when) for o in organs]
        fig.add_trace(go.Bar(x=[label(o) for o in organs], y=ys, name=f"{when:g} h", meta=f"{when:g}",
                             marker_color=PALETTE[k % len(PALETTE)]))
    fig.update_layout(**LAYOUT, barmode="group", title="Organs at chosen times",
                      yaxis=_yaxis(measure, log), xaxis=dict(title=""))
    return fig


def tumor(result) -> go.Figure:
    from plotly.subplots import make_subplots

    data = tidy(result).get("tumor")
    if data is None:
        return empty("no tumor in this design")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("tumor %ID", "tumor %ID/g (grown tumor mass)"))
    fig.add_trace(go.Scatter(x=data["t_h"], y=data["pct_id"], name="%ID", meta="tumor.pct_id",
                             line=dict(color=COLORS["tumor"], width=2.5)), 1, 1)
    fig.add_trace(go.Scatter(x=data["t_h"], y=data["pct_id_per_g"], name="%ID/g", meta="tumor.pct_id_per_g",
                             line=dict(color="#98df8a", width=2.5)), 1, 2)
    fig.update_layout(**LAYOUT, title="Tumor delivery", showlegend=False)
    fig.update_xaxes(title="time after first dose (h)")
    return fig


def drug(result) -> go.Figure:
    """Released drug (% of drug given) and free drug in organs (ug/g), for each payload."""
    from plotly.subplots import make_subplots

    if not result.payloads:
        return empty("no drug payload")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("released from particles (% of drug given)",
                                                        "free (released) drug in organs (ug/g)"))
    for k, (name, p) in enumerate(result.payloads.items()):
        t = [float(v) for v in p.t_h]
        fig.add_trace(go.Scatter(x=t, y=_finite(p.released_pct), name=f"{name} released", meta=f"{name}.released_pct",
                                 line=dict(color=PALETTE[k % len(PALETTE)], width=2.5)), 1, 1)
        for organ in ("tumor", "heart", "liver", "kidney", "spleen"):
            if organ in p.free_ug and p.organ_mass_g.get(organ):
                conc = [float(v) / float(p.organ_mass_g[organ]) for v in p.free_ug[organ]]
                fig.add_trace(go.Scatter(x=t, y=conc, name=f"{name}: {organ}", meta=f"{name}.free_ug_per_g.{organ}",
                                         line=dict(color=COLORS.get(organ), dash="solid" if k == 0 else "dot")), 1, 2)
    fig.update_layout(**LAYOUT, title="Drug")
    fig.update_xaxes(title="time after first dose (h)")
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_yaxes(range=[0, 105], row=1, col=1)
    return fig


def temperature(result) -> go.Figure:
    th = result.therapy
    heating = list(getattr(th, "heating", None) or []) if th is not None else []
    if not heating:
        return empty("no laser in this design")
    fig = go.Figure()
    for k, h in enumerate(heating):
        at = float(h.laser.at_h)
        minutes = [(float(t) - at) * 60.0 for t in h.t_h]
        color = PALETTE[k % len(PALETTE)]
        fig.add_trace(go.Scatter(x=minutes, y=_finite(h.tumor_C), name=f"tumor, laser at {at:g} h", meta=f"laser{k}.tumor_C",
                                 line=dict(color=color, width=2.5)))
        fig.add_trace(go.Scatter(x=minutes, y=_finite(h.skin_C), name=f"skin, laser at {at:g} h", meta=f"laser{k}.skin_C",
                                 line=dict(color=color, dash="dash")))
    fig.add_hline(y=43, line=dict(color="grey", dash="dot"), annotation_text="43 C")
    fig.update_layout(**LAYOUT, title="Temperature during the laser(s)", xaxis=dict(title="minutes from laser on"),
                      yaxis=dict(title="temperature (C)"))
    return fig


def volume(result) -> go.Figure:
    th = result.therapy
    if th is None:
        return empty("no tumor in this design")
    days = [float(t) / 24.0 for t in th.t_h]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=days, y=_finite(th.control_mm3), name="untreated", meta="control_mm3",
                             line=dict(color="grey", width=2)))
    fig.add_trace(go.Scatter(x=days, y=_finite(th.treated_mm3), name=result.name, meta="treated_mm3",
                             line=dict(color=PALETTE[0], width=2.5)))
    tgi = result.metrics.get("tgi_pct")
    fig.update_layout(**LAYOUT, title="Tumor volume, treated vs untreated" + (f" (TGI {tgi:.0f}%)" if tgi is not None else ""),
                      xaxis=dict(title="days after first dose"), yaxis=dict(title="tumor volume (mm3)"))
    return fig


# ---------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------
def compare_curves(results: Sequence, names: Sequence[str], compartment: str, measure: str, log: bool) -> go.Figure:
    fig = go.Figure()
    for k, (r, name) in enumerate(zip(results, names)):
        data = tidy(r).get(compartment)
        if data is None:
            continue
        fig.add_trace(go.Scatter(x=data["t_h"], y=data[measure], name=name, meta=f"{k}:{compartment}",
                                 line=dict(color=PALETTE[k % len(PALETTE)], width=2.2)))
    fig.update_layout(**LAYOUT, title=f"{label(compartment)}: designs overlaid", xaxis=dict(title="time after first dose (h)"),
                      yaxis=_yaxis(measure, log))
    return fig


def compare_organs(results: Sequence, names: Sequence[str], when: float = 24.0, measure: str = "pct_id") -> go.Figure:
    fig = go.Figure()
    for k, (r, name) in enumerate(zip(results, names)):
        data = tidy(r)
        organs = [o for o in ORGANS if o in data]
        fig.add_trace(go.Bar(x=[label(o) for o in organs], y=[_at(data[o]["t_h"], data[o][measure], when) for o in organs],
                             name=name, meta=str(k), marker_color=PALETTE[k % len(PALETTE)]))
    fig.update_layout(**LAYOUT, barmode="group", title=f"Organs at {when:g} h", yaxis=_yaxis(measure, False))
    return fig


# ---------------------------------------------------------------------------------------------
# screen
# ---------------------------------------------------------------------------------------------
def pareto(designs, objectives: Sequence[Sequence[str]], varied: Sequence[str] = ()) -> go.Figure:
    """Objective 1 against objective 2 (or design id): infeasible grey, feasible blue, front red."""
    import pandas as pd

    if designs is None or len(designs) == 0 or not objectives:
        return empty("no designs")
    d = designs[designs["status"] == "ok"] if "status" in designs else designs
    x_col = objectives[0][0]
    y_col = objectives[1][0] if len(objectives) > 1 else None
    fig = go.Figure()
    groups = [("infeasible (a constraint fails)", ~d["feasible"].astype(bool), "#c7c7c7"),
              ("feasible", d["feasible"].astype(bool) & ~d["pareto"].astype(bool), "#1f77b4"),
              ("Pareto front", d["pareto"].astype(bool), "#d62728")]
    hover_cols = [c for c in varied if c in d.columns and not c.endswith("_fraction")][:6]
    for name, mask, color in groups:
        part = d[mask]
        if part.empty:
            continue
        text = ["design " + str(int(i)) + "<br>" + "<br>".join(f"{c} = {_short(part.iloc[j][c])}" for c in hover_cols)
                for j, i in enumerate(part["design_id"])]
        fig.add_trace(go.Scatter(x=_finite(part[x_col].tolist()),
                                 y=_finite(part[y_col].tolist()) if y_col else [int(i) for i in part["design_id"]],
                                 mode="markers", name=name, meta=name, text=text, hoverinfo="text+x+y",
                                 customdata=[int(i) for i in part["design_id"]],
                                 marker=dict(color=color, size=9 if name == "Pareto front" else 7,
                                             line=dict(width=0.5, color="white"))))
    senses = {c: s for c, s in objectives}
    fig.update_layout(**LAYOUT, title="Designs: objectives (front = no design is better in all objectives)",
                      xaxis=dict(title=f"{x_col} ({senses[x_col]})"),
                      yaxis=dict(title=f"{y_col} ({senses[y_col]})" if y_col else "design id"))
    del pd
    return fig


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


# ---------------------------------------------------------------------------------------------
# lab data
# ---------------------------------------------------------------------------------------------
def nca_figure(lab, analyses, log: bool = True) -> go.Figure:
    fig = go.Figure()
    k = 0
    for a in analyses:
        rows = lab.select(a.matrix, a.group or None) if a.group else lab.select(a.matrix)
        column = {"%ID/mL": "conc_per_mL", "%ID/g": "pct_id_per_g", "%ID": "pct_id"}.get(a.conc_unit, "pct_id")
        prefix = f"{a.group}: " if a.group else ""
        for animal, g in rows.groupby("animal", sort=False):
            fig.add_trace(go.Scatter(x=g["time_h"].astype(float).tolist(), y=_finite(g[column].tolist()), mode="markers",
                                     name=f"{prefix}{animal}", meta=f"obs:{a.group}:{animal}", legendgroup=f"obs{a.group}",
                                     marker=dict(size=7, color=PALETTE[k % len(PALETTE)], opacity=0.7)))
            k += 1
        curve = getattr(a.result, "mean_curve", None)
        if curve is not None and len(curve):
            fig.add_trace(go.Scatter(x=curve["time_h"].astype(float).tolist(), y=_finite(curve["mean"].tolist()),
                                     mode="lines+markers", name=f"{prefix}mean", meta=f"mean:{a.group}",
                                     line=dict(color="black", width=2)))
        mean = a.result.mean
        lz = mean.lambda_z_per_h
        if lz is not None and math.isfinite(lz) and math.isfinite(mean.lambda_z_intercept):
            t0, t1 = mean.lambda_z_t_first_h, mean.lambda_z_t_last_h
            ts = [t0 + (t1 - t0) * i / 20 for i in range(21)]
            fig.add_trace(go.Scatter(x=ts, y=[math.exp(mean.lambda_z_intercept - lz * t) for t in ts], mode="lines",
                                     name=f"{prefix}terminal slope (t1/2 {mean.t_half_h:.3g} h)", meta=f"lambda_z:{a.group}",
                                     line=dict(color="#d62728", dash="dash")))
        unit = a.conc_unit
    fig.update_layout(**LAYOUT, title=f"{analyses[0].matrix} ({analyses[0].design} sampling)" if analyses else "",
                      xaxis=dict(title="time (h)"), yaxis=dict(title=unit if analyses else "", type="log" if log else "linear"))
    return fig


def fit_figure(lab, matrix_series: dict, result) -> go.Figure:
    """Observed %ID (lab rows) against the calibrated model's series."""
    fig = go.Figure()
    for k, (matrix, observable) in enumerate(matrix_series.items()):
        rows = lab.select(matrix)
        if rows.empty or observable not in result.series:
            continue
        color = PALETTE[k % len(PALETTE)]
        fig.add_trace(go.Scatter(x=rows["time_h"].astype(float).tolist(), y=_finite(rows["pct_id"].tolist()), mode="markers",
                                 name=f"{matrix} (measured)", meta=f"obs:{matrix}", marker=dict(color=color, size=7)))
        fig.add_trace(go.Scatter(x=[float(t) for t in result.t_h], y=_finite(result.series[observable]), mode="lines",
                                 name=f"{matrix} (calibrated model)", meta=f"model:{matrix}", line=dict(color=color)))
    fig.update_layout(**LAYOUT, title="Calibrated model against the lab data (%ID)", xaxis=dict(title="time (h)"),
                      yaxis=dict(title="%ID", type="log"))
    return fig


# ---------------------------------------------------------------------------------------------
# evidence
# ---------------------------------------------------------------------------------------------
def evidence_scatter(rows: list[dict]) -> go.Figure:
    pts = [r for r in rows if r["usable"] and r["model"] is not None and r["measured"] is not None and r["ratio_scale"]
           and r["measured"] > 0 and r["model"] > 0]
    other = [r for r in rows if r["usable"] and r["model"] is not None and r["measured"] is not None and not r["ratio_scale"]]
    if not pts and not other:
        return empty("no point of this study can be compared with the model")
    fig = go.Figure()
    if pts:
        lo = min(min(r["measured"], r["model"]) for r in pts) / 2
        hi = max(max(r["measured"], r["model"]) for r in pts) * 2
        for factor, name, dash in ((1, "1:1", "solid"), (2, "2-fold", "dot"), (0.5, "", "dot")):
            fig.add_trace(go.Scatter(x=[lo, hi], y=[lo * factor, hi * factor], mode="lines", name=name or "2-fold ",
                                     showlegend=bool(name), line=dict(color="grey", dash=dash, width=1), hoverinfo="skip"))
        by_obs: dict[str, list[dict]] = {}
        for r in pts:
            by_obs.setdefault(r["observable"], []).append(r)
        for k, (obs, rs) in enumerate(by_obs.items()):
            fig.add_trace(go.Scatter(x=[r["measured"] for r in rs], y=[r["model"] for r in rs], mode="markers", name=obs,
                                     meta=obs, text=[f"{r['arm']} {r['organ']} t={r['t_h']} h" for r in rs],
                                     marker=dict(size=10, color=PALETTE[k % len(PALETTE)])))
        fig.update_xaxes(type="log", title="measured")
        fig.update_yaxes(type="log", title="model")
    if other and not pts:
        fig.add_trace(go.Scatter(x=[r["measured"] for r in other], y=[r["model"] for r in other], mode="markers",
                                 name="additive observables", text=[r["observable"] for r in other]))
        fig.update_xaxes(title="measured")
        fig.update_yaxes(title="model")
    fig.update_layout(**LAYOUT, title="Measured against the model")
    return fig


def evidence_arms(arm_results: dict, rows: list[dict]) -> go.Figure:
    if not arm_results:
        return empty("no arm of this study could be simulated")
    fig = go.Figure()
    for k, (arm, r) in enumerate(arm_results.items()):
        color = PALETTE[k % len(PALETTE)]
        fig.add_trace(go.Scatter(x=[float(t) for t in r.t_h], y=_finite(r.series["blood_sample"]), mode="lines",
                                 name=f"{arm}: model blood", meta=f"{arm}:blood", line=dict(color=color)))
        if "tumor" in r.series:
            fig.add_trace(go.Scatter(x=[float(t) for t in r.t_h], y=_finite(r.series["tumor"]), mode="lines",
                                     name=f"{arm}: model tumor", meta=f"{arm}:tumor", line=dict(color=color, dash="dash")))
        measured = [x for x in rows if x["arm"] == arm and x["observable"] in ("blood_pct_id", "tumor_pct_id")
                    and x["t_h"] is not None and x["measured"] is not None]
        if measured:
            fig.add_trace(go.Scatter(x=[x["t_h"] for x in measured], y=[x["measured"] for x in measured], mode="markers",
                                     name=f"{arm}: measured", meta=f"{arm}:measured",
                                     marker=dict(color=color, size=10, symbol=["circle" if x["observable"] == "blood_pct_id"
                                                                              else "diamond" for x in measured])))
    fig.update_layout(**LAYOUT, title="Each arm simulated (lines) with its measured %ID (markers)",
                      xaxis=dict(title="time after first dose (h)"), yaxis=dict(title="%ID", type="log"))
    return fig
