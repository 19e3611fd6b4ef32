"""Results: curves (%ID, %ID/g; log/linear), organ bars at chosen times, released drug,
temperature under lasers, tumor volume treated vs untreated, metrics, the parameter table with
sources, and downloads (report zip and HTML, CSV, JSON, the formulation)."""

from __future__ import annotations

import dash
from dash import Input, Output, State, dcc, html

from .. import backend, figures
from ..ui import hidden, note, table

GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "toImageButtonOptions": {"format": "svg"}}
MAX_PARAMETER_ROWS = 400


def _graph(id_: str) -> html.Div:
    """A box the figure is drawn into when there is one (no empty plotly graphs at page load)."""
    return html.Div(id=f"{id_}-box", className="graph-box", style={"display": "none"})


def graph(id_: str, fig) -> dcc.Graph:
    return dcc.Graph(id=id_, figure=fig, config=GRAPH_CONFIG)


def layout() -> html.Div:
    return html.Div([
        html.H2("Results"),
        html.Div(note("Simulate a design on the Design page to see its results here."), id="res-empty"),
        html.Div([
            html.Div(id="res-header"),
            html.Div(id="res-stale"),
            html.Div([
                html.Span("downloads: ", className="muted"),
                html.Button("Report (zip)", id="res-dl-zip-btn", className="btn"),
                html.Button("Report (HTML)", id="res-dl-html-btn", className="btn"),
                html.Button("Time course (CSV)", id="res-dl-csv-btn", className="btn"),
                html.Button("Result (JSON)", id="res-dl-json-btn", className="btn"),
                html.Button("Formulation (YAML)", id="res-dl-yaml-btn", className="btn"),
                dcc.Download(id="res-dl-zip"), dcc.Download(id="res-dl-html"), dcc.Download(id="res-dl-csv"),
                dcc.Download(id="res-dl-json"), dcc.Download(id="res-dl-yaml"),
            ], className="toolbar"),
            html.Div([
                html.Label("show"),
                dcc.RadioItems(id="res-measure", options=[{"label": "%ID", "value": "pct_id"},
                                                          {"label": "%ID/g", "value": "pct_id_per_g"}],
                               value="pct_id", inline=True),
                html.Label("axis"),
                dcc.RadioItems(id="res-scale", options=[{"label": "log", "value": "log"}, {"label": "linear", "value": "linear"}],
                               value="log", inline=True),
            ], className="controls"),
            dcc.Checklist(id="res-compartments",
                          options=[{"label": figures.label(c), "value": c} for c in figures.CURVE_COMPARTMENTS],
                          value=list(figures.CURVE_COMPARTMENTS), inline=True, className="checks"),
            _graph("fig-curves"),
            html.Div([html.Label("organ bars at (h)"),
                      dcc.Dropdown(id="res-bar-times", multi=True, options=[], value=[], className="wide-select")],
                     className="controls"),
            _graph("fig-organs"),
            _graph("fig-tumor"),
            _graph("fig-drug"),
            _graph("fig-temperature"),
            _graph("fig-volume"),
            html.H3("Metrics"),
            html.Div(id="res-metrics"),
            html.H3("Parameters (every value with its source)"),
            dcc.Input(id="res-param-filter", type="text", placeholder="filter by name or source\u2026", debounce=True,
                      className="finput"),
            html.Div(id="res-parameters", className="scroll"),
        ], id="res-body", style={"display": "none"}),
    ], className="page")


def _metrics_table(r) -> html.Div:
    rows = [(k, v, backend.metric_unit(k)) for k, v in r.metrics.items() if not isinstance(v, dict)]
    organs = r.metrics.get("organ_pct_id_24h", {}) or {}
    per_g = r.metrics.get("organ_pct_id_per_g_24h", {}) or {}
    organ_rows = [(o, organs.get(o), per_g.get(o)) for o in organs]
    return html.Div([
        table(["metric", "value", "unit"], rows, id="res-metrics-table"),
        table(["organ", "at 24 h (%ID)", "at 24 h (%ID/g)"], organ_rows, id="res-organs-table") if organ_rows else None,
    ], className="two-tables")


def _parameters(r, query: str | None) -> html.Table:
    df = backend.parameter_table(r)
    cols = [c for c in ("name", "value", "unit", "source", "description") if c in df.columns]
    df = df[cols]
    if query:
        q = query.strip().lower()
        mask = df.apply(lambda row: q in " ".join(str(v).lower() for v in row.values), axis=1)
        df = df[mask]
    rows = [[r_[c] for c in cols] for _, r_ in df.head(MAX_PARAMETER_ROWS).iterrows()]
    return table(cols, rows, id="res-parameter-table")


