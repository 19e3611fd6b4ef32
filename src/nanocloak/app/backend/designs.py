"""The Design page's material: library choices, starting designs (the repository's examples and the
evidence base's published arms), and the formulation contract's verdict on a document."""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from .door import module, package_errors
from .inputs import AppInputError, parse_yaml, search_words
from .studies import evidence_arm_doc, evidence_arms

_TABLE_OF_KIND = {"materials": "materials", "membranes": "membranes", "ligands": "ligands", "drugs": "drugs",
                  "cell_lines": "cell_lines", "cancer_types": "cancer_types", "coating_methods": "coating_methods",
                  "species": "species"}

#: used when neither examples/ nor the evidence base can be read (a copy of examples/rbc_plga.yaml)
FALLBACK_DESIGN = {
    "nanocloak": 1, "name": "RBC-PLGA-DOX",
    "core": {"material": "plga", "diameter_nm": 70},
    "surface": {"kind": "membrane", "membrane": {"sources": [{"cell": "rbc", "donor": "syngeneic"}],
                                                 "method": "coextrusion"}},
    "payloads": [{"drug": "doxorubicin", "loading_wt_pct": 5,
                  "release": {"model": "first_order", "params": {"k_per_h": 0.02},
                              "triggers": [{"kind": "ph", "threshold": 6.8, "factor": 3.0}]}}],
    "dose": {"basis": "particle", "mg_per_kg": 5, "times_h": [0]},
    "subject": {"species": "mouse", "body_weight_g": 20,
                "tumor": {"line": "4T1", "type": "breast", "site": "subcutaneous", "model": "allograft", "volume_mm3": 100}},
    "simulate": {"end_h": 168},
}


# ---------------------------------------------------------------------------------------------
# library choices
# ---------------------------------------------------------------------------------------------
def _label(kind: str, key: str, entry: Any) -> str:
    entry = entry if isinstance(entry, dict) else {}
    if kind == "cell_lines":
        return f"{key} ({entry.get('species', '?')} {str(entry.get('cancer_type', '')).replace('_', ' ')})"
    if kind == "species":
        return key
    return f"{key}: {entry.get('label')}" if entry.get("label") else key


@lru_cache(maxsize=None)
def choices(kind: str) -> tuple[tuple[str, str], ...]:
    """(value, label) pairs for a dropdown, from the package's libraries."""
    if kind == "release_models":
        return tuple((m["key"], f"{m['key']}: " + ", ".join(f"{p['name']} ({p['unit']})" for p in m["params"]))
                     for m in _release_models())
    entries = module("library").entries(_TABLE_OF_KIND[kind])
    return tuple((key, _label(kind, key, entry)) for key, entry in entries.items())


@lru_cache(maxsize=1)
def _release_models() -> tuple[dict, ...]:
    return tuple(module("listing").entries_json("release-models"))


def release_parameters(model: str | None) -> list[dict]:
    """[{name, unit, lower, upper}] of a release model (case-insensitive), [] if unknown."""
    if not model:
        return []
    wanted = str(model).strip().lower()
    for m in _release_models():
        if m["key"].lower() == wanted:
            return list(m["params"])
    return []


# ---------------------------------------------------------------------------------------------
# starting designs
# ---------------------------------------------------------------------------------------------
def examples_dir() -> Path | None:
    """The repository's examples/ folder (present in a source checkout, not in an installed wheel)."""
    here = Path(__file__).resolve()
    for parent in here.parents[1:6]:
        candidate = parent / "examples"
        if (candidate / "rbc_plga.yaml").is_file():
            return candidate
    return None


@lru_cache(maxsize=1)
def example_designs() -> tuple[tuple[str, str], ...]:
    """(key, label) of the starting designs: examples/*.yaml, then every simulable arm of the
    evidence base (published cases). Keys are short ('example:rbc_plga', 'ev:12'): the page's
    dropdowns index every substring of each option."""
    out: list[tuple[str, str]] = []
    ex = examples_dir()
    if ex is not None:
        for p in sorted(ex.glob("*.yaml")):
            out.append((f"example:{p.stem}", f"example: {p.stem}"))
    for i, (study_id, arm, label) in enumerate(evidence_arms()):
        out.append((f"ev:{i}", f"published: {study_id} / {arm}" + (f" ({label})" if label else "")))
    if not out:
        out.append(("builtin:rbc_plga", "built-in: RBC-PLGA-DOX"))
    return tuple(out)


def example_search(key: str) -> str:
    """A short text a dropdown searches for a starting design (its file stem, or study and arm)."""
    kind, _, rest = key.partition(":")
    if kind == "ev":
        study_id, arm, _ = evidence_arms()[int(rest)]
        rest = f"{study_id} {arm}"
    return search_words(rest)


def default_design_key() -> str:
    keys = [k for k, _ in example_designs()]
    return "example:rbc_plga" if "example:rbc_plga" in keys else keys[0]


def example_doc(key: str) -> dict:
    """The document of a starting design, by its key from example_designs() (never a path)."""
    known = dict(example_designs())
    if key not in known and key != "builtin:rbc_plga":
        raise AppInputError(f"unknown example {key!r}")
    kind, _, rest = key.partition(":")
    if kind == "example":
        ex = examples_dir()
        path = ex / f"{rest}.yaml" if ex is not None else None
        if path is None or not path.is_file():
            raise AppInputError(f"example {rest!r} is not available")
        return parse_yaml(path.read_text(encoding="utf-8"), f"{rest}.yaml")
    if kind == "ev":
        study_id, arm, _ = evidence_arms()[int(rest)]
        return evidence_arm_doc(study_id, arm)
    return copy.deepcopy(FALLBACK_DESIGN)


def example_file(name: str) -> Path | None:
    """A file of examples/ by a name the app chose (lab data, spaces); None when absent."""
    ex = examples_dir()
    if ex is None or not re.fullmatch(r"[A-Za-z0-9_./-]+", name) or ".." in name:
        return None
    p = (ex / name).resolve()
    return p if p.is_file() and ex.resolve() in p.parents else None


# ---------------------------------------------------------------------------------------------
# the formulation contract
# ---------------------------------------------------------------------------------------------
def validate(doc: Any) -> tuple[Any, list[tuple[str, str]]]:
    """(Formulation or None, [(path, message)]) by the package's contract (nanocloak.spec.formulation)."""
    from_dict = module("formulation").from_dict
    formulation_error, nanocloak_error = package_errors()
    try:
        return from_dict(doc), []
    except formulation_error as exc:
        return None, [(p.path, p.message) for p in exc.problems]
    except nanocloak_error as exc:
        return None, [("", str(exc))]


def warnings_of(f) -> list[tuple[str, str]]:
    """Plausibility warnings (atypical but allowed values), as the CLI prints them."""
    check = getattr(module("formulation"), "plausibility_warnings", None)
    return [] if check is None else [(p.path, p.message) for p in check(f)]
