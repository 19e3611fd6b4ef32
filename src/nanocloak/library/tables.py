"""Access to the sourced data tables in `nanocloak/data/` (physiology, materials, membranes ...).

Every number in a table is a mapping {value, source[, note]} (see data/README.md); this module
reads the YAML files once, checks that rule, and offers case-insensitive look-ups by key or alias.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator

import yaml

from nanocloak.errors import NanocloakError

TABLES = (
    "species", "vascular_beds", "materials", "membranes", "ligands", "coating_methods",
    "immunology", "cell_lines", "tumor", "drugs", "surface_effects", "environment", "therapy", "fabrication",
    "physiology_variability", "fit_priors", "cancer_types", "parameter_ranges", "imaging", "routes",
    "reference_values", "metastasis", "magnetic", "dose_conversion",
    "immune",
)


@dataclass(frozen=True)
class Sourced:
    """A number with its provenance."""

    value: float
    source: str
    note: str = ""


class LibraryError(NanocloakError, LookupError):
    """A key that is not in a library; the message lists what is."""


#: libyaml's C parser where PyYAML has it (~10x the pure-Python one)
FAST_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=None)
def table(name: str) -> Any:
    """The parsed YAML table `name` (cached)."""
    if name not in TABLES:
        raise LibraryError(f"unknown data table {name!r}; tables: {', '.join(TABLES)}")
    text = resources.files("nanocloak").joinpath("data", f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=FAST_SAFE_LOADER) or {}


_SOURCED: dict[int, tuple[Any, Sourced]] = {}


def sourced(node: Any, where: str = "") -> Sourced:
    """Read a {value, source} mapping; raises ValueError naming `where` if it is not one."""
    cached = _SOURCED.get(id(node))
    if cached is not None and cached[0] is node:  # tables are read once and never mutated
        return cached[1]
    result = _read_sourced(node, where)
    _SOURCED[id(node)] = (node, result)
    return result


def _read_sourced(node: Any, where: str) -> Sourced:
    if not isinstance(node, dict) or "value" not in node or not node.get("source"):
        raise ValueError(f"{where}: expected a mapping with 'value' and 'source', got {node!r}")
    value = node["value"]
    if isinstance(value, str) and value.strip().lower() in {".inf", "inf", "infinity"}:
        value = math.inf
    if value is None:
        value = math.nan
    return Sourced(float(value), str(node["source"]), str(node.get("note") or ""))


def value(node: Any, where: str = "") -> float:
    return sourced(node, where).value


def normalise_key(key: str) -> str:
    """Library keys compare case-insensitively and ignore '-', '_', ' ' (MCF-7 == mcf7)."""
    return "".join(ch for ch in str(key).lower() if ch.isalnum())


@lru_cache(maxsize=None)
def entries(name: str) -> dict[str, Any]:
    """The keyed entries of a table (top-level keys starting with '_' are metadata); do not mutate."""
    data = table(name)
    return {k: v for k, v in data.items() if not str(k).startswith("_")} if isinstance(data, dict) else {}


@lru_cache(maxsize=4096)
def resolve_key(name: str, key: str, kind: str | None = None) -> str:
    """The canonical key of `key` in table `name` (case-insensitive, aliases honoured)."""
    wanted = normalise_key(key)
    items = entries(name)
    for canonical, entry in items.items():
        aliases = entry.get("aliases", []) if isinstance(entry, dict) else []
        if wanted == normalise_key(canonical) or wanted in {normalise_key(a) for a in aliases}:
            return canonical
    known = sorted(items)
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise LibraryError(f"{key!r} is not a known {kind or name} key{hint}; known: {', '.join(known)}")


def entry(name: str, key: str, kind: str | None = None) -> dict[str, Any]:
    return entries(name)[resolve_key(name, key, kind)]


def iter_sourced(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Walk a table, yielding (path, leaf) for every number found outside a {value, source} node.

    Used by the tests that enforce the data rule: a bare number anywhere is a defect.
    """
    if isinstance(node, dict):
        if "value" in node:
            yield path, node
            return
        for k, v in node.items():
            yield from iter_sourced(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from iter_sourced(v, f"{path}[{i}]")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, node
