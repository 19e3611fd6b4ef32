"""Field paths of a formulation as a space file writes them ("surface.membrane.sources[0].cell"):
parsing, checking against the formulation contract, and setting a value in a formulation dict."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from nanocloak.errors import did_you_mean
from nanocloak.screen.errors import SpaceError

# ---------------------------------------------------------------------------------------------
# paths into a formulation
# ---------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """'treatment.lasers[0].at_h' -> ['treatment', 'lasers', 0, 'at_h']."""
    tokens: list[str | int] = []
    pos = 0
    text = path.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or (pos == 0 and text.startswith(".")):
            raise SpaceError(f"vary[{path}]: not a field path (use dotted names and [i] for list items, "
                             "e.g. core.diameter_nm or treatment.lasers[0].at_h)")
        tokens.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not tokens:
        raise SpaceError("vary: an empty field path")
    return tokens


def unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] to the type that carries the structure."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def resolve_path(path: str) -> tuple[list[str | int], Any]:
    """Check a path against the formulation schema; returns its tokens (a dict field such as
    model.overrides takes the rest of the path as one key, so parameter names may hold dots)
    and the leaf type."""
    from nanocloak.spec.formulation import Formulation

    raw = parse_path(path)
    tokens: list[str | int] = []
    current: Any = Formulation
    i = 0
    while i < len(raw):
        tok = raw[i]
        t = unwrap(current)
        here = render_path(tokens) or "the formulation"
        if typing.get_origin(t) is dict:
            rest = raw[i:]
            if any(isinstance(x, int) for x in rest):
                raise SpaceError(f"vary[{path}]: {here} maps names to numbers; give the name after the dot")
            tokens.append(".".join(str(x) for x in rest))
            return tokens, unwrap(typing.get_args(t)[1])
        if isinstance(tok, int):
            if typing.get_origin(t) is not list:
                raise SpaceError(f"vary[{path}]: {here} is not a list, so [{tok}] does not apply")
            current = typing.get_args(t)[0]
        else:
            fields = getattr(t, "model_fields", None)
            if typing.get_origin(t) is list:
                raise SpaceError(f"vary[{path}]: {here} is a list; name an item with [i] (e.g. {here}[0].{tok})")
            if fields is None:
                raise SpaceError(f"vary[{path}]: {here} is a value; it has no field {tok!r}")
            if tok not in fields:
                allowed = list(fields)
                raise SpaceError(f"vary[{path}]: {here} has no field {tok!r}{did_you_mean(tok, allowed)}; "
                                 f"allowed: {', '.join(allowed)}")
            current = fields[tok].annotation
        tokens.append(tok)
        i += 1
    return tokens, unwrap(current)


def render_path(tokens: list[str | int]) -> str:
    out = ""
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else (f".{t}" if out else t)
    return out


def copy_tree(node: Any) -> Any:
    """Copy of plain YAML data (dicts, lists, scalars); copy.deepcopy's memo bookkeeping cost a
    tenth of a design's whole simulation in screens."""
    if isinstance(node, dict):
        return {k: copy_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [copy_tree(v) for v in node]
    return node


def set_path(doc: dict, tokens: list[str | int], value: Any) -> None:
    """Set doc at tokens, creating missing mappings (never list items: those must exist in the base)."""
    node: Any = doc
    for k, tok in enumerate(tokens[:-1]):
        nxt = tokens[k + 1]
        if isinstance(tok, int):
            if not isinstance(node, list) or tok >= len(node):
                have = len(node) if isinstance(node, list) else 0
                raise SpaceError(f"the base has no {render_path(tokens[:k + 1])} (it lists {have} item(s)); "
                                 "add the item to the base formulation")
            node = node[tok]
        else:
            if node.get(tok) is None:
                node[tok] = [] if isinstance(nxt, int) else {}
            node = node[tok]
    last = tokens[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise SpaceError(f"the base has no {render_path(tokens)}; add the item to the base formulation")
    node[last] = value


