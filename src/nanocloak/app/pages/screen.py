"""Screen: a small design space simulated in a worker process, with progress and a Pareto scatter;
bigger spaces are handed to the CLI (`nanocloak screen run SPACE --out DIR`, Dask)."""

from __future__ import annotations

import dash
from dash import Input, Output, State, dcc, html

from .. import backend, figures
from ..ui import internal, note, progress, table

POLL_MS = 700


def layout() -> html.Div:
    spaces = backend.example_spaces()
    return html.Div([
        html.H2("Screen"),
        html.Div(["A design space: what varies around a base formulation, how it is sampled, what to maximise or "
                  "minimise (docs/screening.md). ", html.Code("base: current"), " is the design on the Design page. "
                  f"Up to {backend.MAX_APP_DESIGNS} designs run here, in a worker process; larger screens run with the "
                  "command line (below), on every core or a Dask cluster."], className="fhelp"),
        html.Div([
            dcc.Dropdown(id="scr-example", options=[{"label": lab, "value": key} for key, lab in spaces],
                         placeholder="an example space\u2026", className="wide-select"),
            html.Button("Load", id="scr-load", className="btn"),
        ], className="toolbar"),
        dcc.Textarea(id="scr-space", value=backend.DEFAULT_SPACE_TEXT, spellCheck=False, className="yaml yaml-short"),
        html.Div([
            html.Button("Check", id="scr-check", className="btn"),
            html.Button("Run screen", id="scr-run", className="btn btn-primary"),
            html.Button("Cancel", id="scr-cancel", className="btn"),
            html.Button("Download space (YAML)", id="scr-dl-btn", className="btn"),
            dcc.Download(id="scr-dl"),
        ], className="toolbar"),
        html.Div(id="scr-msg", className="msg"),
        html.Div(id="scr-progress"),
        dcc.Interval(id="scr-poll", interval=POLL_MS, disabled=True),
        html.Div([html.Span("the same screen on the command line (any size, every core, or a Dask cluster):"),
                  html.Pre(backend.SCREEN_COMMAND, id="scr-cli")], className="cli"),
        html.Div(id="scr-graph"),
        html.Div([html.Label("open design"),
                  dcc.Dropdown(id="scr-pick", options=[], placeholder="a top design\u2026", className="mid-select"),
                  html.Button("Open in Design", id="scr-open", className="btn")], className="controls"),
        html.H3("Top designs"),
        html.Div(id="scr-top", className="scroll"),
    ], className="page")


def _cli(doc: dict) -> str:
    n = (doc.get("sampling") or {}).get("n")
    extra = f"  # {n} samples; more with --samples N" if n else ""
    return f"nanocloak screen run space.yaml --out screen_out{extra}"


def _register_load(app, state) -> None:
    @app.callback(Output("scr-space", "value"), Output("scr-msg", "children", allow_duplicate=True),
                  Input("scr-load", "n_clicks"), State("scr-example", "value"), prevent_initial_call=True)
    def load(_n, name):
        if not name:
            raise dash.exceptions.PreventUpdate
        try:
            return backend.example_space_text(name), ""
        except backend.user_error_types() as exc:
            return dash.no_update, note(str(exc), "error")


def _space(text, doc, s):
    space = backend.space_doc(text or "", doc)
    info = backend.check_space(space, s.folder)
    return space, info


def _register_check(app, state) -> None:
    @app.callback(Output("scr-msg", "children", allow_duplicate=True), Output("scr-cli", "children"),
                  Input("scr-check", "n_clicks"), State("scr-space", "value"), State("doc", "data"), State("sid", "data"),
                  prevent_initial_call=True)
    def check(_n, text, doc, sid):
        s = state.store.get(sid)
        try:
            space, info = _space(text, doc, s)
        except backend.user_error_types() as exc:
            return note(str(exc), "error"), dash.no_update
        except Exception as exc:  # noqa: BLE001 - shown on the page
            return internal(exc), dash.no_update
        size = info["n"]
        where = ("runs here" if size <= backend.MAX_APP_DESIGNS else
                 f"more than {backend.MAX_APP_DESIGNS}: run it with the command line")
        return note(f"{size} designs varying {', '.join(info['fields'])} ({where})."), _cli(space)


def _register_run(app, state) -> None:
    @app.callback(Output("scr-msg", "children", allow_duplicate=True), Output("scr-poll", "disabled"),
                  Output("scr-cli", "children", allow_duplicate=True),
                  Input("scr-run", "n_clicks"), State("scr-space", "value"), State("doc", "data"), State("sid", "data"),
                  prevent_initial_call=True)
    def run(_n, text, doc, sid):
        s = state.store.get(sid)
        try:
            space, info = _space(text, doc, s)
            if info["n"] > backend.MAX_APP_DESIGNS:
                raise backend.AppInputError(
                    f"{info['n']} designs: the app runs at most {backend.MAX_APP_DESIGNS}. Download the space and run "
                    f"`{backend.SCREEN_COMMAND}` (every core, or a Dask cluster with --scheduler).")
            job = state.jobs.submit(s.id, "screen", {"space": space})
        except backend.user_error_types() as exc:
            return note(str(exc), "error"), True, dash.no_update
        except RuntimeError as exc:
            return note(str(exc), "warn"), dash.no_update, dash.no_update
        except Exception as exc:  # noqa: BLE001 - shown on the page
            return internal(exc), True, dash.no_update
        with s.lock:
            s.jobs["screen"] = job
            s.data["screen_space"] = space
        return note(f"screen of {info['n']} designs started"), False, _cli(space)


