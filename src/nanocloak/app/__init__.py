"""The nanocloak workbench: a local web app (Dash + plotly) for formulation scientists (docs/app.md).

    nanocloak app [--host 127.0.0.1] [--port 8050]      # or: python -m nanocloak.app

Pages: Design, Results, Compare, Make, Evidence, Screen, Lab data. Installed by the `[app]` extra
(dash, plotly, waitress). `create_app()` builds the Dash app without serving it (tests, embedding).
"""

from __future__ import annotations

import atexit
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .jobs import JobManager
    from .sessions import SessionStore

PAGES = (("/design", "Design"), ("/results", "Results"), ("/compare", "Compare"), ("/make", "Make"),
         ("/evidence", "Evidence"), ("/screen", "Screen"), ("/lab", "Lab data"))
#: request bodies: an upload of MAX_UPLOAD_BYTES is ~4/3 larger as base64, plus the callback's JSON
MAX_REQUEST_BYTES = 12 * 1024 * 1024


@dataclass
class AppState:
    store: SessionStore
    jobs: JobManager


def create_app(state: AppState | None = None, allowed_hosts: set[str] | None = None):
    """The Dash app. `allowed_hosts`: Host headers accepted (None: any); the server passes the
    loopback names when it binds 127.0.0.1, which stops DNS-rebinding pages from reaching it."""
    import dash
    from dash import Input, Output, dcc, html

    from . import backend
    from .jobs import JobManager
    from .pages import compare, design, evidence, labdata, make, results, screen
    from .sessions import SessionStore, new_session_id

    if state is None:
        store = SessionStore()
        state = AppState(store, JobManager(store.root / "jobs"))
        atexit.register(state.store.close)
        atexit.register(state.jobs.shutdown)

    # update_title "": the tab keeps its title while callbacks run (Dash: "Set to None or ''")
    app = dash.Dash(__name__, title="nanocloak", update_title="", suppress_callback_exceptions=True,
                    assets_folder=str(Path(__file__).with_name("assets")), serve_locally=True)
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES

    @server.before_request
    def _check_host():
        from flask import abort, request

        if allowed_hosts is not None and request.host.lower() not in allowed_hosts:
            abort(403, "this nanocloak app answers only on its local address")

    @server.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        return resp

    def serve_layout():
        doc = backend.example_doc(backend.default_design_key())
        return html.Div([
            dcc.Location(id="url", refresh="callback-nav"),
            dcc.Store(id="sid", data=new_session_id()),
            dcc.Store(id="doc", data=doc),
            dcc.Store(id="result-version", data=0),
            dcc.Store(id="compare-version", data=0),
            dcc.Store(id="design-open", data=None),
            html.Header([
                html.Span("nanocloak", className="brand"),
                html.Nav([dcc.Link(label, href=href, id=f"nav-{href.strip('/')}", className="nav-link") for href, label in PAGES]),
                html.Span(f"v{backend.version()} \u00b7 local", className="muted"),
            ], className="topbar"),
            html.Main([
                html.Div(design.layout(doc), id="page-design"),
                html.Div(results.layout(), id="page-results"),
                html.Div(compare.layout(), id="page-compare"),
                html.Div(make.layout(), id="page-make"),
                html.Div(evidence.layout(), id="page-evidence"),
                html.Div(screen.layout(), id="page-screen"),
                html.Div(labdata.layout(), id="page-lab"),
            ]),
        ])

    app.layout = serve_layout
    page_ids = [href.strip("/") for href, _ in PAGES]

    @app.callback([Output(f"page-{p}", "style") for p in page_ids] + [Output(f"nav-{p}", "className") for p in page_ids],
                  Input("url", "pathname"))
    def route(path):
        current = (path or "/").strip("/") or "design"
        if current not in page_ids:
            current = "design"
        return ([{} if p == current else {"display": "none"} for p in page_ids]
                + ["nav-link active" if p == current else "nav-link" for p in page_ids])

    for page in (design, results, compare, make, evidence, screen, labdata):
        page.register(app, state)
    # for tests and the server's shutdown; Dash declares no such attribute, so mypy is told it is added here
    app._nanocloak_state = state  # type: ignore[attr-defined]
    return app
