"""Lab data: upload a CSV/XLSX (docs/lab_data.md), see its NCA; calibrate the design to it (a fit in
a worker process, with progress)."""

from __future__ import annotations

import shutil

import dash
from dash import Input, Output, State, dcc, html

from .. import backend, figures
from ..ui import internal, note, progress, table

NCA_ROWS = (("cmax", "Cmax"), ("tmax_h", "Tmax"), ("auc_0_t", "AUC0-t"), ("auc_0_inf", "AUC0-inf"),
            ("auc_pct_extrapolated", "%extrapolated"), ("t_half_h", "t1/2"), ("mrt_h", "MRT"), ("cl", "CL"), ("vss", "Vss"),
            ("lambda_z_n_points", "lambda_z points"), ("lambda_z_r2_adjusted", "lambda_z adj. R2"))
EXAMPLE_FILES = (("lab_data/rbc_plga_serial.csv", "example: serial blood (synthetic)"),
                 ("lab_data/rbc_plga_sparse.csv", "example: sparse blood and organs (synthetic)"))


def layout() -> html.Div:
    examples = [{"label": lab, "value": name} for name, lab in EXAMPLE_FILES if backend.example_file(name) is not None]
    return html.Div([
        html.H2("Lab data"),
        html.Div(["One row per measurement: animal, time (time_h, time_min ... or time + time_unit), matrix, value, unit; "
                  "optional organ_mass_g, dose_ug, sd, n, group (docs/lab_data.md). "
                  f"Files up to {backend.MAX_UPLOAD_BYTES / 1e6:g} MB, CSV or XLSX."], className="fhelp"),
        html.Div([
            dcc.Upload(html.Button("Upload lab data\u2026", className="btn"), id="lab-upload", accept=".csv,.xlsx",
                       max_size=backend.CLIENT_MAX_UPLOAD_BYTES),
            dcc.Dropdown(id="lab-example", options=examples, placeholder="or an example file\u2026", className="wide-select"),
            html.Button("Load example", id="lab-load-example", className="btn"),
        ], className="toolbar"),
        html.Div([
            dcc.Checklist(id="lab-use-design", options=[{"label": " organ masses, blood volume and dose from the Design "
                                                                   "page's formulation", "value": "yes"}],
                          value=["yes"], inline=True),
            html.Label("matrix"), dcc.Dropdown(id="lab-matrix", options=[], placeholder="blood (default)", className="mid-select"),
            html.Label("AUC"), dcc.RadioItems(id="lab-method", options=[{"label": m, "value": m} for m in backend.nca_methods()],
                                              value=backend.nca_methods()[0], inline=True),
        ], className="controls"),
        html.Div(id="lab-msg", className="msg"),
        dcc.Store(id="lab-version", data=0),
        dcc.Loading(html.Div([html.Div(id="lab-graph"), html.Div(id="lab-nca", className="scroll")]), type="dot"),
        html.H3("Calibrate the design to these data"),
        html.Div([
            dcc.RadioItems(id="fit-method", options=[{"label": "least squares", "value": "lsq"},
                                                     {"label": "Bayesian (MCMC)", "value": "mcmc"}], value="lsq", inline=True),
            html.Label("MCMC steps"), dcc.Input(id="fit-steps", type="number", value=300, min=50, max=backend.MAX_FIT_STEPS,
                                                className="finput short"),
            html.Button("Fit", id="fit-run", className="btn btn-primary"),
            html.Button("Cancel", id="fit-cancel", className="btn"),
            html.Button("Open the calibrated design", id="fit-open", className="btn"),
        ], className="controls"),
        dcc.Interval(id="fit-poll", interval=700, disabled=True),
        html.Div(id="fit-progress"),
        html.Div(id="fit-out"),
    ], className="page")


