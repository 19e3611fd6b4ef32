"""Calibrations: the calibrated constants of the model, each calibration with an id.

A calibration file (data/calibration.yaml is the package default; earlier ones are kept in
data/calibrations/) holds `id` and `values`. A value is either a constant of the model's own
(`mps_uptake_scale`) or a table constant named by its path (`surface_effects.peg.mw_exponent`,
`membranes.rbc.phagocytic_uptake_factor`): a calibration replaces the table's value for every
simulation run under it. `model.calibration: ID` (an id in the package, or the path of a
calibration file that `nanocloak calibrate evidence --out FILE` wrote) runs a formulation under an
older or another calibration; every result names the calibration it used.

Kept apart from calibrate.py so the model can read calibrations without importing the fitting code.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

from nanocloak.errors import NanocloakError
from nanocloak.library.tables import Sourced, sourced


class CalibrationError(NanocloakError):
    """A calibration id or file that does not exist or is not a calibration."""


@lru_cache(maxsize=1)
def _package_dir() -> Path:
    """The package's data folder (fixed for the process: importlib.resources costs ~0.2 ms a call)."""
    return Path(str(resources.files("nanocloak").joinpath("data")))


@lru_cache(maxsize=1)
def _default_path() -> str:
    return str(_package_dir() / "calibration.yaml")


@lru_cache(maxsize=1)
def _package_calibrations() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in [_package_dir() / "calibration.yaml", *sorted((_package_dir() / "calibrations").glob("*.yaml"))]:
        if p.is_file():
            found.setdefault(str(_read(str(p), p.stat().st_mtime_ns).get("id", p.stem)), p)
    return found


@lru_cache(maxsize=32)
def _read(path: str, mtime_ns: int) -> dict:
    from nanocloak.library.safe_yaml import load_file

    doc = load_file(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("values"), dict):
        raise CalibrationError(f"{path}: not a nanocloak calibration (needs `id` and `values`)")
    return doc


def table(calibration: str | None = None) -> dict:
    """The calibration `calibration` (an id or a file path; None = the package default)."""
    if calibration is None:          # the default, read on every parameter look-up: no pathlib on this path
        default = _default_path()
        return _read(default, os.stat(default).st_mtime_ns)
    known = _package_calibrations()
    if calibration in known:
        path = known[calibration]
    elif os.path.sep in calibration or calibration.endswith((".yaml", ".yml")):
        path = Path(calibration)
        if not path.is_file():
            raise CalibrationError(f"model.calibration: {calibration}: no such calibration file")
    else:
        raise CalibrationError(f"model.calibration: {calibration!r} is not a known calibration; known: "
                               f"{', '.join(sorted(known))} (or the path of a calibration file)")
    return _read(str(path), path.stat().st_mtime_ns)


def calibration_id(calibration: str | None = None) -> str:
    return str(table(calibration).get("id", "default"))


def entry(name: str, calibration: str | None = None) -> Sourced:
    return sourced(table(calibration)["values"][name], f"calibration.{name}")


def value(name: str, calibration: str | None = None) -> float:
    return entry(name, calibration).value


def table_value(path: str, node, calibration: str | None = None) -> Sourced:
    """A table constant (`path` = table.key.key...) as the calibration has it, else as the table has it."""
    values = table(calibration)["values"]
    if path in values:
        return sourced(values[path], f"calibration.{path}")
    return sourced(node, path)


def clear_cache() -> None:
    _read.cache_clear()
    _package_calibrations.cache_clear()
