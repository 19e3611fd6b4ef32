"""Design: a form for the formulation with library-backed choices and units, a YAML view kept in
sync both ways, the contract's own validation messages beside the fields, load and save."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, dcc, html

from .. import backend, formspec
from ..formspec import FIELDS, GROUPS, N_PARAM_SLOTS
from ..ui import data_attributes, hidden, internal, options

FIELD = {"type": "field", "path": ALL}
FERR = {"type": "ferr", "path": ALL}
GROUP = {"type": "group", "id": ALL}
GERR = {"type": "gerr", "id": ALL}
PARAM = {"type": "param", "i": ALL}
PLABEL = {"type": "plabel", "i": ALL}
PUNIT = {"type": "punit", "i": ALL}
PROW = {"type": "prow", "i": ALL}


# ---------------------------------------------------------------------------------------------
# derived state: what the page shows for a document
# ---------------------------------------------------------------------------------------------
def _pairs(f: formspec.Field) -> tuple[tuple[str, str], ...]:
    if isinstance(f.options, tuple):
        return tuple((v, v) for v in f.options)
    return backend.choices(f.options)


def _options(f: formspec.Field) -> list[dict]:
    return options(_pairs(f))


def _normalise_select(values: dict) -> dict:
    """Show a library key as the library writes it ('rbc', '4T1') whatever case the YAML used."""
    out = dict(values)
    for f in FIELDS:
        v = out.get(f.path)
        if f.kind == "select" and isinstance(v, str) and v:
            for value, _ in _pairs(f):
                if str(value).lower() == v.lower():
                    out[f.path] = value
                    break
    return out


def form_values(doc: dict) -> dict:
    return _normalise_select(formspec.doc_to_values(doc))


def param_names(doc: dict) -> list[dict]:
    model = formspec.get_path(doc, formspec.parse_path(f"{formspec.REL}.model"))
    return backend.release_parameters(model if isinstance(model, str) else None)[:N_PARAM_SLOTS]


def derive(doc: dict, values: dict) -> dict:
    """Everything the page shows beside the values: visibility, messages, parameter labels."""
    f, problems = backend.validate(doc)
    warnings = backend.warnings_of(f) if f is not None else []
    params = param_names(doc)
    field_errors: dict[str, list[str]] = {}
    group_errors: dict[str, list[str]] = {}
    param_errors: list[str] = []
    general: list[str] = []
    for path, message in problems:
        where, key = formspec.place_problem(path, message)
        if where == "group" and not formspec.group_active(key, values):
            where = "general"
        shown = f"{path}: {message}" if path else message
        if where == "field":
            field_errors.setdefault(key, []).append(message)
        elif where == "params":
            param_errors.append(message)
        elif where == "group":
            group_errors.setdefault(key, []).append(shown)
        else:
            general.append(shown)
    if problems:
        status = html.Span(f"\u2717 {len(problems)} problem{'s' if len(problems) > 1 else ''}: not simulated",
                           className="status-bad", id="design-valid", **data_attributes({"data-valid": "false"}))
    else:
        status = html.Span("\u2713 valid formulation", className="status-ok", id="design-valid",
                           **data_attributes({"data-valid": "true"}))
    listing = [html.Li([html.Code(p or "(file)"), " ", m], className="problem") for p, m in problems]
    listing += [html.Li([html.Code(p), " ", m, " (warning: allowed)"], className="warning") for p, m in warnings]
    return {
        "field_errors": field_errors, "group_errors": group_errors, "param_errors": param_errors, "general": general,
        "status": status, "problems": html.Ul(listing, className="problems") if listing else None,
        "params": params, "groups": {g.id: formspec.group_active(g.id, values) for g in GROUPS},
        "key": (tuple(problems), tuple(warnings)),
    }


# ---------------------------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------------------------
def _input(f: formspec.Field, value) -> dcc.Dropdown | dcc.Input:
    fid = {"type": "field", "path": f.path}
    if f.kind == "select":
        return dcc.Dropdown(id=fid, options=_options(f), value=value or None, placeholder=f.placeholder, clearable=True,
                            searchable=True, className="fselect")
    return dcc.Input(id=fid, type="text", value=value, placeholder=f.placeholder, debounce=True, className="finput",
                     autoComplete="off", spellCheck=False)


def _row(f: formspec.Field, value, errors: list[str]) -> html.Div:
    return html.Div([
        html.Label(f.label, className="flabel", title=f.path),
        html.Div(_input(f, value), className="fcontrol", **data_attributes({"data-path": f.path})),
        html.Span(f.unit, className="funit"),
        html.Div("; ".join(errors), id={"type": "ferr", "path": f.path}, className="ferr", **data_attributes({"data-path": f.path})),
        html.Div(f.help, className="fhelp") if f.help else None,
    ], className="frow")


def _param_rows(doc: dict, derived: dict) -> list:
    params = derived["params"]
    values = formspec.param_values(doc, [p["name"] for p in params])
    rows = []
    for i in range(N_PARAM_SLOTS):
        p = params[i] if i < len(params) else None
        rows.append(html.Div([
            html.Label(p["name"] if p else "", id={"type": "plabel", "i": i}, className="flabel"),
            html.Div(dcc.Input(id={"type": "param", "i": i}, type="text", value=values[i], debounce=True,
                               className="finput", placeholder="required", autoComplete="off"),
                     className="fcontrol", **data_attributes({"data-param": str(i)})),
            html.Span(p["unit"] if p else "", id={"type": "punit", "i": i}, className="funit"),
        ], id={"type": "prow", "i": i}, className="frow", style=hidden(p is not None)))
    rows.append(html.Div("; ".join(derived["param_errors"]), id="perr", className="ferr"))
    return rows


def form(doc: dict) -> tuple[html.Div, dict]:
    values = form_values(doc)
    derived = derive(doc, values)
    by_group: dict[str, list] = {g.id: [] for g in GROUPS}
    for f in FIELDS:
        by_group[f.group].append(_row(f, values.get(f.path), derived["field_errors"].get(f.path, [])))
    by_group["release"][1:1] = [html.Div("parameters of the release law", className="fsub")] + _param_rows(doc, derived)
    sets = []
    for g in GROUPS:
        sets.append(html.Fieldset([
            html.Legend(g.title or "Size, shape and charge"),
            html.Div(g.note, className="fhelp") if g.note and g.id != "particle" else None,
            html.Div("; ".join(derived["group_errors"].get(g.id, [])), id={"type": "gerr", "id": g.id}, className="gerr"),
            *by_group[g.id],
        ], id={"type": "group", "id": g.id}, className=f"fgroup fgroup-{g.id}", style=hidden(derived["groups"][g.id])))
    return html.Div(sets, className="form"), derived


def layout(doc: dict) -> html.Div:
    the_form, derived = form(doc)
    yaml_text = backend.dump_yaml(doc)
    return html.Div([
        html.H2("Design"),
        html.Div([
            dcc.Dropdown(id="design-example", options=options(backend.example_designs(), search=backend.example_search),
                         value=backend.default_design_key(), clearable=False, className="wide-select"),
            html.Button("Load", id="design-load", className="btn"),
            dcc.Upload(html.Button("Open YAML file\u2026", className="btn"), id="design-upload", accept=".yaml,.yml",
                       max_size=backend.CLIENT_MAX_UPLOAD_BYTES, multiple=False),
            html.Button("Save YAML", id="design-save", className="btn"),
            dcc.Download(id="design-download"),
            html.Span(className="spacer"),
            html.Button("Add to comparison", id="design-add-compare", className="btn"),
            html.Button("Simulate", id="simulate", className="btn btn-primary"),
        ], className="toolbar"),
        html.Div([html.Div(derived["status"], id="design-status"),
                  html.Div(id="simulate-msg", className="msg"), html.Div(id="design-msg", className="msg")],
                 className="statusbar"),
        html.Div([html.Div(derived["general"] and html.Ul([html.Li(m) for m in derived["general"]]), id="design-general",
                           className="gerr"),
                  html.Div(derived["problems"], id="design-problems")]),
        html.Div([
            html.Div(the_form, className="col-form"),
            html.Div([
                html.H3("YAML (the formulation file)"),
                html.Div("Edit here and press Apply (or leave the box): the form follows. The form writes here as you "
                         "change it. Fields the form has no place for (more list entries, model.overrides) are kept.",
                         className="fhelp"),
                dcc.Textarea(id="yaml-text", value=yaml_text, spellCheck=False, className="yaml"),
                html.Div([html.Button("Apply YAML", id="yaml-apply", className="btn")], className="toolbar"),
                html.Div(id="yaml-error", className="ferr"),
            ], className="col-yaml"),
        ], className="design-cols"),
    ], className="page")


# ---------------------------------------------------------------------------------------------
# callbacks
# ---------------------------------------------------------------------------------------------
def _ids(outputs_or_inputs, key: str) -> list:
    return [x["id"][key] for x in outputs_or_inputs]


def _outputs(d: dict, cb) -> dict:
    """The messages and visibility the page shows for derived state d, as callback outputs (with
    'key' entries, plain data, to compare two states without comparing components)."""
    params = d["params"]
    return {
        "labels": [params[i]["name"] if i < len(params) else "" for i in range(N_PARAM_SLOTS)],
        "units": [params[i]["unit"] if i < len(params) else "" for i in range(N_PARAM_SLOTS)],
        "rows": [hidden(i < len(params)) for i in range(N_PARAM_SLOTS)],
        "groups": [hidden(d["groups"][gid]) for gid in _ids(cb.outputs_list[5], "id")],
        "ferr": ["; ".join(d["field_errors"].get(p, [])) for p in _ids(cb.outputs_list[6], "path")],
        "gerr": ["; ".join(d["group_errors"].get(g, [])) for g in _ids(cb.outputs_list[7], "id")],
        "perr": "; ".join(d["param_errors"]),
        "problems": _Keyed(d["problems"], d["key"]),
        "status": _Keyed(d["status"], d["key"]),
        "general": _Keyed(html.Ul([html.Li(m) for m in d["general"]]) if d["general"] else None, tuple(d["general"])),
    }


class _Keyed:
    """A component with the plain data it was made from (compared instead of the component)."""

    def __init__(self, component, key):
        self.component, self.key = component, key


def _changed(now, before):
    if isinstance(now, _Keyed):
        return now.component if now.key != before.key else dash.no_update
    if isinstance(now, list):
        return [n if n != b else dash.no_update for n, b in zip(now, before)]
    return now if now != before else dash.no_update


#: the sync callback's outputs, inputs and states
SYNC_OUTPUTS = (
    Output(FIELD, "value"), Output(PARAM, "value"), Output(PLABEL, "children"), Output(PUNIT, "children"),
    Output(PROW, "style"), Output(GROUP, "style"), Output(FERR, "children"), Output(GERR, "children"),
    Output("perr", "children"), Output("yaml-text", "value"), Output("doc", "data"), Output("design-problems", "children"),
    Output("design-status", "children"), Output("yaml-error", "children"), Output("design-general", "children"),
)
SYNC_INPUTS = (
    Input(FIELD, "value"), Input(PARAM, "value"), Input("yaml-apply", "n_clicks"), Input("yaml-text", "n_blur"),
    Input("design-load", "n_clicks"), Input("design-upload", "contents"), Input("design-open", "data"),
)
SYNC_STATES = (State("yaml-text", "value"), State("doc", "data"), State("design-example", "value"))


def _release_model(doc: dict):
    return formspec.get_path(doc, formspec.parse_path(f"{formspec.REL}.model"))


def _edited_doc(doc: dict, values: dict, param_raw: list) -> tuple[dict, bool]:
    """The document after a form edit, and whether its release law changed (a new release law takes
    its own parameters, kept where it shares their names)."""
    names_before = [p["name"] for p in param_names(doc)]
    new_doc = formspec.values_to_doc(values, doc, names_before, param_raw)
    model_changed = _release_model(new_doc) != _release_model(doc)
    if model_changed:
        old_params = formspec.get_path(doc, formspec.parse_path(formspec.PARAMS_PATH)) or {}
        names_after = [p["name"] for p in param_names(new_doc)]
        kept = {n: old_params[n] for n in names_after if isinstance(old_params, dict) and n in old_params}
        if _release_model(new_doc) is not None:
            formspec.set_path(new_doc, formspec.parse_path(formspec.PARAMS_PATH), kept)
    return new_doc, model_changed


def _loaded_doc(trig, upload, opened, yaml_text, doc, example) -> dict:
    """The document from an example, an uploaded file, another page (design-open) or the YAML view;
    raises the user's errors, or PreventUpdate when there is nothing new."""
    if trig == "design-load":
        new_doc = backend.example_doc(example)
    elif trig == "design-upload":
        new_doc = backend.parse_yaml(backend.decode_text(backend.decode_upload(upload, "YAML file"), "YAML file"),
                                     "uploaded file")
    elif trig == "design-open":
        if not opened or "yaml" not in opened:
            raise dash.exceptions.PreventUpdate
        new_doc = backend.parse_yaml(opened["yaml"])
    else:                                  # the YAML view
        if yaml_text == backend.dump_yaml(doc):
            raise dash.exceptions.PreventUpdate
        new_doc = backend.parse_yaml(yaml_text or "", "YAML")
    if not isinstance(new_doc, dict):
        raise backend.AppInputError("the YAML must be a mapping (nanocloak: 1, name: ..., core: ...)")
    return new_doc