def _nca_table(a) -> html.Div:
    res = a.result
    animals = list(getattr(res, "animals", []) or [])
    mean = res.mean
    units = mean.units
    cols = ["parameter", "unit"] + [r.label for r in animals] + ["mean curve"]
    rows = []
    for key, header in NCA_ROWS:
        vals = [getattr(r, key, None) for r in animals] + [getattr(mean, key, None)]
        if all(v is None or (isinstance(v, float) and v != v) for v in vals):
            continue
        rows.append([header, units.get(key, "")] + vals)
    extra = []
    bailer = getattr(res, "bailer", None)
    if bailer is not None:
        extra.append(note(f"Bailer (1988) AUC0-{bailer.t_h[-1]:g}h = {bailer.auc_0_tlast:.4g} {units['auc_0_t']}, SE "
                          f"{bailer.se:.3g}, 95% CI {bailer.ci95_low:.4g} - {bailer.ci95_high:.4g}. {bailer.note}"))
    notes = [note(f"{r.label}: {r.note}", "warn") for r in [*animals, mean] if r.note]
    title = f"{a.matrix}" + (f", group {a.group}" if a.group else "") + f": {a.design} sampling, {a.conc_unit}"
    return html.Div([html.H4(title), table(cols, rows, id="lab-nca-table"), *extra, *notes])


def _analyse(s, doc, use_design, matrix, method):
    f = None
    if use_design:
        f, _ = backend.validate(doc)
    lab = backend.load_lab(s.lab_path, f)
    analyses = backend.nca(lab, matrix, method)
    return lab, analyses


def _register_upload(app, state) -> None:
    @app.callback(Output("lab-version", "data"), Output("lab-msg", "children"), Output("lab-matrix", "options"),
                  Output("lab-matrix", "value"),
                  Input("lab-upload", "contents"), Input("lab-load-example", "n_clicks"),
                  State("lab-upload", "filename"), State("lab-example", "value"), State("sid", "data"), State("lab-version", "data"),
                  prevent_initial_call=True)
    def upload(contents, _n, filename, example, sid, version):
        s = state.store.get(sid)
        trig = dash.callback_context.triggered_id
        try:
            if trig == "lab-load-example":
                src = backend.example_file(example or "")
                if src is None:
                    raise backend.AppInputError("choose an example file first")
                suffix, raw, shown = src.suffix, src.read_bytes(), src.name
            else:
                raw = backend.decode_upload(contents, "lab data file")
                suffix, shown = backend.lab_suffix(filename), str(filename or "")[:80]
            target = s.path(f"labdata{suffix}")            # a fixed name in the session's folder
            for old in ("labdata.csv", "labdata.xlsx"):
                s.path(old).unlink(missing_ok=True)
            target.write_bytes(raw)
            lab = backend.load_lab(target, None)
        except backend.user_error_types() as exc:
            return dash.no_update, note(str(exc), "error"), dash.no_update, dash.no_update
        except Exception as exc:  # noqa: BLE001 - shown on the page
            return dash.no_update, internal(exc), dash.no_update, dash.no_update
        with s.lock:
            s.lab_path, s.lab_name = target, shown
        matrices = [{"label": m, "value": m} for m in lab.matrices]
        msg = note(f"{shown}: {len(lab.frame)} rows, {lab.sampling} sampling, matrices {', '.join(lab.matrices)}")
        return (version or 0) + 1, msg, matrices, None


def _register_analyse(app, state) -> None:
    @app.callback(Output("lab-graph", "children"), Output("lab-nca", "children"),
                  Input("lab-version", "data"), Input("lab-matrix", "value"), Input("lab-method", "value"),
                  Input("lab-use-design", "value"), State("doc", "data"), State("sid", "data"), prevent_initial_call=True)
    def analyse(_v, matrix, method, use_design, doc, sid):
        s = state.store.get(sid)
        if s.lab_path is None:
            raise dash.exceptions.PreventUpdate
        try:
            lab, analyses = _analyse(s, doc, bool(use_design), matrix, method)
        except backend.user_error_types() as exc:
            return None, note(str(exc), "error")
        except Exception as exc:  # noqa: BLE001 - shown on the page
            return None, internal(exc)
        return (dcc.Graph(id="fig-lab", figure=figures.nca_figure(lab, analyses), config={"displaylogo": False}),
                html.Div([_nca_table(a) for a in analyses]))


