"""The typer applications the command modules add their commands to (main.py assembles them)."""

from typing import Any

import typer

# rich_markup_mode=None: click's plain help. Typer's rich help imports rich.markdown and markdown-it
# (~0.2 s CPU), which alone would break the `nanocloak --help` <= 0.5 s CPU target (issue 12).
PLAIN_HELP: dict[str, Any] = {"rich_markup_mode": None}   # Any: unpacked into typer.Typer's keyword arguments

app = typer.Typer(**PLAIN_HELP, add_completion=False, no_args_is_help=True,
                  help="Design and simulate cell-membrane-cloaked nanomedicines.")
calibrate_app = typer.Typer(**PLAIN_HELP, no_args_is_help=True, help="Re-run the documented calibrations (docs/calibration.md).")
app.add_typer(calibrate_app, name="calibrate")
release_app = typer.Typer(**PLAIN_HELP, no_args_is_help=True,
                          help="Release kinetics: fit lab data, compare profiles, predict release.")
app.add_typer(release_app, name="release")