def register(app, state) -> None:
    @app.callback(
        Output("res-empty", "style"), Output("res-body", "style"), Output("res-header", "children"),
        Output("fig-curves-box", "children"), Output("fig-curves-box", "style"),
        Output("fig-organs-box", "children"), Output("fig-organs-box", "style"),
        Output("fig-tumor-box", "children"), Output("fig-tumor-box", "style"),
        Output("fig-drug-box", "children"), Output("fig-drug-box", "style"),
        Output("fig-temperature-box", "children"), Output("fig-temperature-box", "style"),
        Output("fig-volume-box", "children"), Output("fig-volume-box", "style"),
        Output("res-bar-times", "options"), Output("res-bar-times", "value"), Output("res-metrics", "children"),
        Input("result-version", "data"), Input("res-measure", "value"), Input("res-scale", "value"),
        Input("res-compartments", "value"), Input("res-bar-times", "value"), State("sid", "data"),
        prevent_initial_call=True,
    )
    def show(version, measure, scale, compartments, bar_times, sid):
        s = state.store.get(sid)
        r = s.result
        if r is None:
            return ({}, {"display": "none"}, None) + (dash.no_update,) * 12 + ([], [], None)
        log = scale != "linear"
        trig = dash.callback_context.triggered_id
        times = [float(t) for t in r.t_h]
        if trig == "result-version" or not bar_times:
            bar_times = figures.default_bar_times(times)
        options = [{"label": f"{t:g} h", "value": t} for t in times]
        has_tumor = "tumor" in r.series
        heating = bool(r.therapy is not None and getattr(r.therapy, "heating", None))
        header = html.Div([
            html.H3(r.name, id="res-name"),
            html.Ul([html.Li(t) for t in backend.summary_text(r)], className="summary"),
        ])
        return (
            {"display": "none"}, {}, header,
            graph("fig-curves", figures.curves(r, compartments or [], measure, log)), {},
            graph("fig-organs", figures.organ_bars(r, bar_times, measure)), {},
            graph("fig-tumor", figures.tumor(r)) if has_tumor else None, hidden(has_tumor),
            graph("fig-drug", figures.drug(r)) if r.payloads else None, hidden(bool(r.payloads)),
            graph("fig-temperature", figures.temperature(r)) if heating else None, hidden(heating),
            graph("fig-volume", figures.volume(r)) if r.therapy is not None else None, hidden(r.therapy is not None),
            options, bar_times, _metrics_table(r),
        )

    @app.callback(Output("res-parameters", "children"), Input("result-version", "data"),
                  Input("res-param-filter", "value"), State("sid", "data"), prevent_initial_call=True)
    def parameters(_version, query, sid):
        r = state.store.get(sid).result
        return None if r is None else _parameters(r, query)

    def _download(button: str, target: str, make):
        @app.callback(Output(target, "data"), Input(button, "n_clicks"), State("sid", "data"), prevent_initial_call=True)
        def download(_n, sid):
            s = state.store.get(sid)
            if s.result is None:
                raise dash.exceptions.PreventUpdate
            return make(s)

        return download

    _download("res-dl-zip-btn", "res-dl-zip",
              lambda s: dcc.send_bytes(backend.report_zip(s.result, s.folder), backend.safe_filename(s.result.name, "_report.zip")))
    _download("res-dl-html-btn", "res-dl-html",
              lambda s: dcc.send_string(backend.report_html(s.result, s.folder), backend.safe_filename(s.result.name, "_report.html")))
    _download("res-dl-csv-btn", "res-dl-csv",
              lambda s: dcc.send_string(backend.timecourse_csv(s.result), backend.safe_filename(s.result.name, "_timecourse.csv")))
    _download("res-dl-json-btn", "res-dl-json",
              lambda s: dcc.send_string(backend.result_json(s.result), backend.safe_filename(s.result.name, ".json")))
    _download("res-dl-yaml-btn", "res-dl-yaml",
              lambda s: dcc.send_string(backend.dump_yaml(s.result_doc), backend.safe_filename(s.result.name, ".yaml")))

    @app.callback(Output("res-stale", "children"), Input("url", "pathname"), Input("result-version", "data"),
                  State("doc", "data"), State("sid", "data"), prevent_initial_call=True)
    def stale(path, _version, doc, sid):
        if path != "/results":
            raise dash.exceptions.PreventUpdate
        s = state.store.get(sid)
        if s.result is None or s.result_doc == doc:
            return None
        return note("The design on the Design page has changed since this result: press Simulate there to update it.", "warn")