def _register_fit(app, state) -> None:
    @app.callback(Output("fit-progress", "children"), Output("fit-poll", "disabled"),
                  Input("fit-run", "n_clicks"), State("fit-method", "value"), State("fit-steps", "value"),
                  State("doc", "data"), State("sid", "data"), prevent_initial_call=True)
    def fit(_n, method, steps, doc, sid):
        s = state.store.get(sid)
        if s.lab_path is None:
            return note("upload lab data first", "warn"), True
        f, problems = backend.validate(doc)
        if f is None:
            return note("fix the design on the Design page first", "warn"), True
        try:
            job_copy = s.path(f"fit-input{s.lab_path.suffix}")
            shutil.copyfile(s.lab_path, job_copy)
            job = state.jobs.submit(s.id, "fit", {"formulation": doc, "lab_path": str(job_copy), "method": method or "lsq",
                                                  "steps": int(steps or 300)})
        except RuntimeError as exc:
            return note(str(exc), "warn"), dash.no_update
        with s.lock:
            s.jobs["fit"] = job
        return note("fit started"), False


def _register_cancel(app, state) -> None:
    @app.callback(Output("fit-progress", "children", allow_duplicate=True), Input("fit-cancel", "n_clicks"),
                  State("sid", "data"), prevent_initial_call=True)
    def cancel(_n, sid):
        s = state.store.get(sid)
        job = s.jobs.get("fit")
        return note("fit cancelled", "warn") if job and state.jobs.cancel(job, s.id) else note("no fit is running")


def _register_poll(app, state) -> None:
    @app.callback(Output("fit-progress", "children", allow_duplicate=True), Output("fit-poll", "disabled", allow_duplicate=True),
                  Output("fit-out", "children"), Input("fit-poll", "n_intervals"), State("sid", "data"), prevent_initial_call=True)
    def poll(_n, sid):
        s = state.store.get(sid)
        job = s.jobs.get("fit")
        st = state.jobs.status(job, s.id) if job else None
        if st is None:
            return None, True, dash.no_update
        text = f"{st['state']}: {st['message']} {st['done']} / {st['total']}, {st['elapsed_s']:.0f} s"
        bar = html.Div(progress(st["done"], st["total"], text), id="fit-state", **{"data-state": st["state"]})
        if st["state"] in ("queued", "running"):
            return bar, False, dash.no_update
        if st["state"] != "done":
            return html.Div([bar, note(st.get("error", st["state"]), "error")]), True, None
        res = state.jobs.result(job, s.id) or {}
        with s.lock:
            s.data["fit_yaml"] = res.get("calibrated_yaml")
        est = [[k, v] for k, v in (res.get("estimates") or {}).items()]
        out = [table(["parameter", "estimate"], est, id="fit-table")]
        out += [note(w, "warn") for w in res.get("warnings", [])]
        try:
            calibrated = backend.validate(backend.parse_yaml(res["calibrated_yaml"]))[0]
            if calibrated is not None and s.lab_path is not None:
                lab = backend.load_lab(s.lab_path, calibrated)
                r = backend.simulate(calibrated)
                out.append(dcc.Graph(id="fig-fit", figure=figures.fit_figure(lab, backend.fit_observables(), r),
                                     config={"displaylogo": False}))
        except backend.user_error_types() as exc:
            out.append(note(str(exc), "warn"))
        return bar, True, html.Div(out)


def _register_open_calibrated(app, state) -> None:
    @app.callback(Output("design-open", "data", allow_duplicate=True), Output("url", "pathname", allow_duplicate=True),
                  Input("fit-open", "n_clicks"), State("sid", "data"), prevent_initial_call=True)
    def open_calibrated(n, sid):
        text = state.store.get(sid).data.get("fit_yaml")
        if not text:
            raise dash.exceptions.PreventUpdate
        return {"yaml": text, "nonce": n}, "/design"


def register(app, state) -> None:
    _register_upload(app, state)
    _register_analyse(app, state)
    _register_fit(app, state)
    _register_cancel(app, state)
    _register_poll(app, state)
    _register_open_calibrated(app, state)
