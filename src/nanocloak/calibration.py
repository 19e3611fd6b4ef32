"""Calibrated constants (data/calibration.yaml), written by `nanocloak calibrate` (see calibrate.py).

Kept apart from calibrate.py so the model can read them without importing the fitting code.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

from .library import Sourced, sourced


@lru_cache(maxsize=1)
def _table() -> dict:
    text = resources.files("nanocloak").joinpath("data", "calibration.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def entry(name: str) -> Sourced:
    return sourced(_table()["values"][name], f"calibration.{name}")


def value(name: str) -> float:
    return entry(name).value


def clear_cache() -> None:
    _table.cache_clear()
