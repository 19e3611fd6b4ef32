"""Make: the coating calculator (particles, membrane, donor blood or flasks) and the batch sheet."""

from __future__ import annotations

import dash
from dash import Input, Output, State, dcc, html

from .. import backend, formspec
from ..ui import fmt, internal, note, table


def layout() -> html.Div:
    return html.Div([
        html.H2("Make"),
        html.Div("The coating calculator for the design on the Design page (a membrane-coated particle): how many "
                 "particles a batch holds, how much membrane protein and donor material it needs, what the method "
                 "gives and what QC should read.", className="fhelp"),
        html.Div([
            html.Label("batch (core mass)"),
            dcc.Input(id="make-batch", type="text", placeholder="one dose", debounce=True, className="finput short"),
            html.Span("mg", className="funit"),
            html.Button("Batch sheet (HTML)", id="make-sheet-btn", className="btn"),
            dcc.Download(id="make-sheet"),
        ], className="controls"),
        html.Div(id="make-msg", className="msg"),
        html.Div(id="make-out"),
    ], className="page")


def _batch(text) -> float | None:
    v = formspec.parse_number(text)
    if v is None:
        return None
    if not isinstance(v, (int, float)) or v <= 0 or v > 1e7:
        raise backend.AppInputError("batch: a positive core mass in mg (e.g. 1 or 25)")
    return float(v)


def _plan_tables(plan: dict) -> html.Div:
    rows = [
        ("core in the batch", plan["core_mg"], "mg"), ("particles", plan["particles"], ""),
        ("core surface", plan["core_surface_m2"] * 1e4, "cm2"), ("method", plan["method"], ""),
        ("batches", plan["batches"], ""), ("time", plan["time_h"], "h"),
        ("target coverage (mean)", plan["target_coverage"] * 100, "%"),
        ("particles >= 50% coated", plan["coated_50_fraction"] * 100, "%"),
        ("membrane area needed (geometric)", plan["membrane_area_m2_geometric"] * 1e4, "cm2"),
        ("membrane : core input", plan["membrane_to_core_ratio"], "mg protein / mg core"),
        ("method yield", plan["method_yield"] * 100, "%"),
        ("expected hydrodynamic diameter", plan["expected_diameter_nm"], "nm"),
        ("expected zeta", plan["expected_zeta_mV"], "mV"), ("expected PDI", plan["pdi"], "<="),
        ("protein integrity", plan["protein_integrity"] * 100, "%"),
        ("fully coated (method)", plan["fully_coated_fraction"] * 100, "%"),
        ("markers (western blot)", ", ".join(plan.get("markers") or []), ""),
    ]
    donors = [(d["cell"], d["fraction"] * 100, d["protein_mg_geometric"], d["protein_mg_protocol"], d["cells_protocol"],
               d["source"], d.get("blood_mL_protocol"), d.get("flasks_protocol")) for d in plan["donors"]]
    return html.Div([
        table(["quantity", "value", "unit"], rows, id="make-plan-table"),
        html.H3("Donor material"),
        table(["membrane", "share %", "protein mg (geometric minimum)", "protein mg (protocol)", "cells (protocol)", "donor",
               "blood mL (protocol)", "T-175 flasks (protocol)"], donors, id="make-donor-table"),
    ])


def register(app, state) -> None:
    @app.callback(Output("make-out", "children"), Output("make-msg", "children"),
                  Input("url", "pathname"), Input("make-batch", "value"), State("doc", "data"))
    def show(path, batch, doc):
        if path != "/make":
            raise dash.exceptions.PreventUpdate
        f, problems = backend.validate(doc)
        if f is None:
            return None, note(f"The design has {len(problems)} problem(s): fix it on the Design page first.", "warn")
        try:
            plan = backend.coating_plan(f, _batch(batch))
        except backend.user_error_types() as exc:
            return None, note(str(exc), "warn")
        except Exception as exc:  # noqa: BLE001 - shown on the page
            return None, internal(exc)
        one = backend.dose_core_mg(f)
        hint = f"one dose of this design is {fmt(one)} mg of core" if one else ""
        return _plan_tables(plan), hint

    @app.callback(Output("make-sheet", "data"), Output("make-msg", "children", allow_duplicate=True),
                  Input("make-sheet-btn", "n_clicks"), State("doc", "data"), State("make-batch", "value"),
                  prevent_initial_call=True)
    def sheet(_n, doc, batch):
        f, _ = backend.validate(doc)
        if f is None:
            return dash.no_update, note("fix the design first", "warn")
        try:
            return dcc.send_string(backend.batch_sheet_html(f, _batch(batch)), backend.safe_filename(f.name, "_batch_sheet.html")), ""
        except backend.user_error_types() as exc:
            return dash.no_update, note(str(exc), "warn")
