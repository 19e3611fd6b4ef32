"""The `nanocloak` command line (typer + rich). Results go to stdout, progress and messages to stderr;
a user error exits with status 2 and one clear message, never a traceback. The commands live in
one module per group (simulate, make, release, lab, fit, learn, screen, evidence); this module
assembles them."""

from __future__ import annotations

import importlib
import sys

from nanocloak.cli.apps import app, calibrate_app
from nanocloak.cli.common import err

COMMAND_MODULES = ("simulate", "make", "release")       # commands defined on the shared apps
GROUP_MODULES = ("lab", "screen", "fit", "learn", "export")   # modules with register(app)


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"nanocloak.cli.{name}")
    for name in GROUP_MODULES:
        importlib.import_module(f"nanocloak.cli.{name}").register(app)
    importlib.import_module("nanocloak.cli.evidence").register(app, calibrate_app)
    try:
        importlib.import_module("nanocloak.cli_app").register(app)   # the browser workbench, when present
    except ModuleNotFoundError:
        pass


_register()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
