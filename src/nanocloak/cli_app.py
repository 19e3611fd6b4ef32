"""`nanocloak app [--host 127.0.0.1] [--port 8050]`: the workbench in the browser (docs/app.md)."""

from __future__ import annotations

import sys

import typer

APP_EXTRA_HINT = "the app needs its extra: pip install 'nanocloak[app]' (dash, plotly, waitress)"


def register(app: typer.Typer) -> None:
    app.command("app")(app_command)


def app_command(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default: this machine only; any other "
                             "address is reachable by others, with no login)"),
    port: int = typer.Option(8050, "--port", min=1, max=65535, help="port"),
    open_browser: bool = typer.Option(False, "--open", help="open the page in the default browser"),
):
    """Start the local web app: design, simulate, compare, make, evidence, screen, lab data."""
    missing = missing_dependencies()
    if missing:
        print(f"nanocloak app: {', '.join(missing)} not installed; {APP_EXTRA_HINT}", file=sys.stderr)
        raise typer.Exit(2)
    from .app.server import serve

    serve(host, port, open_browser)


def missing_dependencies() -> list[str]:
    import importlib.util

    return [m for m in ("dash", "plotly") if importlib.util.find_spec(m) is None]
