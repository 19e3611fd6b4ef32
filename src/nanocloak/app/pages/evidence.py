"""Evidence: pick a published study of the evidence base and see its measurements against the model."""

from __future__ import annotations

import dash
from dash import Input, Output, State, dcc, html

from .. import backend, figures
from ..ui import internal, note, options, table


def layout() -> html.Div:
    return html.Div([
        html.H2("Evidence"),
        html.Div("Each study of the evidence base (src/nanocloak/data/evidence/studies/) written as formulations; every "
                 "arm is simulated and each measurement is computed the way the paper measured it (docs/evidence.md).",
                 className="fhelp"),
        html.Div([dcc.Dropdown(id="ev-study", options=[], placeholder="choose a study\u2026", className="wide-select"),
                  html.Button("Open an arm in Design", id="ev-open", className="btn"),
                  dcc.Dropdown(id="ev-arm", options=[], placeholder="arm", className="mid-select")], className="toolbar"),
        dcc.Loading(html.Div(id="ev-out"), type="dot"),
    ], className="page")


def _mode_note(c: dict) -> html.Div:
    if c["in_sample"]:
        text = ("In sample: the model's effect parameters were calibrated on the evidence base's paper points, this "
                "study included (docs/calibration.md). Held-out (leave-one-study-out) predictions come from the "
                f"scorecard: `{backend.EVIDENCE_COMMAND}` regenerates it.")
    else:
        text = "Held out: this data set is a validation source, not fitted."
    return note(text)


def register(app, state) -> None:
    @app.callback(Output("ev-study", "options"), Input("url", "pathname"), State("ev-study", "options"))
    def study_options(path, current):
        if path != "/evidence" or current:
            raise dash.exceptions.PreventUpdate
        return options([(sid, lab) for sid, lab in backend.evidence_studies()], search=backend.search_words)

    @app.callback(Output("ev-out", "children"), Output("ev-arm", "options"), Output("ev-arm", "value"),
                  Input("ev-study", "value"), prevent_initial_call=True)
    def show(study_id):
        if not study_id:
            raise dash.exceptions.PreventUpdate
        try:
            c = backend.evidence_comparison(study_id)
        except backend.user_error_types() as exc:
            return note(str(exc), "error"), [], None
        except Exception as exc:  # noqa: BLE001 - shown on the page
            return internal(exc), [], None
        rows = c["rows"]
        s = c["study"]
        cols = ["observable", "arm", "organ", "t (h)", "measured", "sd/sem", "model", "fold error", "used", "where in the paper"]
        trows = [[r["observable"], r["arm"], r["organ"], r["t_h"], r["measured"], r["sd"], r["model"], r["fold_error"],
                  "yes" if r["usable"] else f"no: {r['reason']}", r["locator"]] for r in rows]
        arms = options([(a.id, f"{a.id}: {a.label}"[:90]) for a in s.data.arms if a.id in s.formulations], search=backend.search_words)
        problems = [html.Li(f"{arm}: {why}") for arm, why in c["arm_problems"].items()]
        out = html.Div([
            html.H3(s.data.citation.title or s.id, id="ev-title"),
            html.Div(c["citation"], className="muted"),
            _mode_note(c),
            html.Ul(problems, className="problems") if problems else None,
            html.Div([dcc.Graph(id="fig-evidence", figure=figures.evidence_scatter(rows), config={"displaylogo": False}),
                      dcc.Graph(id="fig-evidence-arms", figure=figures.evidence_arms(c["arm_results"], rows),
                                config={"displaylogo": False})], className="two-graphs"),
            html.H3("Measurements"),
            html.Div(table(cols, trows, id="ev-table"), className="scroll"),
        ])
        return out, arms, arms[0]["value"] if arms else None

    @app.callback(Output("design-open", "data", allow_duplicate=True), Output("url", "pathname", allow_duplicate=True),
                  Input("ev-open", "n_clicks"), State("ev-study", "value"), State("ev-arm", "value"), prevent_initial_call=True)
    def open_arm(_n, study_id, arm):
        if not study_id or not arm:
            raise dash.exceptions.PreventUpdate
        doc = backend.evidence_arm_doc(study_id, arm)
        return {"yaml": backend.dump_yaml(doc), "nonce": _n}, "/design"