def _register_cancel(app, state) -> None:
    @app.callback(Output("scr-msg", "children", allow_duplicate=True), Input("scr-cancel", "n_clicks"), State("sid", "data"),
                  prevent_initial_call=True)
    def cancel(_n, sid):
        s = state.store.get(sid)
        job = s.jobs.get("screen")
        if job and state.jobs.cancel(job, s.id):
            return note("screen cancelled", "warn")
        return note("no screen is running")


def _register_poll(app, state) -> None:
    @app.callback(Output("scr-progress", "children"), Output("scr-poll", "disabled", allow_duplicate=True),
                  Output("scr-graph", "children"), Output("scr-top", "children"), Output("scr-pick", "options"),
                  Input("scr-poll", "n_intervals"), State("sid", "data"), prevent_initial_call=True)
    def poll(_n, sid):
        s = state.store.get(sid)
        job = s.jobs.get("screen")
        st = state.jobs.status(job, s.id) if job else None
        if st is None:
            return None, True, dash.no_update, dash.no_update, dash.no_update
        state_text = {"queued": "waiting", "running": "running", "done": "finished", "failed": "failed",
                      "cancelled": "cancelled"}[st["state"]]
        text = f"{state_text}: {st['done']} / {st['total']} designs, {st['elapsed_s']:.0f} s"
        bar = html.Div([progress(st["done"], st["total"], text)], id="scr-state", **{"data-state": st["state"]})
        if st["state"] in ("queued", "running"):
            return bar, False, dash.no_update, dash.no_update, dash.no_update
        if st["state"] != "done":
            return html.Div([bar, note(st.get("error", state_text), "error")]), True, dash.no_update, dash.no_update, dash.no_update
        import pandas as pd

        meta = state.jobs.result(job, s.id) or {}
        folder = state.jobs.folder(job, s.id)
        designs = pd.read_csv(folder / "designs.csv")
        fig = figures.pareto(designs, meta.get("objectives", []), meta.get("varied", []))
        top_ids = meta.get("top_ids", [])
        top = designs.set_index("design_id").loc[[i for i in top_ids if i in set(designs["design_id"])]].reset_index()
        cols = ["design_id"] + [c for c in meta.get("varied", []) if c in top.columns] + \
               [c for c, _ in meta.get("objectives", [])] + [c for c, _, _ in meta.get("constraints", []) if c in top.columns]
        cols = list(dict.fromkeys(cols))
        failed = meta.get("n_failed", 0)
        summary = note(f"{meta.get('n_designs', len(designs))} designs simulated, {failed} failed, "
                       f"{int(designs['pareto'].sum()) if 'pareto' in designs else 0} on the Pareto front.")
        return (html.Div([bar, summary]), True, dcc.Graph(id="fig-pareto", figure=fig, config={"displaylogo": False}),
                table(cols, [[r[c] for c in cols] for _, r in top.iterrows()], id="scr-top-table"),
                [{"label": f"design {i}", "value": int(i)} for i in top_ids])


def _register_open_design(app, state) -> None:
    @app.callback(Output("design-open", "data", allow_duplicate=True), Output("url", "pathname", allow_duplicate=True),
                  Output("scr-msg", "children", allow_duplicate=True),
                  Input("scr-open", "n_clicks"), State("scr-pick", "value"), State("sid", "data"), prevent_initial_call=True)
    def open_design(n, design_id, sid):
        s = state.store.get(sid)
        space = s.data.get("screen_space")
        if design_id is None or space is None:
            raise dash.exceptions.PreventUpdate
        try:
            text = backend.top_design_yaml(space, int(design_id), s.folder)
        except backend.user_error_types() as exc:
            return dash.no_update, dash.no_update, note(str(exc), "error")
        return {"yaml": text, "nonce": n}, "/design", ""


def _register_download(app, state) -> None:
    @app.callback(Output("scr-dl", "data"), Output("scr-msg", "children", allow_duplicate=True),
                  Input("scr-dl-btn", "n_clicks"), State("scr-space", "value"), State("doc", "data"), prevent_initial_call=True)
    def download(_n, text, doc):
        try:
            space = backend.space_doc(text or "", doc)
        except backend.user_error_types() as exc:
            return dash.no_update, note(str(exc), "error")
        return dcc.send_string(backend.dump_yaml(space), "space.yaml"), ""


def register(app, state) -> None:
    _register_load(app, state)
    _register_check(app, state)
    _register_run(app, state)
    _register_cancel(app, state)
    _register_poll(app, state)
    _register_open_design(app, state)
    _register_download(app, state)
