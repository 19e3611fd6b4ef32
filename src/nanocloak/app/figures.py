"""Plotly figures of results, comparisons, screens, lab data and evidence, as plain dicts.

Every trace holds the result's own numbers as plain lists (no binary encoding), so what the page
draws is exactly what the API returned: curves come from `result.timecourse` (t_h, compartment,
pct_id, pct_id_per_g), organ bars from the same rows at grid times, drug from `result.payloads`,
temperature and tumor volume from `result.therapy`. Each trace's `meta` names what it shows.
Dicts, not plotly.graph_objects: building and validating figure objects took most of a results
page's server time (plotly.js draws the same JSON either way).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

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
GRID = "#e5ecf6"
LAYOUT = dict(paper_bgcolor="white", plot_bgcolor="white", margin=dict(l=60, r=20, t=50, b=50),
              legend=dict(font=dict(size=11)), hovermode="closest", font=dict(family="system-ui, sans-serif", size=12))


def label(compartment: str) -> str:
    return LABELS.get(compartment, compartment)


def axis(title: str = "", **kw) -> dict:
    return dict(title=dict(text=title), gridcolor=GRID, zeroline=False, linecolor="#aab", ticks="outside", **kw)


def figure(data: list, title: str = "", **layout) -> dict:
    return {"data": data, "layout": {**LAYOUT, "title": dict(text=title), **layout}}


def line(x, y, name: str, meta: str, color: str | None = None, width: float = 2.0, dash: str = "solid", **kw) -> dict:
    return dict(type="scatter", mode="lines", x=list(x), y=list(y), name=name, meta=meta,
                line=dict(color=color, width=width, dash=dash), **kw)


def markers(x, y, name: str, meta: str, color: str | None = None, size: int = 8, **kw) -> dict:
    marker = dict(color=color, size=size, **kw.pop("marker", {}))
    return dict(type="scatter", mode="markers", x=list(x), y=list(y), name=name, meta=meta, marker=marker, **kw)


def two_panels(left_title: str, right_title: str) -> dict:
    """Layout of two side-by-side subplots (x/y and x2/y2) with their titles."""
    return dict(xaxis=axis(domain=[0, 0.44]), xaxis2=axis(domain=[0.56, 1], anchor="y2"),
                yaxis=axis(anchor="x"), yaxis2=axis(anchor="x2"),
                annotations=[dict(text=t, x=x, y=1.02, xref="paper", yref="paper", showarrow=False, xanchor="center",
                                  yanchor="bottom", font=dict(size=13)) for t, x in ((left_title, 0.22), (right_title, 0.78))])


def empty(message: str = "") -> dict:
    return figure([], xaxis=dict(visible=False), yaxis=dict(visible=False),
                  annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")] if message else [])


def _finite(values) -> list:
    return [float(v) if v is not None and math.isfinite(float(v)) else None for v in values]


def tidy(result) -> dict[str, dict[str, list]]:
    """compartment -> {t_h, pct_id, pct_id_per_g} as lists, from result.timecourse (computed once
    per result: every figure of a page reads it)."""
    cached = getattr(result, "_app_tidy", None)
    if cached is not None:
        return cached
    out: dict[str, dict[str, list]] = {}
    for name, g in result.timecourse.groupby("compartment", sort=False):
        out[str(name)] = {"t_h": g["t_h"].astype(float).tolist(), "pct_id": _finite(g["pct_id"].tolist()),
                          "pct_id_per_g": _finite(g["pct_id_per_g"].tolist())}
    try:
        result._app_tidy = out
    except AttributeError:
        pass
    return out


def _yaxis(measure: str, log: bool, **kw) -> dict:
    title = "%ID per g" if measure == "pct_id_per_g" else "%ID (percent of one dose)"
    return axis(title, type="log" if log else "linear", **kw)


def curves(result, compartments: Sequence[str], measure: str = "pct_id", log: bool = True) -> dict:
    """Time courses of the chosen compartments (%ID or %ID/g)."""
    data = tidy(result)
    traces = []
    for c in compartments:
        if c not in data or all(v is None for v in data[c][measure]):
            continue
        traces.append(line(data[c]["t_h"], data[c][measure], label(c), c, COLORS.get(c),
                           2.5 if c in ("blood_sample", "tumor") else 1.8))
    return figure(traces, f"{result.name}: particles in blood and organs", xaxis=axis("time after first dose (h)"),
                  yaxis=_yaxis(measure, log))


def default_bar_times(t_h: Sequence[float]) -> list[float]:
    end = float(t_h[-1])
    return [t for t in (1.0, 24.0, 168.0) if t <= end + 1e-9] or [end]


def _at(t: list, y: list, when: float):
    for ti, yi in zip(t, y):
        if abs(ti - when) <= 1e-9 * max(1.0, abs(when)):
            return yi
    return None


def organ_bars(result, times: Sequence[float], measure: str = "pct_id", log: bool = False) -> dict:
    """Organs at the chosen output times (values of the time course at those grid times)."""
    data = tidy(result)
    organs = [o for o in ORGANS if o in data and (measure == "pct_id" or any(v is not None for v in data[o][measure]))]
    traces = [dict(type="bar", x=[label(o) for o in organs], y=[_at(data[o]["t_h"], data[o][measure], when) for o in organs],
                   name=f"{when:g} h", meta=f"{when:g}", marker=dict(color=PALETTE[k % len(PALETTE)]))
              for k, when in enumerate(times)]
    return figure(traces, "Organs at chosen times", barmode="group", yaxis=_yaxis(measure, log), xaxis=axis())


def tumor(result) -> dict:
    data = tidy(result).get("tumor")
    if data is None:
        return empty("no tumor in this design")
    layout = two_panels("tumor %ID", "tumor %ID/g (grown tumor mass)")
    layout["xaxis"]["title"] = layout["xaxis2"]["title"] = dict(text="time after first dose (h)")
    traces = [line(data["t_h"], data["pct_id"], "%ID", "tumor.pct_id", COLORS["tumor"], 2.5),
              line(data["t_h"], data["pct_id_per_g"], "%ID/g", "tumor.pct_id_per_g", "#98df8a", 2.5, xaxis="x2", yaxis="y2")]
    return figure(traces, "Tumor delivery", showlegend=False, **layout)


def drug(result) -> dict:
    """Released drug (% of drug given) and free drug in organs (ug/g), for each payload."""
    if not result.payloads:
        return empty("no drug payload")
    traces = []
    for k, (name, p) in enumerate(result.payloads.items()):
        t = [float(v) for v in p.t_h]
        traces.append(line(t, _finite(p.released_pct), f"{name} released", f"{name}.released_pct", PALETTE[k % len(PALETTE)], 2.5))
        for organ in ("tumor", "heart", "liver", "kidney", "spleen"):
            if organ in p.free_ug and p.organ_mass_g.get(organ):
                conc = [float(v) / float(p.organ_mass_g[organ]) for v in p.free_ug[organ]]
                traces.append(line(t, conc, f"{name}: {organ}", f"{name}.free_ug_per_g.{organ}", COLORS.get(organ),
                                   dash="solid" if k == 0 else "dot", xaxis="x2", yaxis="y2"))
    layout = two_panels("released from particles (% of drug given)", "free (released) drug in organs (ug/g)")
    layout["xaxis"]["title"] = layout["xaxis2"]["title"] = dict(text="time after first dose (h)")
    layout["yaxis"]["range"] = [0, 105]
    layout["yaxis2"]["type"] = "log"
    return figure(traces, "Drug", **layout)


def temperature(result) -> dict:
    th = result.therapy
    heating = list(getattr(th, "heating", None) or []) if th is not None else []
    if not heating:
        return empty("no laser in this design")
    traces = []
    for k, h in enumerate(heating):
        at = float(h.laser.at_h)
        minutes = [(float(t) - at) * 60.0 for t in h.t_h]
        color = PALETTE[k % len(PALETTE)]
        traces.append(line(minutes, _finite(h.tumor_C), f"tumor, laser at {at:g} h", f"laser{k}.tumor_C", color, 2.5))
        traces.append(line(minutes, _finite(h.skin_C), f"skin, laser at {at:g} h", f"laser{k}.skin_C", color, dash="dash"))
    return figure(traces, "Temperature during the laser(s)", xaxis=axis("minutes from laser on"), yaxis=axis("temperature (C)"),
                  shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=43, y1=43, line=dict(color="grey", dash="dot"))],
                  annotations=[dict(text="43 C", xref="paper", x=1, y=43, showarrow=False, xanchor="right", yanchor="bottom")])


def volume(result) -> dict:
    th = result.therapy
    if th is None:
        return empty("no tumor in this design")
    days = [float(t) / 24.0 for t in th.t_h]
    tgi = result.metrics.get("tgi_pct")
    traces = [line(days, _finite(th.control_mm3), "untreated", "control_mm3", "grey"),
              line(days, _finite(th.treated_mm3), result.name, "treated_mm3", PALETTE[0], 2.5)]
    return figure(traces, "Tumor volume, treated vs untreated" + (f" (TGI {tgi:.0f}%)" if tgi is not None else ""),
                  xaxis=axis("days after first dose"), yaxis=axis("tumor volume (mm3)"))


# ---------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------
def compare_curves(results: Sequence, names: Sequence[str], compartment: str, measure: str, log: bool) -> dict:
    traces = []
    for k, (r, name) in enumerate(zip(results, names)):
        data = tidy(r).get(compartment)
        if data is not None:
            traces.append(line(data["t_h"], data[measure], name, f"{k}:{compartment}", PALETTE[k % len(PALETTE)], 2.2))
    return figure(traces, f"{label(compartment)}: designs overlaid", xaxis=axis("time after first dose (h)"),
                  yaxis=_yaxis(measure, log))


def compare_organs(results: Sequence, names: Sequence[str], when: float = 24.0, measure: str = "pct_id") -> dict:
    traces = []
    for k, (r, name) in enumerate(zip(results, names)):
        data = tidy(r)
        organs = [o for o in ORGANS if o in data]
        traces.append(dict(type="bar", x=[label(o) for o in organs], y=[_at(data[o]["t_h"], data[o][measure], when) for o in organs],
                           name=name, meta=str(k), marker=dict(color=PALETTE[k % len(PALETTE)])))
    return figure(traces, f"Organs at {when:g} h", barmode="group", yaxis=_yaxis(measure, False), xaxis=axis())


# ---------------------------------------------------------------------------------------------
# screen
# ---------------------------------------------------------------------------------------------
def pareto(designs, objectives: Sequence[Sequence[str]], varied: Sequence[str] = ()) -> dict:
    """Objective 1 against objective 2 (or design id): infeasible grey, feasible blue, front red."""
    if designs is None or len(designs) == 0 or not objectives:
        return empty("no designs")
    d = designs[designs["status"] == "ok"] if "status" in designs else designs
    x_col = objectives[0][0]
    y_col = objectives[1][0] if len(objectives) > 1 else None
    groups = [("infeasible (a constraint fails)", ~d["feasible"].astype(bool), "#c7c7c7"),
              ("feasible", d["feasible"].astype(bool) & ~d["pareto"].astype(bool), "#1f77b4"),
              ("Pareto front", d["pareto"].astype(bool), "#d62728")]
    hover_cols = [c for c in varied if c in d.columns and not c.endswith("_fraction")][:6]
    traces = []
    for name, mask, color in groups:
        part = d[mask]
        if part.empty:
            continue
        ids = [int(i) for i in part["design_id"]]
        text = ["design " + str(i) + "<br>" + "<br>".join(f"{c} = {_short(part.iloc[j][c])}" for c in hover_cols)
                for j, i in enumerate(ids)]
        traces.append(markers(_finite(part[x_col].tolist()), _finite(part[y_col].tolist()) if y_col else ids, name, name, color,
                              10 if name == "Pareto front" else 7, text=text, customdata=ids,
                              marker=dict(line=dict(width=0.5, color="white"))))
    senses = {c: s for c, s in objectives}
    return figure(traces, "Designs: objectives (front = no design is better in all objectives)",
                  xaxis=axis(f"{x_col} ({senses[x_col]})"), yaxis=axis(f"{y_col} ({senses[y_col]})" if y_col else "design id"))


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


# ---------------------------------------------------------------------------------------------
# lab data
# ---------------------------------------------------------------------------------------------
def nca_figure(lab, analyses, log: bool = True) -> dict:
    traces = []
    k = 0
    unit = ""
    for a in analyses:
        rows = lab.select(a.matrix, a.group) if a.group else lab.select(a.matrix)
        column = {"%ID/mL": "conc_per_mL", "%ID/g": "pct_id_per_g", "%ID": "pct_id"}.get(a.conc_unit, "pct_id")
        prefix = f"{a.group}: " if a.group else ""
        for animal, g in rows.groupby("animal", sort=False):
            traces.append(markers(g["time_h"].astype(float).tolist(), _finite(g[column].tolist()), f"{prefix}{animal}",
                                  f"obs:{a.group}:{animal}", PALETTE[k % len(PALETTE)], 7, opacity=0.75,
                                  legendgroup=f"obs{a.group}"))
            k += 1
        curve = getattr(a.result, "mean_curve", None)
        if curve is not None and len(curve):
            traces.append(dict(line(curve["time_h"].astype(float).tolist(), _finite(curve["mean"].tolist()), f"{prefix}mean",
                                    f"mean:{a.group}", "black", 2), mode="lines+markers"))
        mean = a.result.mean
        lz = mean.lambda_z_per_h
        if lz is not None and math.isfinite(lz) and math.isfinite(mean.lambda_z_intercept):
            t0, t1 = mean.lambda_z_t_first_h, mean.lambda_z_t_last_h
            ts = [t0 + (t1 - t0) * i / 20 for i in range(21)]
            traces.append(line(ts, [math.exp(mean.lambda_z_intercept - lz * t) for t in ts],
                               f"{prefix}terminal slope (t1/2 {mean.t_half_h:.3g} h)", f"lambda_z:{a.group}", "#d62728",
                               dash="dash"))
        unit = a.conc_unit
    title = f"{analyses[0].matrix} ({analyses[0].design} sampling)" if analyses else ""
    return figure(traces, title, xaxis=axis("time (h)"), yaxis=axis(unit, type="log" if log else "linear"))


def fit_figure(lab, matrix_series: dict, result) -> dict:
    """Observed %ID (lab rows) against the calibrated model's series."""
    traces = []
    for k, (matrix, observable) in enumerate(matrix_series.items()):
        rows = lab.select(matrix)
        if rows.empty or observable not in result.series:
            continue
        color = PALETTE[k % len(PALETTE)]
        traces.append(markers(rows["time_h"].astype(float).tolist(), _finite(rows["pct_id"].tolist()), f"{matrix} (measured)",
                              f"obs:{matrix}", color, 7))
        traces.append(line([float(t) for t in result.t_h], _finite(result.series[observable]), f"{matrix} (calibrated model)",
                           f"model:{matrix}", color))
    return figure(traces, "Calibrated model against the lab data (%ID)", xaxis=axis("time (h)"), yaxis=axis("%ID", type="log"))


