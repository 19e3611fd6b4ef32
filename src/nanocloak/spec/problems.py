"""Turning pydantic's validation errors into one Problem per error: the field path as the file
writes it, and what is allowed there."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from nanocloak.errors import Problem, did_you_mean


def _error_path(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif isinstance(item, str) and (item.startswith("function-") or item in {"literal", "float", "int"}
                                        or item.startswith("literal[") or "[" in item and item.endswith("]")):
            continue  # pydantic's internal union/type tags are not field names
        else:
            parts.append(str(item))
    return ".".join(parts)


def _allowed_fields(loc: tuple, root: Any) -> list[str]:
    """Field names of the block holding loc[-1], searched from the validated model `root`."""
    model: Any = root
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        field = getattr(model, "model_fields", {}).get(item)
        if field is None:
            return []
        model = _inner_model(field.annotation)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _inner_model(annotation: Any):
    import typing

    stack = [annotation]
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
        stack.extend(typing.get_args(a))
    return None


def problems_from(exc: ValidationError, root: Any) -> list[Problem]:
    """One Problem per pydantic error; `root` is the model class validated (Formulation, SpaceFile ...)."""
    problems = []
    for err in exc.errors():
        loc = err.get("loc", ())
        path = _error_path(loc)
        kind = err.get("type", "")
        msg = str(err.get("msg", ""))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if kind == "extra_forbidden":
            allowed = _allowed_fields(loc, root)
            name = str(loc[-1]) if loc else ""
            msg = f"unknown field{did_you_mean(name, allowed)}" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
            if any(name.endswith(suf) for suf in ("_um", "_mm", "_s", "_min", "_kg", "_mg", "_d", "_days")):
                msg += " (units are part of field names; use the unit the spec names)"
        elif kind == "missing":
            msg = "required field is missing"
        elif kind in ("literal_error", "enum"):
            msg = f"{msg} (got {err.get('input')!r})"
        elif kind.endswith("_parsing") or kind.endswith("_type"):
            msg = f"{msg} (got {err.get('input')!r})"
        problems.append(Problem(path, msg))
    return problems


