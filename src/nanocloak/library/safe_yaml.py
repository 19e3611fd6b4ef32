"""Reading user YAML files strictly: duplicate keys, deep nesting, huge files and bad encodings are
clear errors naming the file and line, never a silent last-key-wins or a RecursionError.

PyYAML's SafeLoader accepts duplicate keys (the last wins) and recurses once per nesting level;
a subclass that checks both is the smallest fix (no maintained library does only this).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nanocloak.errors import NanocloakError

MAX_FILE_BYTES = 2_000_000     # a formulation or space file is a few kB; a multi-MB file is a mistake
MAX_DEPTH = 32                 # the deepest contract path is < 10 levels


class YamlError(NanocloakError):
    """A file that is not readable, well-formed YAML within the limits."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys and nesting deeper than MAX_DEPTH."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"nesting deeper than {MAX_DEPTH} levels (a formulation needs fewer than 10)", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain value",
                                                        key_node.start_mark) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key].line + 1}); each key may appear once",
                    key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


def loads(text: str, source: str = "") -> Any:
    """Parse YAML text strictly (see the module doc)."""
    where = f"{source}: " if source else ""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise YamlError(f"{where}larger than {MAX_FILE_BYTES // 1_000_000} MB: not a nanocloak file")
    text = text.lstrip("\ufeff")   # a byte-order mark some editors write
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(f"{where}not valid YAML ({at}{problem})") from None
    except RecursionError:
        raise YamlError(f"{where}nesting too deep (more than {MAX_DEPTH} levels)") from None


def load_file(path: str | Path) -> Any:
    """Read and parse a YAML file strictly, with clear errors for missing, huge or non-text files."""
    p = Path(path)
    if not p.exists():
        raise YamlError(f"file not found: {p}")
    if p.is_dir():
        raise YamlError(f"{p} is a folder, not a file")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise YamlError(f"{p}: {size / 1e6:.1f} MB is larger than {MAX_FILE_BYTES // 1_000_000} MB: not a nanocloak file")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"{p}: not a UTF-8 text file (byte {exc.start}); save it as UTF-8") from None
    return loads(text, str(p))