# ---------------------------------------------------------------------------------------------
# evidence
# ---------------------------------------------------------------------------------------------
def evidence_scatter(rows: list[dict]) -> dict:
    pts = [r for r in rows if r["usable"] and r["model"] is not None and r["measured"] is not None and r["ratio_scale"]
           and r["measured"] > 0 and r["model"] > 0]
    other = [r for r in rows if r["usable"] and r["model"] is not None and r["measured"] is not None and not r["ratio_scale"]]
    if not pts and not other:
        return empty("no point of this study can be compared with the model")
    traces = []
    if pts:
        lo = min(min(r["measured"], r["model"]) for r in pts) / 2
        hi = max(max(r["measured"], r["model"]) for r in pts) * 2
        for factor, name, dash in ((1, "1:1", "solid"), (2, "2-fold", "dot"), (0.5, "", "dot")):
            traces.append(line([lo, hi], [lo * factor, hi * factor], name or "2-fold", f"ref{factor}", "grey", 1, dash,
                               showlegend=bool(name), hoverinfo="skip"))
        by_obs: dict[str, list[dict]] = {}
        for r in pts:
            by_obs.setdefault(r["observable"], []).append(r)
        for k, (obs, rs) in enumerate(by_obs.items()):
            traces.append(markers([r["measured"] for r in rs], [r["model"] for r in rs], obs, obs, PALETTE[k % len(PALETTE)], 10,
                                  text=[f"{r['arm']} {r['organ']} t={r['t_h']} h" for r in rs]))
        return figure(traces, "Measured against the model", xaxis=axis("measured", type="log"), yaxis=axis("model", type="log"))
    traces.append(markers([r["measured"] for r in other], [r["model"] for r in other], "additive observables", "additive",
                          text=[r["observable"] for r in other]))
    return figure(traces, "Measured against the model", xaxis=axis("measured"), yaxis=axis("model"))


