"""Compare: several designs simulated together (batched), curves overlaid, metrics side by side."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, dcc, html

from .. import backend, figures
from ..sessions import MAX_COMPARE
from ..ui import internal, note, options, table

METRICS = ("hydrodynamic_diameter_nm", "zeta_coated_mV", "blood_pct_id_1h", "blood_pct_id_24h", "blood_t_half_h",
           "blood_auc_pct_id_h", "tumor_pct_id_24h", "tumor_pct_id_per_g_24h", "tumor_pct_id_max", "excreted_pct_id_end",
           "released_pct_24h", "tumor_drug_auc_ug_h_per_g", "heart_drug_auc_ug_h_per_g", "tumor_temperature_max_C",
           "tumor_volume_mm3_end", "tgi_pct")
ORGAN_METRICS = ("liver", "spleen", "lung", "kidney", "heart", "tumor")


def layout() -> html.Div:
    return html.Div([
        html.H2("Compare"),
        html.Div([
            html.Button("Add the current design", id="cmp-add-current", className="btn"),
            dcc.Dropdown(id="cmp-example", options=options(backend.example_designs(), search=backend.example_search),
                         placeholder="an example or published case\u2026", className="wide-select"),
            html.Button("Add example", id="cmp-add-example", className="btn"),
            dcc.Upload(html.Button("Add YAML file\u2026", className="btn"), id="cmp-upload", accept=".yaml,.yml",
                       max_size=backend.CLIENT_MAX_UPLOAD_BYTES),
            html.Button("Clear", id="cmp-clear", className="btn"),
        ], className="toolbar"),
        html.Div(id="cmp-msg", className="msg"),
        html.Div(_listing([]), id="cmp-list"),
        html.Div([
            html.Label("curve"),
            dcc.Dropdown(id="cmp-compartment", options=[{"label": figures.label(c), "value": c} for c in figures.CURVE_COMPARTMENTS],
                         value="blood_sample", clearable=False, className="mid-select"),
            dcc.RadioItems(id="cmp-measure", options=[{"label": "%ID", "value": "pct_id"}, {"label": "%ID/g", "value": "pct_id_per_g"}],
                           value="pct_id", inline=True),
            dcc.RadioItems(id="cmp-scale", options=[{"label": "log", "value": "log"}, {"label": "linear", "value": "linear"}],
                           value="log", inline=True),
        ], className="controls"),
        html.Div(id="cmp-graphs"),
        html.H3("Metrics side by side"),
        html.Div(id="cmp-table", className="scroll"),
    ], className="page")


def names_of(items: list[dict]) -> list[str]:
    return [f"{i + 1}: {it['name']}" for i, it in enumerate(items)]


def _listing(items: list[dict]) -> html.Div | html.Ul:
    if not items:
        return note("No design in the comparison yet: add the current design, an example or a YAML file.")
    return html.Ul([html.Li([html.Span(n, className="cmp-name"),
                             html.Button("remove", id={"type": "cmp-remove", "i": i}, className="btn btn-small")])
                    for i, n in enumerate(names_of(items))], className="cmp-list")


def register(app, state) -> None:
    @app.callback(
        Output("cmp-list", "children"), Output("cmp-msg", "children"), Output("compare-version", "data"),
        Output("design-msg", "children"),
        Input("cmp-add-current", "n_clicks"), Input("design-add-compare", "n_clicks"), Input("cmp-add-example", "n_clicks"),
        Input("cmp-upload", "contents"), Input("cmp-clear", "n_clicks"), Input({"type": "cmp-remove", "i": ALL}, "n_clicks"),
        State("doc", "data"), State("cmp-example", "value"), State("sid", "data"),
        prevent_initial_call=True,
    )
    def edit(_a, _b, _c, upload, _clear, _removes, doc, example, sid):
        cb = dash.callback_context
        trig = cb.triggered_id
        if isinstance(trig, dict) and not cb.triggered[0].get("value"):
            raise dash.exceptions.PreventUpdate          # a remove button just drawn, not clicked
        s = state.store.get(sid)
        design_msg = dash.no_update
        try:
            with s.lock:
                items = list(s.compare)
                if trig in ("cmp-add-current", "design-add-compare", "cmp-add-example", "cmp-upload"):
                    if len(items) >= MAX_COMPARE:
                        raise backend.AppInputError(f"at most {MAX_COMPARE} designs are compared at once: remove one first")
                    if trig == "cmp-add-example":
                        if not example:
                            raise backend.AppInputError("choose an example first")
                        new = backend.example_doc(example)
                    elif trig == "cmp-upload":
                        new = backend.parse_yaml(backend.decode_text(backend.decode_upload(upload, "YAML file"), "YAML file"),
                                                 "uploaded file")
                    else:
                        new = doc
                    f, problems = backend.validate(new)
                    if f is None:
                        raise backend.AppInputError("not added: " + "; ".join(f"{p}: {m}" if p else m for p, m in problems[:3]))
                    items.append({"name": f.name, "doc": new})
                    results = s.compare_results + backend.simulate_many([f])
                elif trig == "cmp-clear":
                    items, results = [], []
                else:
                    i = trig["i"]
                    items.pop(i)
                    results = [r for k, r in enumerate(s.compare_results) if k != i]
                s.compare, s.compare_results = items, results
                s.compare_version += 1
                version = s.compare_version
            msg = f"{len(items)} design(s) in the comparison"
            if trig == "design-add-compare":
                design_msg = html.Span([f"added to the comparison ({len(items)} designs): ", dcc.Link("open Compare", href="/compare")])
            return _listing(items), msg, version, design_msg
        except Exception as exc:  # noqa: BLE001 - user errors as they are, others as internal errors, on the page
            shown = html.Span(str(exc), className="status-bad") if isinstance(exc, backend.user_error_types()) else internal(exc)
            if trig == "design-add-compare":
                return dash.no_update, dash.no_update, dash.no_update, shown
            return dash.no_update, shown, dash.no_update, dash.no_update

    @app.callback(
        Output("cmp-graphs", "children"), Output("cmp-table", "children"),
        Input("compare-version", "data"), Input("cmp-compartment", "value"), Input("cmp-measure", "value"),
        Input("cmp-scale", "value"), State("sid", "data"), prevent_initial_call=True,
    )
    def show(_version, compartment, measure, scale, sid):
        s = state.store.get(sid)
        with s.lock:
            items, results = list(s.compare), list(s.compare_results)
        if not results:
            return note("Add two or more designs to compare them."), None
        names = names_of(items)
        curves = figures.compare_curves(results, names, compartment or "blood_sample", measure or "pct_id", scale != "linear")
        organs = figures.compare_organs(results, names, 24.0 if all(r.t_h[-1] >= 24 for r in results) else float(results[0].t_h[-1]),
                                        measure or "pct_id")
        keys = [k for k in METRICS if any(k in r.metrics for r in results)]
        rows = [[k, backend.metric_unit(k)] + [r.metrics.get(k) for r in results] for k in keys]
        for organ in ORGAN_METRICS:
            vals = [(r.metrics.get("organ_pct_id_24h") or {}).get(organ) for r in results]
            if any(v is not None for v in vals):
                rows.append([f"{organ}_pct_id_24h", "%ID"] + vals)
        graphs = [dcc.Graph(id="fig-compare", figure=curves, config={"displaylogo": False}),
                  dcc.Graph(id="fig-compare-organs", figure=organs, config={"displaylogo": False})]
        return graphs, table(["metric", "unit"] + names, rows, id="cmp-metrics-table")