def _answer(out_values, out_params, out_yaml, doc, now: dict, yaml_error: str = "") -> tuple:
    return (out_values, out_params, now["labels"], now["units"], now["rows"], now["groups"], now["ferr"], now["gerr"],
            now["perr"], out_yaml, doc, now["problems"], now["status"], yaml_error, now["general"])


def _sync_form(cb, trig: dict, field_paths: list, values: dict, param_raw: list, doc: dict) -> tuple:
    """A field or a release parameter changed: the document follows, and only what changed is sent
    (every prop the page re-renders costs the browser time, and a typical edit changes one message
    or none: the rest stays as the last answer drew it)."""
    no = dash.no_update
    prev_values = dict(values)
    if trig.get("type") == "field":
        prev_values[trig["path"]] = form_values(doc).get(trig["path"])
    new_doc, model_changed = _edited_doc(doc, values, param_raw)
    out_params = (formspec.param_values(new_doc, [p["name"] for p in param_names(new_doc)]) if model_changed
                  else [no] * N_PARAM_SLOTS)
    now = _outputs(derive(new_doc, values), cb)
    before = _outputs(derive(doc, prev_values), cb)
    now = {k: _changed(now[k], before[k]) for k in now}
    return _answer([no] * len(field_paths), out_params, backend.dump_yaml(new_doc), new_doc, now)