def evidence_arms(arm_results: dict, rows: list[dict]) -> dict:
    if not arm_results:
        return empty("no arm of this study could be simulated")
    traces = []
    for k, (arm, r) in enumerate(arm_results.items()):
        color = PALETTE[k % len(PALETTE)]
        t = [float(x) for x in r.t_h]
        traces.append(line(t, _finite(r.series["blood_sample"]), f"{arm}: model blood", f"{arm}:blood", color))
        if "tumor" in r.series:
            traces.append(line(t, _finite(r.series["tumor"]), f"{arm}: model tumor", f"{arm}:tumor", color, dash="dash"))
        measured = [x for x in rows if x["arm"] == arm and x["observable"] in ("blood_pct_id", "tumor_pct_id")
                    and x["t_h"] is not None and x["measured"] is not None]
        if measured:
            traces.append(markers([x["t_h"] for x in measured], [x["measured"] for x in measured], f"{arm}: measured",
                                  f"{arm}:measured", color, 10,
                                  marker=dict(symbol=["circle" if x["observable"] == "blood_pct_id" else "diamond"
                                                      for x in measured])))
    return figure(traces, "Each arm simulated (lines) with its measured %ID (markers)", xaxis=axis("time after first dose (h)"),
                  yaxis=axis("%ID", type="log"))
