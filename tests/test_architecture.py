"""The house rules of the package (issue 12), checked on the source: a tree that reads as the model,
small modules and functions, no private names across modules, imports that run one way."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import ROOT

PKG = ROOT / "src" / "nanocloak"
MODULES = sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
MAX_TOP_LEVEL_MODULES = 12
# which layer may import which (higher imports lower; LAYOUT.md): a module's layer is its subpackage
LAYERS = {
    "cli": 6, "app": 6, "cli_app": 6,
    "screen": 5, "inference": 5, "evidence": 5, "io": 5, "lab": 5,
    "simulation": 4,
    # the simulation layer asks the tumor-delivery predictor and hands its parameters down to the
    # model (LAYOUT.md); learn itself builds only on the surface, spec and library layers
    "learn": 3.5,
    "model": 3,
    "surface": 2, "body": 2, "solvers": 2,
    "spec": 1,
    "library": 0, "errors": -1, "version": -1, "__init__": 7,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["nanocloak", *parts])


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names, line) of every nanocloak import in the file, top level or lazy."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nanocloak"):
            found.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("nanocloak")]
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1] if len(parts) > 1 else "__init__", 7)


def test_at_most_twelve_modules_directly_under_the_package():
    top = [p for p in PKG.glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, sorted(p.name for p in top)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_modules_are_small(path):
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_functions_are_small(path):
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_private_name_is_imported_from_another_module(path):
    private = [(mod, n, line) for mod, names, line in imports_of(path) for n in names
               if n.startswith("_") and not n.startswith("__")]
    assert not private


def test_imports_run_one_way_and_the_solvers_know_no_model():
    upward = []
    for path in MODULES:
        me = module_name(path)
        for mod, _, line in imports_of(path):
            if mod.split(".")[:2] == me.split(".")[:2]:
                continue                                   # within one subpackage
            if layer(mod) > layer(me):
                upward.append(f"{me}:{line} imports {mod}")
    assert not upward, "\n".join(upward)


def test_no_import_circle_between_modules():
    graph = defaultdict(set)
    names = {module_name(p) for p in MODULES}
    for path in MODULES:
        me = module_name(path)
        for mod, imported, _ in imports_of(path):
            targets = [f"{mod}.{n}" for n in imported if f"{mod}.{n}" in names] or [mod]
            graph[me].update(t for t in targets if t in names and t != me)
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if not nxt.endswith("__init__"):
                visit(nxt)
        stack.pop()

    for n in sorted(graph):
        visit(n)
    # a package's __init__ re-exporting its modules is not a circle of modules
    real = [c for c in cycles if not any(m.count(".") == 1 and m in {mod.rsplit(".", 1)[0] for mod in c} for m in c)]
    assert not real, real[:3]