def _sync(field_values, param_raw, _apply, _blur, _load, upload, opened, yaml_text, doc, example):
    """The form, the YAML view and the document kept in step, whichever of them changed."""
    cb = dash.callback_context
    trig = cb.triggered_id
    field_paths = _ids(cb.inputs_list[0], "path")
    values = dict(zip(field_paths, field_values))
    no = dash.no_update
    if isinstance(trig, dict) and trig.get("type") in ("field", "param"):
        return _sync_form(cb, trig, field_paths, values, param_raw, doc)
    try:
        doc = _loaded_doc(trig, upload, opened, yaml_text, doc, example)
    except backend.user_error_types() as exc:
        wild = [[no] * len(o) for o in cb.outputs_list[:8]]      # pattern outputs take lists
        return (*wild, no, no, no, no, no, str(exc), no)
    values = form_values(doc)
    out_values = [values.get(p) or (None if formspec.FIELD_BY_PATH[p].kind == "select" else "") for p in field_paths]
    out_params = formspec.param_values(doc, [p["name"] for p in param_names(doc)])
    out_yaml = backend.dump_yaml(doc) if trig != "yaml-text" and trig != "yaml-apply" else no
    now = {k: v.component if isinstance(v, _Keyed) else v for k, v in _outputs(derive(doc, values), cb).items()}
    return _answer(out_values, out_params, out_yaml, doc, now)


