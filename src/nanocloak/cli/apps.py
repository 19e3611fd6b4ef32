"""The typer applications the command modules add their commands to (main.py assembles them)."""

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Design and simulate cell-membrane-cloaked nanomedicines.")
calibrate_app = typer.Typer(no_args_is_help=True, help="Re-run the documented calibrations (docs/calibration.md).")
app.add_typer(calibrate_app, name="calibrate")
release_app = typer.Typer(no_args_is_help=True, help="Release kinetics: fit lab data, compare profiles, predict release.")
app.add_typer(release_app, name="release")