def _save(_n, doc):
    name = (doc or {}).get("name", "design") if isinstance(doc, dict) else "design"
    return dcc.send_string(backend.dump_yaml(doc), backend.safe_filename(name, ".yaml"))


def _register_run(app, state) -> None:
    @app.callback(Output("result-version", "data"), Output("url", "pathname"), Output("simulate-msg", "children"),
                  Input("simulate", "n_clicks"), State("doc", "data"), State("sid", "data"), prevent_initial_call=True)
    def run(_n, doc, sid):
        s = state.store.get(sid)
        f, problems = backend.validate(doc)
        if f is None:
            return dash.no_update, dash.no_update, html.Span(
                f"Not simulated: {len(problems)} problem(s) in the formulation (listed below).", className="status-bad")
        try:
            r = backend.simulate(f)
        except backend.user_error_types() as exc:
            return dash.no_update, dash.no_update, html.Span(f"Not simulated: {exc}", className="status-bad")
        except Exception as exc:  # noqa: BLE001 - shown on the page
            return dash.no_update, dash.no_update, internal(exc)
        with s.lock:
            s.result, s.result_doc = r, doc
            s.result_version += 1
            version = s.result_version
        return version, "/results", ""


def register(app, state) -> None:
    app.callback(*SYNC_OUTPUTS, *SYNC_INPUTS, *SYNC_STATES, prevent_initial_call=True)(_sync)
    app.callback(Output("design-download", "data"), Input("design-save", "n_clicks"), State("doc", "data"),
                 prevent_initial_call=True)(_save)
    _register_run(app, state)
